//! The FPU/SSE unit: CR0/CR4 set-up, CR0.TS, and saving and loading a vCPU's registers.
//!
//! xen-core is built without SSE or x87 code (`x86_64-unknown-none` is soft-float), so the
//! registers in the CPU always belong to the running vCPU: hypercalls, bounces and guest
//! user/kernel switches leave them alone. A context switch moves them with [`save`] and
//! [`load`] (eagerly, the simplest correct scheme); CR0.TS is set only while the running vCPU's
//! virtual TS is.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use xen_core::vcpu::{FXSAVE_SIZE, FpuState, FxsaveArea};

/// CR0.MP: WAIT/FWAIT obey TS.
const CR0_MP: u64 = 1 << 1;
/// CR0.EM: no FPU (x87 instructions raise #UD).
const CR0_EM: u64 = 1 << 2;
/// CR0.TS: the next FPU/SSE instruction raises #NM.
const CR0_TS: u64 = 1 << 3;
/// CR0.NE: x87 errors raise #MF instead of the legacy IRQ 13.
const CR0_NE: u64 = 1 << 5;
/// CR4.OSFXSR: FXSAVE/FXRSTOR and SSE instructions enabled.
const CR4_OSFXSR: u64 = 1 << 9;
/// CR4.OSXMMEXCPT: SIMD exceptions raise #XM.
const CR4_OSXMMEXCPT: u64 = 1 << 10;

fn read_cr0() -> u64 {
    let v: u64;
    // SAFETY: reading CR0 has no side effects at CPL 0.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Sets up the FPU for guests: native x87 error reporting, SSE with FXSAVE, and the reset state
/// (FNINIT, default MXCSR) in the registers, which is also what a new vCPU's [`FpuState`]
/// holds. Called once at boot, before any guest runs.
pub fn init() {
    let cr0 = (read_cr0() | CR0_MP | CR0_NE) & !(CR0_EM | CR0_TS);
    let cr4 = super::cpu::read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
    let mxcsr: u32 = xen_core::vcpu::MXCSR_DEFAULT;
    // SAFETY: every x86_64 CPU has an FPU with FXSR and SSE, so these CR0/CR4 bits are valid;
    // they change only how FPU/SSE instructions behave, which xen-core itself never executes.
    // FNINIT and LDMXCSR then reset the unit (the MXCSR value has no reserved bit set).
    unsafe {
        asm!("mov cr0, {}", in(reg) cr0, options(nostack, preserves_flags));
        super::cpu::write_cr4(cr4);
        asm!("fninit", "ldmxcsr [{}]", in(reg) &mxcsr, options(nostack, preserves_flags));
    }
    MXCSR_MASK.store(read_mxcsr_mask(), Ordering::Relaxed);
}

/// The MXCSR bits FXRSTOR accepts on this CPU (set by [`init`]).
static MXCSR_MASK: AtomicU32 = AtomicU32::new(DEFAULT_MXCSR_MASK);
/// The mask of CPUs that report none (without DAZ).
const DEFAULT_MXCSR_MASK: u32 = 0xffbf;
/// Offset of MXCSR_MASK in an FXSAVE image.
const FXSAVE_MXCSR_MASK: usize = 28;

/// Reads MXCSR_MASK with one FXSAVE into a static scratch area (a static, so that its
/// alignment does not depend on the boot stack's).
fn read_mxcsr_mask() -> u32 {
    struct Scratch(UnsafeCell<FxsaveArea>);
    // SAFETY: only read_mxcsr_mask touches it, once, at boot on the only CPU.
    unsafe impl Sync for Scratch {}
    static SCRATCH: Scratch = Scratch(UnsafeCell::new(FxsaveArea([0; FXSAVE_SIZE])));
    let area = SCRATCH.0.get();
    // SAFETY: CR0.TS is clear (init cleared it); FXSAVE writes 512 bytes into the aligned
    // static, which nothing else references.
    unsafe { asm!("fxsave64 [{}]", in(reg) area, options(nostack, preserves_flags)) };
    // SAFETY: the FXSAVE above has finished writing; no other reference to the static exists.
    let image: &FxsaveArea = unsafe { &*area };
    let bytes = &image.0[FXSAVE_MXCSR_MASK..FXSAVE_MXCSR_MASK + 4];
    match u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) {
        0 => DEFAULT_MXCSR_MASK,
        mask => mask,
    }
}

/// Clears CR0.TS: FPU/SSE instructions run.
pub fn clear_ts() {
    // SAFETY: CLTS only changes whether FPU/SSE instructions trap; xen-core uses none.
    unsafe { asm!("clts", options(nomem, nostack, preserves_flags)) };
}

/// Sets CR0.TS: the next FPU/SSE instruction raises #NM.
pub fn set_ts() {
    let cr0 = read_cr0() | CR0_TS;
    // SAFETY: only TS changes; xen-core executes no FPU/SSE instruction that could trap on it.
    unsafe { asm!("mov cr0, {}", in(reg) cr0, options(nostack, preserves_flags)) };
}

/// Makes CR0.TS follow the running vCPU's virtual TS.
pub fn apply_virtual_ts(fpu: &FpuState) {
    if fpu.virtual_ts { set_ts() } else { clear_ts() }
}

/// FXSAVE and FXRSTOR raise #GP on an area that is not 16-byte aligned. The type is aligned,
/// but a value on a misaligned stack is not: catch that as the xen-core bug it is.
fn assert_aligned(area: &FxsaveArea) {
    assert!(
        (area as *const FxsaveArea as usize).is_multiple_of(16),
        "FPU area at {area:p} is not 16-byte aligned"
    );
}

/// Saves the CPU's FPU/SSE registers into `fpu` (the running vCPU leaves the CPU).
// Unused until domain switches exist (issue 4): with one vCPU, its registers never leave the
// CPU. The context switch calls this, then `load` for the next vCPU.
#[allow(dead_code)]
///
/// `fpu` must not live on the boot stack, which is not 16-byte aligned (keep it in the
/// hypervisor's state, as every vCPU is).
pub fn save(fpu: &mut FpuState) {
    assert_aligned(&fpu.area);
    clear_ts();
    let area: *mut FxsaveArea = &mut fpu.area;
    // SAFETY: TS is clear, so FXSAVE cannot raise #NM; it writes exactly 512 bytes to a
    // 16-byte aligned FxsaveArea (checked at compile time in xen_core::vcpu) that we borrow
    // mutably.
    unsafe { asm!("fxsave64 [{}]", in(reg) area, options(nostack, preserves_flags)) };
}

/// Loads `fpu` into the CPU and sets CR0.TS from its virtual TS (a vCPU comes onto the CPU).
/// An image FXRSTOR would refuse (a reserved MXCSR bit set, which only a corrupted image can
/// have) is replaced by the reset state rather than fault in xen-core.
///
/// As for [`save`], `fpu` must not live on the boot stack.
pub fn load(fpu: &mut FpuState) {
    assert_aligned(&fpu.area);
    clear_ts();
    if !fpu.area.loadable(MXCSR_MASK.load(Ordering::Relaxed)) {
        fpu.area = FxsaveArea::initial();
    }
    let area: *const FxsaveArea = &fpu.area;
    // SAFETY: TS is clear, so FXRSTOR cannot raise #NM; it reads 512 bytes from an aligned
    // FxsaveArea whose MXCSR passed the CPU's mask, so it cannot raise #GP either.
    unsafe { asm!("fxrstor64 [{}]", in(reg) area, options(nostack, preserves_flags)) };
    apply_virtual_ts(fpu);
}
