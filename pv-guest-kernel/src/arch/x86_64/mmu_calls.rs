//! mmu_update and mmuext_op batches for the memory tests, declining requests on kernel frames.
// Policy: a request may change a frame only if no Rust object can live in it (a frame outside
// the initial mapping, see `frames`), with one exception: the initial L1 entries that map the
// window pages, whose pages are only accessed through `window`. new_baseptr only switches to
// the current L4 or, in `read_through`, to a table that maps the kernel exactly as ours does.

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::mmu::{
    MMU_MACHPHYS_UPDATE, MmuUpdate, MmuextCmd, MmuextOp, PTE_ADDR_MASK, PteFlags,
};

use super::access;
use super::calls::{Declined, hc};
use super::cpu;
use super::frames;
use super::memory;
use super::window::{self, Slot};

/// Entries in a page table.
const ENTRIES: usize = 512;
/// First and last L4 slot of the hypervisor's reserved range.
const XEN_SLOTS: core::ops::RangeInclusive<usize> = 256..=271;
/// What `done` holds if the hypervisor never wrote it.
pub const DONE_UNWRITTEN: u32 = u32::MAX;

/// Result of a batch: the hypercall's return and what it wrote to its `done` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchResult {
    /// The hypercall's result.
    pub ret: i64,
    /// The success count written back ([`DONE_UNWRITTEN`] if it was not written).
    pub done: u32,
}

/// The frame a page-table entry or an mmu_update `ptr` names.
fn frame_of(addr: u64) -> u64 {
    (addr & PTE_ADDR_MASK) >> PAGE_SHIFT
}

/// Whether the kernel may let the hypervisor write entry address `maddr` (see the top).
fn writable_entry(maddr: u64) -> bool {
    !frames::is_kernel_frame(frame_of(maddr)) || window::slot_of_l1_entry(maddr).is_some()
}

fn check_mmu(req: &MmuUpdate) -> Result<(), Declined> {
    if req.ptr & 7 == MMU_MACHPHYS_UPDATE || writable_entry(req.ptr & !7) {
        Ok(())
    } else {
        Err(Declined("mmu_update of a kernel frame"))
    }
}

/// mmu_update of `reqs` with `foreigndom`, `done` counter included.
pub fn mmu_update(reqs: &[MmuUpdate], foreigndom: u32) -> Result<BatchResult, Declined> {
    reqs.iter().try_for_each(check_mmu)?;
    let mut done = DONE_UNWRITTEN;
    // SAFETY: the hypervisor reads `reqs.len()` live requests and writes the live `done`.
    // Every request changes an M2P entry (which nothing here relies on), an entry of a frame
    // outside the initial mapping (no Rust object there), or the L1 entry of a window page
    // (only accessed through `window`, which is told below).
    let ret = unsafe {
        hc(
            Hypercall::MmuUpdate,
            reqs.as_ptr() as u64,
            reqs.len() as u64,
            &mut done as *mut u32 as u64,
            u64::from(foreigndom),
            0,
        )
    };
    let applied = if done == DONE_UNWRITTEN {
        0
    } else {
        done as usize
    };
    for (i, req) in reqs.iter().enumerate() {
        if req.ptr & 7 == MMU_MACHPHYS_UPDATE {
            continue;
        }
        if let Some(slot) = window::slot_of_l1_entry(req.ptr & !7) {
            // An entry past the success count should be unchanged; assume nothing about it.
            let pte = if i < applied { req.val } else { 0 };
            window::note_pte(slot, pte, false);
        }
    }
    Ok(BatchResult { ret, done })
}

/// Whether a vCPU-mask pointer names a mask that includes vCPU 0 (ours).
fn mask_has_vcpu0(ptr: u64) -> bool {
    if ptr == 0 || !ptr.is_multiple_of(8) {
        return false;
    }
    // SAFETY: a read with no side effect (the pointer is one the test passes to the
    // hypervisor as a mask); a fault just says no.
    unsafe { access::read_u64(ptr) }.is_some_and(|mask| mask & 1 != 0)
}

