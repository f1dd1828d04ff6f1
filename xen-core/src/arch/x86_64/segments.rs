//! The guest's FS and GS bases, which live in MSRs while it runs (xen-core never uses FS/GS).

use core::arch::asm;

use super::cpu::{MSR_FS_BASE, MSR_GS_BASE, MSR_SHADOW_GS_BASE, wrmsr};
use hypercall_abi::layout::is_canonical;

fn write_base(msr: u32, value: u64) {
    assert!(is_canonical(value), "callers check guest bases first");
    // SAFETY: the FS/GS base MSRs exist on every x86_64 CPU, the value is canonical (checked),
    // and xen-core itself uses neither segment.
    unsafe { wrmsr(msr, value) };
}

/// Sets the FS base.
pub fn set_fs_base(value: u64) {
    write_base(MSR_FS_BASE, value);
}

/// Sets the active GS base (the guest kernel's while in guest kernel mode).
pub fn set_active_gs_base(value: u64) {
    write_base(MSR_GS_BASE, value);
}

/// Sets the shadow GS base (the guest user's while in guest kernel mode).
pub fn set_shadow_gs_base(value: u64) {
    write_base(MSR_SHADOW_GS_BASE, value);
}

/// Loads `selector` into the user half of GS (which resets the user GS base to the descriptor's).
/// `selector` must be null or Xen's flat ring-3 data selector.
pub fn load_user_gs_selector(selector: u16) {
    assert!(selector == 0 || selector == hypercall_abi::segment::FLAT_RING3_DS32);
    // SAFETY: both selectors are valid in xen-core's GDT, so the load cannot fault; the swapgs
    // pair makes it affect the guest user's GS base only.
    unsafe {
        asm!("swapgs", "mov gs, {0:x}", "swapgs", in(reg) selector, options(nostack, preserves_flags))
    };
}
