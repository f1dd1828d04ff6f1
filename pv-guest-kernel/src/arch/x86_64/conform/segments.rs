//! Descriptor tables of the conformance guests: set_gdt, update_descriptor, data segment loads.
// This kernel keeps DS and ES null except inside these probes, which always put the null
// selector back; CS and SS are the hypervisor's reserved flat selectors, which no guest GDT
// replaces. So changing the guest GDT or LDT cannot pull a segment out from under Rust code.

use core::arch::asm;

use hypercall_abi::hypercall::Hypercall;

use super::hypercalls::hc;
use super::insn::{Ran, Site, probe};
use super::pages::Page;

/// Puts the null selector in DS and ES.
pub fn null_data_segments() {
    // SAFETY: loading the null selector into DS or ES never faults in 64-bit mode and the
    // base of DS/ES is ignored, so nothing else changes.
    unsafe {
        asm!(
            "mov ds, {z:e}",
            "mov es, {z:e}",
            z = in(reg) 0u32,
            options(nomem, nostack, preserves_flags)
        );
    }
}

/// Frame-list length passed to set_gdt: more than the 14 frames below the reserved entries.
pub const GDT_FRAME_LIST: usize = 16;

/// set_gdt with the machine frames `frames` and `entries` descriptors. DS and ES are made null
/// first.
pub fn set_gdt(frames: &[u64; GDT_FRAME_LIST], entries: u64) -> i64 {
    null_data_segments();
    // SAFETY: the hypervisor reads at most the 14 frame numbers `entries` can need from the
    // live array; our CS and SS live in the reserved entries and DS/ES are null (above), so no
    // loaded segment depends on the old table.
    unsafe { hc(Hypercall::SetGdt, frames.as_ptr() as u64, entries, 0, 0, 0) }
}

/// update_descriptor of the 8 bytes at `byte_offset` in pool page `page` (not necessarily
/// aligned, to see the refusal) with `descriptor`.
pub fn update_descriptor(page: Page, byte_offset: u64, descriptor: u64) -> i64 {
    let Some(mfn) = page.mfn() else {
        return hypercall_abi::Errno::Inval.to_ret();
    };
    if byte_offset >= 4096 {
        return hypercall_abi::Errno::Inval.to_ret();
    }
    null_data_segments();
    // SAFETY: the target is a pool page, which Rust only reads through volatile accesses, and
    // the hypervisor writes it only if it validates as a descriptor page; DS/ES are null, so a
    // changed descriptor is not in use.
    unsafe {
        hc(
            Hypercall::UpdateDescriptor,
            (mfn << 12) + byte_offset,
            descriptor,
            0,
            0,
            0,
        )
    }
}

/// MMUEXT_SET_LDT with `linear` and `entries` (DS and ES are made null first): (result,
/// pdone).
pub fn set_ldt(linear: u64, entries: u64) -> (i64, u32) {
    null_data_segments();
    // SAFETY: no segment register holds an LDT selector (DS/ES were just made null, CS/SS
    // are GDT selectors, FS/GS are never loaded by this kernel), so the LDT is only read
    // again through the probes below.
    unsafe { super::pages::set_ldt(linear, entries) }
}

/// Loads `selector` into DS; resumes at the fixup if that faults. Call
/// [`null_data_segments`] afterwards.
pub fn load_ds(selector: u16) -> Ran<()> {
    // SAFETY: a data segment in DS has no effect on 64-bit addressing (the base is ignored);
    // a bad selector raises #GP/#NP, resumed at the fixup.
    let (f, site) = unsafe {
        probe!("", "mov ds, {s:e}", "", s = in(reg) u32::from(selector), options(nostack))
    };
    Ran::new(f, site, ())
}

/// Loads `selector` into ES; as [`load_ds`].
pub fn load_es(selector: u16) -> Ran<()> {
    // SAFETY: as for DS.
    let (f, site) = unsafe {
        probe!("", "mov es, {s:e}", "", s = in(reg) u32::from(selector), options(nostack))
    };
    Ran::new(f, site, ())
}

/// DS and ES as they are now.
pub fn data_selectors() -> (u16, u16) {
    let (ds, es): (u32, u32);
    // SAFETY: reading segment registers has no effect.
    unsafe {
        asm!(
            "mov {d:e}, ds",
            "mov {e:e}, es",
            d = out(reg) ds,
            e = out(reg) es,
            options(nomem, nostack, preserves_flags)
        );
    }
    (ds as u16, es as u16)
}

/// `lar` of `selector`: the access-rights dword as the CPU sees the descriptor, or `None`
/// if the selector is not accessible (ZF clear).
pub fn lar(selector: u16) -> Option<u32> {
    let rights: u32;
    let ok: u8;
    // SAFETY: LAR only reads the descriptor table and writes a register and ZF.
    unsafe {
        asm!(
            "xor {r:e}, {r:e}",
            "lar {r:e}, {s:e}",
            "setz {ok}",
            s = in(reg) u32::from(selector),
            r = out(reg) rights,
            ok = out(reg_byte) ok,
            options(nomem, nostack)
        );
    }
    (ok != 0).then_some(rights)
}