pub(super) fn check_mmuext(op: &MmuextOp, cr3_mfn: Option<u64>) -> Result<(), Declined> {
    let Ok(cmd) = MmuextCmd::try_from(op.cmd) else {
        return Ok(());
    };
    let frame_ok = !frames::is_kernel_frame(op.arg1);
    let ok = match cmd {
        MmuextCmd::PinL1Table
        | MmuextCmd::PinL2Table
        | MmuextCmd::PinL3Table
        | MmuextCmd::PinL4Table
        | MmuextCmd::Unpin
        | MmuextCmd::ClearPage
        | MmuextCmd::CopyPage
        | MmuextCmd::MarkSuper
        | MmuextCmd::UnmarkSuper => frame_ok,
        MmuextCmd::NewBaseptr => cr3_mfn == Some(op.arg1),
        // The user base only matters in guest user mode, which the memory tests never enter;
        // the rest flush TLBs or caches, or name an LDT, which only matters when an LDT
        // selector is loaded (and `descriptors` does that only around its own check).
        MmuextCmd::NewUserBaseptr
        | MmuextCmd::TlbFlushLocal
        | MmuextCmd::InvlpgLocal
        | MmuextCmd::TlbFlushMulti
        | MmuextCmd::InvlpgMulti
        | MmuextCmd::TlbFlushAll
        | MmuextCmd::InvlpgAll
        | MmuextCmd::FlushCache
        | MmuextCmd::FlushCacheGlobal
        | MmuextCmd::SetLdt => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Declined(
            "mmuext_op on a kernel frame or a foreign base pointer",
        ))
    }
}

/// Tells `window` about the flushes of the first `applied` ops.
fn note_flushes(ops: &[MmuextOp], applied: usize) {
    for op in ops.iter().take(applied) {
        match MmuextCmd::try_from(op.cmd) {
            Ok(MmuextCmd::TlbFlushLocal | MmuextCmd::TlbFlushAll) => window::note_flush(None),
            Ok(MmuextCmd::TlbFlushMulti) if mask_has_vcpu0(op.arg2) => window::note_flush(None),
            Ok(MmuextCmd::InvlpgLocal | MmuextCmd::InvlpgAll) => {
                if let Some(slot) = window::slot_of_va(op.arg1) {
                    window::note_flush(Some(slot));
                }
            }
            Ok(MmuextCmd::InvlpgMulti) if mask_has_vcpu0(op.arg2) => {
                if let Some(slot) = window::slot_of_va(op.arg1) {
                    window::note_flush(Some(slot));
                }
            }
            _ => {}
        }
    }
}

/// mmuext_op of `ops` for `domid`, `done` counter included.
pub fn mmuext_op(ops: &[MmuextOp], domid: DomId) -> Result<BatchResult, Declined> {
    let cr3_mfn = cpu::read_cr3().map(|cr3| cr3 >> PAGE_SHIFT);
    ops.iter().try_for_each(|op| check_mmuext(op, cr3_mfn))?;
    let mut done = DONE_UNWRITTEN;
    // SAFETY: the hypervisor reads `ops.len()` live ops (and any vCPU masks they point to)
    // and writes the live `done`. Each op was checked above to touch only frames outside the
    // initial mapping, to switch to the L4 already in use, or to have no effect on memory.
    let ret = unsafe {
        hc(
            Hypercall::MmuextOp,
            ops.as_ptr() as u64,
            ops.len() as u64,
            &mut done as *mut u32 as u64,
            u64::from(domid),
            0,
        )
    };
    let applied = if done == DONE_UNWRITTEN {
        0
    } else {
        done as usize
    };
    note_flushes(ops, applied);
    Ok(BatchResult { ret, done })
}

/// One mmuext op for DOMID_SELF.
pub fn mmuext_one(cmd: MmuextCmd, arg1: u64, arg2: u64) -> Result<BatchResult, Declined> {
    let op = MmuextOp {
        cmd: cmd as u32,
        pad: 0,
        arg1,
        arg2,
    };
    mmuext_op(&[op], DOMID_SELF)
}

