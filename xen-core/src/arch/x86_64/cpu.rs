//! Single instructions on CPU state: control registers, MSRs, CPUID, TLB, halting.

use core::arch::asm;

/// IA32_STAR: syscall/sysret selectors.
pub const MSR_STAR: u32 = 0xC000_0081;
/// IA32_LSTAR: 64-bit syscall entry.
pub const MSR_LSTAR: u32 = 0xC000_0082;
/// IA32_CSTAR: compat-mode syscall entry.
pub const MSR_CSTAR: u32 = 0xC000_0083;
/// IA32_FMASK: RFLAGS bits cleared on syscall.
pub const MSR_FMASK: u32 = 0xC000_0084;
/// IA32_FS_BASE.
pub const MSR_FS_BASE: u32 = 0xC000_0100;
/// IA32_GS_BASE (the active GS base).
pub const MSR_GS_BASE: u32 = 0xC000_0101;
/// IA32_KERNEL_GS_BASE (the one `swapgs` exchanges with).
pub const MSR_SHADOW_GS_BASE: u32 = 0xC000_0102;

/// Reads a model-specific register.
///
/// # Safety
/// `msr` must exist on this CPU (reading an unknown MSR raises #GP in xen-core).
pub unsafe fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: the caller guarantees the MSR exists; rdmsr has no memory effects.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Writes a model-specific register.
///
/// # Safety
/// `msr` must exist and `value` must be valid for it; the write must not break invariants
/// xen-core relies on (entry points, segment bases it uses).
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller guarantees the MSR and value are valid and harmless to xen-core.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32, options(nostack, preserves_flags))
    };
}

/// CR0.
pub fn read_cr0() -> u64 {
    let v: u64;
    // SAFETY: reading CR0 has no side effects at CPL 0.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Takes the CPU's DR6 (what the last #DB reported) and resets it to `reset`, since the CPU
/// never clears DR6's status bits itself.
pub fn take_dr6(reset: u64) -> u64 {
    let v: u64;
    // SAFETY: DR6 only reports debug status; reading it and writing back a value with its
    // reserved bits as the CPU wants them has no other effect at CPL 0.
    unsafe {
        asm!("mov {}, dr6", "mov dr6, {}", out(reg) v, in(reg) reset, options(nomem, nostack, preserves_flags))
    };
    v
}

/// The faulting address of the last page fault.
pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects at CPL 0.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// The current page-table root.
pub fn read_cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effects at CPL 0.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Switches to the page tables rooted at machine address `root`.
///
/// # Safety
/// `root` must be a valid L4 table that maps xen-core (slots 256-271) like every other one.
pub unsafe fn write_cr3(root: u64) {
    // SAFETY: the caller guarantees the new tables map the hypervisor identically.
    unsafe { asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) };
}

/// Reads CR4.
pub fn read_cr4() -> u64 {
    let v: u64;
    // SAFETY: reading CR4 has no side effects.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Writes CR4.
///
/// # Safety
/// Only features the CPU has may be enabled, and none that breaks xen-core's own code
/// (SMAP, for example, would fault its guest copies).
pub unsafe fn write_cr4(v: u64) {
    // SAFETY: the caller guarantees the bits are supported and safe for xen-core.
    unsafe { asm!("mov cr4, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// Flushes the TLB entry of `va` in the current address space.
pub fn invlpg(va: u64) {
    // SAFETY: invlpg only drops a cached translation; it cannot break memory safety.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
}

/// Flushes all non-global TLB entries by reloading CR3.
pub fn flush_tlb() {
    // SAFETY: reloading the current CR3 keeps the same address space.
    unsafe { write_cr3(read_cr3()) };
}

/// Flushes every TLB entry, global ones included, by toggling CR4.PGE.
pub fn flush_tlb_global() {
    const PGE: u64 = 1 << 7;
    let cr4 = read_cr4();
    if cr4 & PGE == 0 {
        flush_tlb();
        return;
    }
    // SAFETY: clearing and restoring PGE only changes which translations are cached; both
    // values were valid CR4 contents a moment ago.
    unsafe {
        write_cr4(cr4 & !PGE);
        write_cr4(cr4);
    }
}

/// Writes back and invalidates the caches (MMUEXT_FLUSH_CACHE).
pub fn wbinvd() {
    // SAFETY: wbinvd only writes dirty lines back; memory contents stay the same.
    unsafe { asm!("wbinvd", options(nostack, preserves_flags)) };
}

/// Executes CPUID.
pub fn cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: CPUID has no side effects; rbx is saved because LLVM reserves it.
    unsafe {
        asm!(
            "mov {tmp:r}, rbx",
            "cpuid",
            "xchg {tmp:r}, rbx",
            tmp = out(reg) b,
            inout("eax") leaf => a,
            inout("ecx") subleaf => c,
            out("edx") d,
            options(nomem, nostack, preserves_flags)
        )
    };
    [a, b, c, d]
}

/// Exchanges the active and shadow GS bases (a guest kernel/user mode switch).
pub fn swapgs() {
    // SAFETY: xen-core never uses GS itself, so only guest-visible bases move.
    unsafe { asm!("swapgs", options(nomem, nostack, preserves_flags)) };
}

/// Stops this CPU for good.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: with interrupts off, hlt only waits; NMIs return here.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
