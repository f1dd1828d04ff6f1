//! The part of a vCPU's state that lives in segment registers and MSRs: saved and restored on a domain switch.
//!
//! A guest may hold any selector of its own GDT or LDT in DS, ES, FS and GS. Loading one back
//! can fault (an LDT page not mapped yet, a descriptor the guest changed meanwhile); each load
//! has a fault fixup ([`fixup_for`]) that leaves the null selector instead, as Xen does when it
//! cannot reload a guest's data segment.

use core::arch::{asm, global_asm};

use super::cpu::{MSR_FS_BASE, MSR_GS_BASE, MSR_SHADOW_GS_BASE, rdmsr, wrmsr};

/// A vCPU's data selectors and FS/GS bases while it is off the CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegState {
    /// DS, ES, FS, GS selectors.
    pub selectors: [u16; 4],
    /// FS base.
    pub fs_base: u64,
    /// The active GS base (the guest kernel's while in guest kernel mode).
    pub gs_base: u64,
    /// The other GS base (swapped in by `swapgs`).
    pub shadow_gs_base: u64,
}

global_asm!(
    r#"
    .section .text.seg_load_safe, "ax"
    /* fn(selector in edi): load it, or the null selector if that faults. */
    .macro SEG_LOAD reg
    .global seg_load_\reg
    .balign 16
seg_load_\reg:
    .global seg_load_\reg\()_insn
seg_load_\reg\()_insn:
    mov \reg, di
    ret
    .global seg_load_\reg\()_fixup
seg_load_\reg\()_fixup:
    xor eax, eax
    mov \reg, ax
    ret
    .endm
    SEG_LOAD ds
    SEG_LOAD es
    SEG_LOAD fs
    SEG_LOAD gs
"#
);

unsafe extern "C" {
    fn seg_load_ds(selector: u32);
    fn seg_load_es(selector: u32);
    fn seg_load_fs(selector: u32);
    fn seg_load_gs(selector: u32);
    fn seg_load_ds_insn();
    fn seg_load_es_insn();
    fn seg_load_fs_insn();
    fn seg_load_gs_insn();
    fn seg_load_ds_fixup();
    fn seg_load_es_fixup();
    fn seg_load_fs_fixup();
    fn seg_load_gs_fixup();
}

/// Where to resume after a fault at `rip` in xen-core, if it is one of the selector loads.
pub fn fixup_for(rip: u64) -> Option<u64> {
    let pairs: [(unsafe extern "C" fn(), unsafe extern "C" fn()); 4] = [
        (seg_load_ds_insn, seg_load_ds_fixup),
        (seg_load_es_insn, seg_load_es_fixup),
        (seg_load_fs_insn, seg_load_fs_fixup),
        (seg_load_gs_insn, seg_load_gs_fixup),
    ];
    pairs
        .iter()
        .find(|(insn, _)| *insn as *const () as u64 == rip)
        .map(|(_, fixup)| *fixup as *const () as u64)
}

/// Reads the running vCPU's selectors and bases.
pub fn save() -> SegState {
    let (ds, es, fs, gs): (u16, u16, u16, u16);
    // SAFETY: reading segment registers has no side effect.
    unsafe {
        asm!(
            "mov {0:x}, ds", "mov {1:x}, es", "mov {2:x}, fs", "mov {3:x}, gs",
            out(reg) ds, out(reg) es, out(reg) fs, out(reg) gs,
            options(nomem, nostack, preserves_flags)
        );
    }
    // SAFETY: the FS/GS base MSRs exist on every x86_64 CPU; reading them has no side effect.
    let (fs_base, gs_base, shadow_gs_base) = unsafe {
        (
            rdmsr(MSR_FS_BASE),
            rdmsr(MSR_GS_BASE),
            rdmsr(MSR_SHADOW_GS_BASE),
        )
    };
    SegState {
        selectors: [ds, es, fs, gs],
        fs_base,
        gs_base,
        shadow_gs_base,
    }
}

/// Loads a vCPU's selectors, then its bases (a selector load resets the base).
pub fn restore(seg: &SegState) {
    let [ds, es, fs, gs] = seg.selectors.map(u32::from);
    // SAFETY: each load either succeeds or faults at its `_insn` label, which the exception
    // path recovers through `fixup_for` by loading the null selector; xen-core itself uses
    // none of these segments (64-bit code ignores DS/ES bases, and xen-core never uses FS/GS).
    unsafe {
        seg_load_ds(ds);
        seg_load_es(es);
        seg_load_fs(fs);
        seg_load_gs(gs);
    }
    // SAFETY: the bases were read from these MSRs (so they are canonical) or are 0; xen-core
    // does not use FS or GS.
    unsafe {
        wrmsr(MSR_FS_BASE, seg.fs_base);
        wrmsr(MSR_GS_BASE, seg.gs_base);
        wrmsr(MSR_SHADOW_GS_BASE, seg.shadow_gs_base);
    }
}
