//! Descriptor tables for the memory tests: set_gdt, update_descriptor, and probing selectors.
// Policy: the frames given to set_gdt and the descriptors written by update_descriptor lie
// outside the initial mapping. The kernel itself only uses the hypervisor's flat selectors
// (from the reserved GDT area) and null data selectors, so replacing the guest part of the GDT
// or the LDT changes nothing it relies on. Selector probes load %es, which 64-bit code does not
// use for addressing, and put the null selector back.

use core::arch::asm;

use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::PAGE_SHIFT;

use super::calls::{Declined, hc};
use super::frames;

/// set_gdt with the frames `gdt_frames` (each outside the initial mapping) and `entries`.
pub fn set_gdt(gdt_frames: &[u64], entries: u64) -> Result<i64, Declined> {
    if gdt_frames.iter().any(|&m| frames::is_kernel_frame(m)) {
        return Err(Declined("set_gdt with a kernel frame"));
    }
    // SAFETY: the hypervisor reads the live frame list; the frames hold no Rust object, and
    // the kernel's own selectors are in the reserved area set_gdt does not replace.
    Ok(unsafe {
        hc(
            Hypercall::SetGdt,
            gdt_frames.as_ptr() as u64,
            entries,
            0,
            0,
            0,
        )
    })
}

/// update_descriptor of the descriptor at machine address `maddr` (outside the initial
/// mapping) with `desc`.
pub fn update_descriptor(maddr: u64, desc: u64) -> Result<i64, Declined> {
    if frames::is_kernel_frame(maddr >> PAGE_SHIFT) {
        return Err(Declined("update_descriptor in a kernel frame"));
    }
    // SAFETY: the frame holds no Rust object (checked above).
    Ok(unsafe { hc(Hypercall::UpdateDescriptor, maddr, desc, 0, 0, 0) })
}

/// `lar` of `selector`: its access-rights bytes if the descriptor is valid and visible at our
/// privilege level, else `None`.
pub fn lar(selector: u16) -> Option<u32> {
    let rights: u32;
    let ok: u32;
    // SAFETY: `lar` only reads the descriptor table; it reports an unusable selector in ZF.
    // A fault while the CPU reads the table resumes at label 3 (ok = 0).
    unsafe {
        asm!(
            "xor {rights:e}, {rights:e}",
            "xor {ok:e}, {ok:e}",
            "2:",
            "lar {rights:e}, {sel:e}",
            "setz {okb}",
            "movzx {ok:e}, {okb}",
            "4:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "3:",
            "xor {ok:e}, {ok:e}",
            "jmp 4b",
            ".popsection",
            sel = in(reg) u32::from(selector),
            rights = out(reg) rights,
            ok = out(reg) ok,
            okb = out(reg_byte) _,
            options(nomem, nostack),
        );
    }
    (ok != 0).then_some(rights)
}

/// Loads `selector` into %es and puts the null selector back: true if the load succeeded,
/// false if it faulted.
pub fn load_es(selector: u16) -> bool {
    let faulted: u64;
    // SAFETY: %es is not used for addressing in 64-bit mode and this kernel never relies on
    // its value; it is reset to the null selector on both paths. A #GP or #NP on the load
    // resumes at label 3 through the exception table.
    unsafe {
        asm!(
            "xor {faulted:e}, {faulted:e}",
            "2:",
            "mov es, {sel:x}",
            "4:",
            "xor {sel:e}, {sel:e}",
            "mov es, {sel:x}",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "3:",
            "mov {faulted:e}, 1",
            "jmp 4b",
            ".popsection",
            sel = inout(reg) u32::from(selector) => _,
            faulted = out(reg) faulted,
            options(nomem, nostack),
        );
    }
    faulted == 0
}
