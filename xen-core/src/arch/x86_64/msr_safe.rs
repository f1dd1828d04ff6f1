//! MSRs on a guest's behalf: `rdmsr` with a fault fixup (for MSRs a guest names), TSC_AUX.
//!
//! A #GP at the `rdmsr` below is recovered like a faulting guest copy: the exception path asks
//! [`fixup_for`] and resumes at the fixup, which reports the failure.

use core::arch::global_asm;

use super::cpu::wrmsr;

/// TSC_AUX.
const MSR_TSC_AUX: u32 = 0xc000_0103;

global_asm!(
    r#"
    .section .text.msr_safe, "ax"
    .global msr_safe_read
    .balign 16
msr_safe_read:
    mov ecx, edi
    .global msr_safe_read_insn
msr_safe_read_insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov [rsi], rax
    xor eax, eax
    ret
    .global msr_safe_read_fixup
msr_safe_read_fixup:
    mov eax, 1
    ret
"#
);

unsafe extern "C" {
    fn msr_safe_read(msr: u32, out: *mut u64) -> u32;
    fn msr_safe_read_insn();
    fn msr_safe_read_fixup();
}

/// Where to resume after a fault at `rip` in xen-core, if the fault is [`rdmsr_safe`]'s.
pub fn fixup_for(rip: u64) -> Option<u64> {
    (rip == msr_safe_read_insn as *const () as u64)
        .then_some(msr_safe_read_fixup as *const () as u64)
}

/// Reads `msr`, or `None` if the CPU raises #GP for it. Reading an MSR has no side effect on
/// the MSRs xen-core relies on.
pub fn rdmsr_safe(msr: u32) -> Option<u64> {
    let mut value = 0u64;
    // SAFETY: `value` is a valid u64 to write; a #GP at the rdmsr is recovered through
    // `fixup_for` (the exception path resumes at the fixup, which returns 1); RDMSR itself only
    // reads state.
    let failed = unsafe { msr_safe_read(msr, &mut value) };
    (failed == 0).then_some(value)
}

/// Sets TSC_AUX, which `rdtscp` and `rdpid` return to the guest. The caller checks that the
/// CPU has it.
pub fn write_tsc_aux(value: u32) {
    // SAFETY: TSC_AUX exists when the CPU has rdtscp or rdpid (the caller's check), takes any
    // 32-bit value, and xen-core itself never reads it.
    unsafe { wrmsr(MSR_TSC_AUX, u64::from(value)) };
}