/// update_va_mapping of `va`, which must lie in an L4 slot our L4 leaves empty (so the call
/// can only fail, or map something where nothing of ours is). `None` (no call) otherwise.
pub fn update_va_mapping_unmapped_slot(va: u64, pte: u64, uvmf: u64) -> Option<i64> {
    let slot = ((va >> 39) & 511) as usize;
    let empty = memory::initial_l4_entry(slot).is_some_and(|e| e & PteFlags::PRESENT.bits() == 0);
    if !empty
        || XEN_SLOTS.contains(&slot)
        || cpu::read_cr3().map(|c| c >> PAGE_SHIFT) != frames::initial_l4_mfn()
    {
        return None;
    }
    // SAFETY: no Rust object or code of ours lies in that slot of the current address space.
    Some(unsafe { hc(Hypercall::UpdateVaMapping, va, pte, uvmf, 0, 0) })
}

/// What happened in [`read_through`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseptrRun {
    /// new_baseptr to the test L4.
    pub switch: i64,
    /// CR3 >> 12 while on the test L4 (from the emulated CR3 read).
    pub cr3_mfn: Option<u64>,
    /// The word read at the address (`None`: the read faulted, or no switch happened).
    pub value: Option<u64>,
    /// new_baseptr back to the kernel's L4 (0 if no switch happened).
    pub back: i64,
}

/// Switches to L4 `l4_mfn` with new_baseptr, reads the word at `va` and switches back. The
/// new L4 must map the kernel exactly as ours does (checked by reading it through `check`,
/// which is left mapping it read-only) and `va` must lie in a slot ours leaves empty.
pub fn read_through(l4_mfn: u64, va: u64, check: Slot) -> Result<BaseptrRun, Declined> {
    let Some(live) = cpu::read_cr3().map(|cr3| cr3 >> PAGE_SHIFT) else {
        return Err(Declined("CR3 unreadable"));
    };
    let pt_base_mfn = frames::initial_l4_mfn();
    if pt_base_mfn != Some(live) {
        return Err(Declined("not on the initial L4"));
    }
    let va_slot = ((va >> 39) & 511) as usize;
    let empty =
        memory::initial_l4_entry(va_slot).is_some_and(|e| e & PteFlags::PRESENT.bits() == 0);
    if !empty || XEN_SLOTS.contains(&va_slot) {
        return Err(Declined("address in a slot the kernel uses"));
    }
    if check.map_frame(l4_mfn, false) != 0 {
        return Err(Declined("cannot map the new L4 to check it"));
    }
    let keep = PTE_ADDR_MASK | PteFlags::PRESENT.bits();
    for i in (0..ENTRIES).filter(|i| !XEN_SLOTS.contains(i)) {
        let Some(ours) = memory::initial_l4_entry(i) else {
            return Err(Declined("initial L4 unreadable"));
        };
        if ours & PteFlags::PRESENT.bits() == 0 {
            continue;
        }
        if check.read(i).map(|e| e & keep) != Some(ours & keep) {
            return Err(Declined("the new L4 does not map the kernel as ours does"));
        }
    }
    let switch_op = MmuextOp {
        cmd: MmuextCmd::NewBaseptr as u32,
        pad: 0,
        arg1: l4_mfn,
        arg2: 0,
    };
    let mut done = DONE_UNWRITTEN;
    // SAFETY: every slot in which our L4 maps anything maps the same frames in the new L4
    // (checked above), so every Rust object and all code stay where they are; the other
    // slots are only touched by the one read below, which may fault.
    let switch = unsafe {
        hc(
            Hypercall::MmuextOp,
            &switch_op as *const MmuextOp as u64,
            1,
            &mut done as *mut u32 as u64,
            u64::from(DOMID_SELF),
            0,
        )
    };
    if switch != 0 {
        return Ok(BaseptrRun {
            switch,
            cr3_mfn: None,
            value: None,
            back: 0,
        });
    }
    let cr3_mfn = cpu::read_cr3().map(|cr3| cr3 >> PAGE_SHIFT);
    // SAFETY: a read of test memory (RAM) or of nothing (it faults); no side effect.
    let value = unsafe { access::read_u64(va) };
    let back_op = MmuextOp {
        arg1: live,
        ..switch_op
    };
    // SAFETY: back to the kernel's own, validated L4.
    let back = unsafe {
        hc(
            Hypercall::MmuextOp,
            &back_op as *const MmuextOp as u64,
            1,
            &mut done as *mut u32 as u64,
            u64::from(DOMID_SELF),
            0,
        )
    };
    Ok(BaseptrRun {
        switch,
        cr3_mfn,
        value,
        back,
    })
}
