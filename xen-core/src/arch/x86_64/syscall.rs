//! The `syscall` MSRs: every guest `syscall` enters xen-core at `syscall_entry`.

use super::cpu::{MSR_CSTAR, MSR_FMASK, MSR_LSTAR, MSR_STAR, wrmsr};
use super::entry::{syscall_entry, syscall32_entry};
use super::gdt::HYPERVISOR_CS;
use hypercall_abi::segment::FLAT_RING3_CS32;

/// RFLAGS bits cleared on entry: TF, IF, DF, NT, AC (interrupts stay off in xen-core).
const FMASK: u64 = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 14) | (1 << 18);

/// Programs STAR/LSTAR/FMASK. SYSRET then loads CS = 0xe023 + 16 = 0xe033 and
/// SS = 0xe023 + 8 = 0xe02b, Xen's flat ring-3 selectors.
pub fn init() {
    // SAFETY: these MSRs exist on every x86_64 CPU (EFER.SCE was set at boot); the entry point
    // and selectors are xen-core's own.
    unsafe {
        wrmsr(
            MSR_STAR,
            (u64::from(FLAT_RING3_CS32) << 48) | (u64::from(HYPERVISOR_CS) << 32),
        );
        wrmsr(MSR_LSTAR, syscall_entry as *const () as u64);
        wrmsr(MSR_CSTAR, syscall32_entry as *const () as u64);
        wrmsr(MSR_FMASK, FMASK);
    }
}
