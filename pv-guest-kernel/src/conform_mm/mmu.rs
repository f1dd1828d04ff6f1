//! conform=mmu: page tables built from free frames, mmu_update, update_va_mapping and mmuext_op.
// The guest builds a four-level tree of its own (L4 -> L3 -> L2 -> L1 -> two data pages) from
// frames beyond its initial mapping, changes it entry by entry, checks that it translates by
// switching CR3 to it, and exercises every flush kind on a window page of its own .bss.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::mmu::{
    MMU_MACHPHYS_UPDATE, MMU_PT_UPDATE_PRESERVE_AD, MmuUpdate, MmuextCmd, MmuextOp, UVMF_ALL,
    UVMF_INVLPG, UVMF_LOCAL, UVMF_NONE, UVMF_TLB_FLUSH,
};
use hypercall_abi::start_info::StartInfo;

use super::guest::{self, declined, take_frames};
use super::pattern;
use super::tables::{
    self, A, D, ENTRIES, L1_KERNEL_ADDED, L1_USER_ADDED, P, RW, TEST_VA, U, XEN_SLOTS, clear,
    entry, expect_done, expect_entry, expect_refused, pin, read_entry, req, unpin, update, updates,
};
use crate::arch::x86_64::cpu;
use crate::arch::x86_64::descriptors;
use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::arch::x86_64::mmu_calls::{self, BatchResult};
use crate::arch::x86_64::window::Slot;
use crate::selftest::context::Context;
use crate::selftest::report::{
    Detail, Outcome, Report, Ret, expect_eq, expect_errno, expect_ret, fail,
};

/// Window slot used to fill frames.
const W: Slot = slot(0);
/// Window slot used to read tables.
const R: Slot = slot(1);
/// Window slot whose mapping the flush checks change.
const F: Slot = slot(2);
/// Window slot that maps the LDT.
const L: Slot = slot(3);
/// Window slot through which `read_through` checks the test L4.
const C: Slot = slot(4);

const fn slot(i: usize) -> Slot {
    match Slot::get(i) {
        Some(s) => s,
        None => panic!("no such window slot"),
    }
}

/// Pattern seeds of the two data pages.
const SEED_A: u64 = 0xA;
const SEED_B: u64 = 0xB;

/// Flags Xen 4.17 adds to a present L2/L3/L4 entry written without _PAGE_USER: _PAGE_USER
/// (observed on Xen 4.17).
const TABLE_ADDED: u64 = U;
/// mmu_update of an L1 entry mapping a pinned page table writable: -EBUSY (observed on Xen
/// 4.17; the frame cannot take the writable type).
const WRITABLE_TABLE_ERRNO: Errno = Errno::Busy;
/// Pinning an already pinned table: -EINVAL (observed on Xen 4.17).
const PIN_TWICE_ERRNO: Errno = Errno::Inval;
/// update_va_mapping with flush type 3 (both flush bits, which the header does not define):
/// accepted and the PTE written, but nothing flushed: a read right after still saw the old
/// frame under QEMU (observed on Xen 4.17, which only acts on types 1 and 2).
const FLUSH_TYPE_3_RESULT: i64 = 0;
/// update_va_mapping_otherdomain for a domain that does not exist: -ESRCH (observed on Xen
/// 4.17).
const NO_DOMAIN_ERRNO: Errno = Errno::Srch;
/// A domain id no domain has.
const NO_SUCH_DOMAIN: u16 = 0x7F00;
/// new_user_baseptr with an ordinary data page: -EINVAL (observed on Xen 4.17).
const USER_BASEPTR_DATA_ERRNO: Errno = Errno::Inval;
/// set_ldt with a misaligned base: -EINVAL (observed on Xen 4.17).
const LDT_MISALIGNED_ERRNO: Errno = Errno::Inval;
/// clear_page of a pinned page table: -EINVAL (observed on Xen 4.17).
const CLEAR_TABLE_ERRNO: Errno = Errno::Inval;
/// update_va_mapping making a pinned (or still referenced) table writable: -EBUSY (observed
/// on Xen 4.17).
const MAP_TABLE_RW_ERRNO: Errno = Errno::Busy;
/// mmu_update of an "entry" of an ordinary data page (no page-table type): accepted, the
/// value written as is (observed on Xen 4.17, which treats the page as writable memory).
const PLAIN_FRAME_RESULT: i64 = 0;
/// update_va_mapping of an address whose L4 slot is empty (no L1 to change): -EINVAL
/// (observed on Xen 4.17).
const NO_L1_ERRNO: Errno = Errno::Inval;
/// unpin of a frame that is not pinned: -EINVAL (observed on Xen 4.17).
const UNPIN_UNPINNED_ERRNO: Errno = Errno::Inval;

/// An LDT/GDT data descriptor: base 0, limit 4 GiB, read/write, accessed, DPL 3, present.
pub const DATA_DPL3: u64 = 0x00CF_F300_0000_FFFF;
/// Selector of LDT entry 0 with RPL 3.
const LDT_SELECTOR: u16 = 0x7;
/// What `lar` reports for [`DATA_DPL3`]: type, S, DPL, P, then AVL/L/D/G (limit bits clear).
const DATA_DPL3_RIGHTS: u32 = 0x00C0_F300;

/// The frames of the test tree.
#[derive(Clone, Copy)]
struct Tree {
    l4: FreeFrame,
    l3: FreeFrame,
    l2: FreeFrame,
    l1: FreeFrame,
    d0: FreeFrame,
    d1: FreeFrame,
    ldt: FreeFrame,
    plain: FreeFrame,
}

/// Runs the MMU checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=mmu", start_info, p2m, checks)
}

fn checks(_ctx: &mut Context, report: &mut Report) {
    let tree = match take_frames::<8>() {
        Ok([l4, l3, l2, l1, d0, d1, ldt, plain]) => Tree {
            plain,
            l4,
            l3,
            l2,
            l1,
            d0,
            d1,
            ldt,
        },
        Err(d) => {
            report.check("mmu.frames", Err(d));
            return;
        }
    };
    report.check("mmu.initial_mapping", initial_mapping());
    report.check("mmu.clear_page", clear_page(&tree));
    report.check("mmu.copy_page", copy_page(&tree));
    for level in 1..=4 {
        let name = ["mmu.pin_l1", "mmu.pin_l2", "mmu.pin_l3", "mmu.pin_l4"][level as usize - 1];
        report.check(name, pin_level(&tree, level));
    }
    report.check("mmu.pin_l4_xen_slots", l4_xen_slots(&tree));
    report.check("mmu.pin_twice", pin_twice(&tree));
    report.check("mmu.update_l1", update_l1(&tree));
    report.check("mmu.update_l1_user", update_l1_user(&tree));
    report.check("mmu.update_l2", update_l2(&tree));
    report.check("mmu.update_l3", update_l3(&tree));
    report.check("mmu.update_l4", update_l4(&tree));
    report.check("mmu.translate", translate(&tree));
    report.check("mmu.new_user_baseptr", new_user_baseptr(&tree));
    report.check("mmu.machphys_update", machphys_update(&tree));
    report.check("mmu.preserve_ad", preserve_ad(&tree));
    report.check("mmu.update_plain_frame", update_plain_frame(&tree));
    report.check("mmu.update_va_mapping_no_l1", uvm_no_l1(&tree));
    report.check("mmu.batch_partial", batch_partial(&tree));
    report.check("mmu.batch_partial_mmuext", batch_partial_mmuext(&tree));
    uvm_checks(&tree, report);
    report.check("mmu.update_va_mapping_otherdomain", otherdomain(&tree));
    flush_checks(&tree, report);
    report.check("mmu.set_ldt", set_ldt(&tree));
    report.check("mmu.clear_page_table_refused", clear_table_refused(&tree));
    report.check("mmu.pinned_table_not_writable", pinned_not_writable(&tree));
    report.check("mmu.in_use_table_not_writable", in_use_not_writable(&tree));
    report.check("mmu.unpin_all", unpin_all(&tree));
}

fn initial_mapping() -> Outcome {
    let n = frames::initial_pages();
    if n == 0 {
        fail!("the initial mapping maps no page at VIRT_BASE");
    }
    if frames::take_free().is_none() {
        fail!("no free frame after the initial mapping");
    }
    if W.l1_entry_maddr().is_none() {
        fail!("no L1 entry for the window");
    }
    Ok(())
}

fn clear_page(t: &Tree) -> Outcome {
    pattern::fill(W, t.d0.mfn, 1)?;
    let r = clear(t.d0.mfn)?;
    expect_done("clear_page", r, 1)?;
    pattern::check(R, t.d0.mfn, "cleared page", |_| 0)
}

fn copy_page(t: &Tree) -> Outcome {
    pattern::fill(W, t.d1.mfn, 2)?;
    let r = tables::mmuext(MmuextCmd::CopyPage, t.d0.mfn, t.d1.mfn)?;
    expect_done("copy_page", r, 1)?;
    pattern::check(R, t.d0.mfn, "copied page", |i| pattern::word(2, i))?;
    pattern::fill(W, t.d0.mfn, SEED_A)?;
    pattern::fill(W, t.d1.mfn, SEED_B)
}

fn table_of(t: &Tree, level: u8) -> u64 {
    match level {
        1 => t.l1.mfn,
        2 => t.l2.mfn,
        3 => t.l3.mfn,
        _ => t.l4.mfn,
    }
}

fn pin_level(t: &Tree, level: u8) -> Outcome {
    let mfn = table_of(t, level);
    expect_done("clear_page", clear(mfn)?, 1)?;
    expect_done("pin", pin(level, mfn)?, 1)
}

/// A pinned, empty L4 has the hypervisor's slots filled in and no guest slot.
fn l4_xen_slots(t: &Tree) -> Outcome {
    let ret = R.map_frame(t.l4.mfn, false);
    if ret != 0 {
        fail!("mapping the L4 read-only returned {}", Ret(ret));
    }
    let mut xen_present = 0;
    let mut guest_present = 0;
    for i in 0..ENTRIES {
        let e = R.read(i).unwrap_or(0);
        if e & P != 0 {
            if XEN_SLOTS.contains(&i) {
                xen_present += 1;
            } else {
                guest_present += 1;
            }
        }
    }
    let _ = R.unmap();
    if xen_present == 0 {
        fail!("no hypervisor slot filled in the pinned L4");
    }
    expect_eq("present guest slots", guest_present, 0)
}

fn pin_twice(t: &Tree) -> Outcome {
    let r = pin(1, t.l1.mfn)?;
    expect_refused("pin of a pinned L1", r, PIN_TWICE_ERRNO, 0)?;
    let r = pin(2, t.l1.mfn)?;
    expect_refused("pin as L2 of a pinned L1", r, PIN_TWICE_ERRNO, 0)
}

fn update_l1(t: &Tree) -> Outcome {
    let rw = entry(t.d0.mfn, P | RW | A | D);
    let ro = entry(t.d1.mfn, P | A);
    let r = updates(&[req(t.l1.mfn, 0, rw), req(t.l1.mfn, 1, ro)])?;
    expect_done("mmu_update(L1)", r, 2)?;
    expect_entry(R, t.l1.mfn, 0, rw | L1_KERNEL_ADDED)?;
    expect_entry(R, t.l1.mfn, 1, ro | L1_KERNEL_ADDED)
}

/// A user page (written with _PAGE_USER) gets _PAGE_GLOBAL added instead.
fn update_l1_user(t: &Tree) -> Outcome {
    let user = entry(t.d1.mfn, P | U | A);
    expect_done("mmu_update(L1 user)", update(t.l1.mfn, 8, user)?, 1)?;
    expect_entry(R, t.l1.mfn, 8, user | L1_USER_ADDED)?;
    expect_done("mmu_update(clear)", update(t.l1.mfn, 8, 0)?, 1)?;
    expect_entry(R, t.l1.mfn, 8, 0)
}

fn update_l2(t: &Tree) -> Outcome {
    let e = entry(t.l1.mfn, P | RW | A);
    expect_done("mmu_update(L2)", update(t.l2.mfn, 0, e)?, 1)?;
    expect_entry(R, t.l2.mfn, 0, e | TABLE_ADDED)
}

fn update_l3(t: &Tree) -> Outcome {
    let e = entry(t.l2.mfn, P | RW | A);
    expect_done("mmu_update(L3)", update(t.l3.mfn, 0, e)?, 1)?;
    expect_entry(R, t.l3.mfn, 0, e | TABLE_ADDED)
}

fn update_l4(t: &Tree) -> Outcome {
    let mut reqs = tables::kernel_slot_copies(t.l4.mfn)?;
    let e = entry(t.l3.mfn, P | RW | A);
    let slot = tables::TEST_SLOT;
    if reqs.push(req(t.l4.mfn, slot, e)).is_err() {
        fail!("too many L4 requests");
    }
    let r = updates(&reqs)?;
    expect_done("mmu_update(L4)", r, reqs.len() as u32)?;
    expect_entry(R, t.l4.mfn, slot, e | TABLE_ADDED)
}

fn translate(t: &Tree) -> Outcome {
    let l4_initial = frames::initial_l4_mfn().unwrap_or(u64::MAX);
    let reads = [
        (TEST_VA + 3 * 8, pattern::word(SEED_A, 3)),
        (TEST_VA + 4096 + 5 * 8, pattern::word(SEED_B, 5)),
    ];
    for (va, want) in reads {
        let run = mmu_calls::read_through(t.l4.mfn, va, C).map_err(declined)?;
        expect_errno_or_ok("new_baseptr(test L4)", run.switch)?;
        expect_eq(
            "CR3 on the test L4",
            run.cr3_mfn.unwrap_or(u64::MAX),
            t.l4.mfn,
        )?;
        match run.value {
            Some(v) => expect_eq("word read through the test tables", v, want)?,
            None => fail!("reading {:#x} through the test tables faulted", va),
        }
        expect_errno_or_ok("new_baseptr(back)", run.back)?;
    }
    let cr3 = cpu::read_cr3().map_or(u64::MAX, |c| c >> 12);
    expect_eq("CR3 after switching back", cr3, l4_initial)
}

fn expect_errno_or_ok(what: &str, ret: i64) -> Outcome {
    if ret != 0 {
        fail!("{} returned {}", what, Ret(ret));
    }
    Ok(())
}

fn new_user_baseptr(t: &Tree) -> Outcome {
    let r = tables::mmuext(MmuextCmd::NewUserBaseptr, t.l4.mfn, 0)?;
    expect_done("new_user_baseptr(test L4)", r, 1)?;
    let r = tables::mmuext(MmuextCmd::NewUserBaseptr, 0, 0)?;
    expect_done("new_user_baseptr(0)", r, 1)?;
    let r = tables::mmuext(MmuextCmd::NewUserBaseptr, t.d0.mfn, 0)?;
    expect_refused("new_user_baseptr(data page)", r, USER_BASEPTR_DATA_ERRNO, 0)
}

fn machphys(mfn: u64, pfn: u64) -> Result<BatchResult, Detail> {
    updates(&[MmuUpdate {
        ptr: (mfn << 12) | MMU_MACHPHYS_UPDATE,
        val: pfn,
    }])
}

fn machphys_update(t: &Tree) -> Outcome {
    let Some(before) = frames::m2p(t.d0.mfn) else {
        fail!("M2P entry of {:#x} unreadable", t.d0.mfn);
    };
    expect_eq("M2P entry before", before, t.d0.pfn)?;
    expect_done("machphys_update", machphys(t.d0.mfn, 0x4242)?, 1)?;
    expect_eq(
        "M2P entry after",
        frames::m2p(t.d0.mfn).unwrap_or(u64::MAX),
        0x4242,
    )?;
    expect_done("machphys_update back", machphys(t.d0.mfn, t.d0.pfn)?, 1)?;
    expect_eq(
        "M2P entry restored",
        frames::m2p(t.d0.mfn).unwrap_or(u64::MAX),
        t.d0.pfn,
    )
}

fn preserve_ad(t: &Tree) -> Outcome {
    let l1 = t.l1.mfn;
    let with_ad = entry(t.d0.mfn, P | A | D);
    expect_done("mmu_update(A|D)", update(l1, 2, with_ad)?, 1)?;
    expect_entry(R, l1, 2, with_ad | L1_KERNEL_ADDED)?;
    let plain = entry(t.d1.mfn, P);
    let r = updates(&[MmuUpdate {
        ptr: frames::entry_maddr(l1, 2) | MMU_PT_UPDATE_PRESERVE_AD,
        val: plain,
    }])?;
    expect_done("mmu_update(preserve_ad)", r, 1)?;
    expect_entry(R, l1, 2, plain | A | D | L1_KERNEL_ADDED)?;
    expect_done("mmu_update(normal)", update(l1, 2, plain)?, 1)?;
    expect_entry(R, l1, 2, plain | L1_KERNEL_ADDED)?;
    expect_done("mmu_update(clear)", update(l1, 2, 0)?, 1)?;
    expect_entry(R, l1, 2, 0)
}

fn update_plain_frame(t: &Tree) -> Outcome {
    pattern::fill(W, t.plain.mfn, 0x9A)?;
    let value = 0x0BAD_F00D_0000_0001;
    let r = update(t.plain.mfn, 4, value)?;
    if r.ret != PLAIN_FRAME_RESULT {
        fail!("mmu_update(data page) returned {}", Ret(r.ret));
    }
    pattern::check(R, t.plain.mfn, "data page", |i| {
        if i == 4 {
            value
        } else {
            pattern::word(0x9A, i)
        }
    })
}

fn uvm_no_l1(t: &Tree) -> Outcome {
    let va = TEST_VA + 0x5000;
    let pte = entry(t.d0.mfn, P | A | U);
    let Some(ret) = mmu_calls::update_va_mapping_unmapped_slot(va, pte, UVMF_INVLPG) else {
        fail!("{:#x} is not in an empty L4 slot", va);
    };
    expect_errno("update_va_mapping(no L1)", ret, NO_L1_ERRNO)
}

fn batch_partial(t: &Tree) -> Outcome {
    let l1 = t.l1.mfn;
    let good0 = entry(t.d0.mfn, P | A);
    let good1 = entry(t.d1.mfn, P | A);
    let bad = entry(t.l4.mfn, P | RW | A | D);
    let reqs = [
        req(l1, 3, good0),
        req(l1, 4, good1),
        req(l1, 5, bad),
        req(l1, 6, good0),
    ];
    let r = updates(&reqs)?;
    expect_refused("mmu_update batch", r, WRITABLE_TABLE_ERRNO, 2)?;
    expect_entry(R, l1, 3, good0 | L1_KERNEL_ADDED)?;
    expect_entry(R, l1, 4, good1 | L1_KERNEL_ADDED)?;
    expect_entry(R, l1, 5, 0)?;
    expect_entry(R, l1, 6, 0)?;
    let clean = [req(l1, 3, 0), req(l1, 4, 0)];
    expect_done("mmu_update(clear)", updates(&clean)?, 2)
}

fn batch_partial_mmuext(t: &Tree) -> Outcome {
    let op = |cmd: MmuextCmd, arg1: u64| MmuextOp {
        cmd: cmd as u32,
        pad: 0,
        arg1,
        arg2: 0,
    };
    let ops = [
        op(MmuextCmd::TlbFlushLocal, 0),
        op(MmuextCmd::PinL1Table, t.l1.mfn),
        op(MmuextCmd::TlbFlushLocal, 0),
    ];
    let r = mmu_calls::mmuext_op(&ops, DOMID_SELF).map_err(declined)?;
    expect_refused("mmuext_op batch", r, PIN_TWICE_ERRNO, 1)
}

/// The update_va_mapping flush kinds: name and flags (`MASK` stands for a vCPU-mask pointer).
const UVM_KINDS: [(&str, u64, bool); 7] = [
    ("mmu.update_va_mapping.none", UVMF_NONE, false),
    (
        "mmu.update_va_mapping.invlpg_local",
        UVMF_INVLPG | UVMF_LOCAL,
        false,
    ),
    (
        "mmu.update_va_mapping.tlb_flush_local",
        UVMF_TLB_FLUSH | UVMF_LOCAL,
        false,
    ),
    (
        "mmu.update_va_mapping.invlpg_all",
        UVMF_INVLPG | UVMF_ALL,
        false,
    ),
    (
        "mmu.update_va_mapping.tlb_flush_all",
        UVMF_TLB_FLUSH | UVMF_ALL,
        false,
    ),
    ("mmu.update_va_mapping.invlpg_multi", UVMF_INVLPG, true),
    (
        "mmu.update_va_mapping.tlb_flush_multi",
        UVMF_TLB_FLUSH,
        true,
    ),
];

fn uvm_checks(t: &Tree, report: &mut Report) {
    let mask: u64 = 1;
    for (name, flags, multi) in UVM_KINDS {
        let flags = if multi {
            flags | (&mask as *const u64 as u64)
        } else {
            flags
        };
        report.check(name, uvm_kind(t, flags));
    }
    report.check("mmu.update_va_mapping.flush_type_3", uvm_flush_type_3(t));
}

/// Maps d0 at F, reads it, remaps F to d1 with `flags`, and reads d1 (after an explicit
/// invlpg if `flags` flush nothing).
fn uvm_kind(t: &Tree, flags: u64) -> Outcome {
    let ret = F.map_frame(t.d0.mfn, false);
    expect_errno_or_ok("map d0", ret)?;
    expect_eq(
        "d0 word 0",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_A, 0),
    )?;
    let ret = F.map(entry(t.d1.mfn, P | A | U), flags);
    expect_errno_or_ok("update_va_mapping(d1)", ret)?;
    if flags == UVMF_NONE {
        let r = tables::mmuext(MmuextCmd::InvlpgLocal, F.va(), 0)?;
        expect_done("invlpg_local", r, 1)?;
    }
    expect_eq(
        "d1 word 0",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_B, 0),
    )
}

fn uvm_flush_type_3(t: &Tree) -> Outcome {
    expect_errno_or_ok("map d0", F.map_frame(t.d0.mfn, false))?;
    expect_eq(
        "d0 word 0",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_A, 0),
    )?;
    let ret = F.map(entry(t.d1.mfn, P | A | U), 3);
    expect_ret("update_va_mapping(flags 3)", ret, FLUSH_TYPE_3_RESULT)?;
    let r = tables::mmuext(MmuextCmd::InvlpgLocal, F.va(), 0)?;
    expect_done("invlpg_local", r, 1)?;
    expect_eq(
        "word 0 after",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_B, 0),
    )
}

fn otherdomain(t: &Tree) -> Outcome {
    let pte = entry(t.d0.mfn, P | A | U);
    let ret = F.map_otherdomain(pte, UVMF_INVLPG | UVMF_LOCAL, DOMID_SELF);
    expect_errno_or_ok("update_va_mapping_otherdomain(DOMID_SELF)", ret)?;
    expect_eq(
        "d0 word 0",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_A, 0),
    )?;
    let pte = entry(t.d1.mfn, P | A | U);
    let ret = F.map_otherdomain(pte, UVMF_INVLPG | UVMF_LOCAL, NO_SUCH_DOMAIN);
    expect_errno(
        "update_va_mapping_otherdomain(no domain)",
        ret,
        NO_DOMAIN_ERRNO,
    )?;
    expect_eq(
        "word 0 after",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_A, 0),
    )
}

/// mmuext flush commands: name, command, whether arg1 is F's address, whether arg2 is a mask.
const FLUSHES: [(&str, MmuextCmd, bool, bool); 6] = [
    (
        "mmu.mmuext.tlb_flush_local",
        MmuextCmd::TlbFlushLocal,
        false,
        false,
    ),
    (
        "mmu.mmuext.tlb_flush_all",
        MmuextCmd::TlbFlushAll,
        false,
        false,
    ),
    (
        "mmu.mmuext.tlb_flush_multi",
        MmuextCmd::TlbFlushMulti,
        false,
        true,
    ),
    (
        "mmu.mmuext.invlpg_local",
        MmuextCmd::InvlpgLocal,
        true,
        false,
    ),
    ("mmu.mmuext.invlpg_all", MmuextCmd::InvlpgAll, true, false),
    (
        "mmu.mmuext.invlpg_multi",
        MmuextCmd::InvlpgMulti,
        true,
        true,
    ),
];

fn flush_checks(t: &Tree, report: &mut Report) {
    for (name, cmd, va, mask) in FLUSHES {
        report.check(name, flush(t, cmd, va, mask));
    }
}

/// Maps d0 at F and reads it; points F's live L1 entry at d1 with mmu_update (no flush);
/// flushes with `cmd` and reads d1.
fn flush(t: &Tree, cmd: MmuextCmd, va: bool, mask: bool) -> Outcome {
    expect_errno_or_ok("map d0", F.map_frame(t.d0.mfn, false))?;
    expect_eq(
        "d0 word 0",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_A, 0),
    )?;
    let Some(l1e) = F.l1_entry_maddr() else {
        fail!("no L1 entry for the window");
    };
    let r = updates(&[MmuUpdate {
        ptr: l1e,
        val: entry(t.d1.mfn, P | A | U),
    }])?;
    expect_done("mmu_update(window L1 entry)", r, 1)?;
    let vcpus: u64 = 1;
    let arg1 = if va { F.va() } else { 0 };
    let arg2 = if mask { &vcpus as *const u64 as u64 } else { 0 };
    let r = tables::mmuext(cmd, arg1, arg2)?;
    expect_done("flush", r, 1)?;
    expect_eq(
        "d1 word 0",
        F.read(0).unwrap_or(0),
        pattern::word(SEED_B, 0),
    )
}

fn set_ldt(t: &Tree) -> Outcome {
    let desc = |i: usize| if i == 0 { DATA_DPL3 } else { 0 };
    let ret = W.map_frame(t.ldt.mfn, true);
    expect_errno_or_ok("map the LDT frame", ret)?;
    let written = W.fill(desc);
    expect_errno_or_ok("unmap the LDT frame", W.unmap())?;
    if !written {
        fail!("writing the LDT frame failed");
    }
    expect_errno_or_ok("map the LDT read-only", L.map_frame(t.ldt.mfn, false))?;
    if descriptors::load_es(LDT_SELECTOR) {
        fail!("LDT selector loaded before set_ldt");
    }
    let r = tables::mmuext(MmuextCmd::SetLdt, L.va(), 1)?;
    expect_done("set_ldt", r, 1)?;
    let rights = descriptors::lar(LDT_SELECTOR);
    expect_eq(
        "lar(LDT 0)",
        u64::from(rights.unwrap_or(0)),
        u64::from(DATA_DPL3_RIGHTS),
    )?;
    if !descriptors::load_es(LDT_SELECTOR) {
        fail!("loading the LDT selector faulted after set_ldt");
    }
    let r = tables::mmuext(MmuextCmd::SetLdt, 0, 0)?;
    expect_done("set_ldt(0, 0)", r, 1)?;
    if descriptors::load_es(LDT_SELECTOR) {
        fail!("LDT selector still loads after set_ldt(0, 0)");
    }
    let r = tables::mmuext(MmuextCmd::SetLdt, L.va() + 8, 1)?;
    expect_refused("set_ldt(misaligned)", r, LDT_MISALIGNED_ERRNO, 0)?;
    expect_errno_or_ok("unmap the LDT", L.unmap())
}

fn clear_table_refused(t: &Tree) -> Outcome {
    let r = clear(t.l4.mfn)?;
    expect_refused("clear_page(pinned L4)", r, CLEAR_TABLE_ERRNO, 0)?;
    let e = read_entry(R, t.l4.mfn, tables::TEST_SLOT)?;
    if e & P == 0 {
        fail!("the test slot of the L4 was cleared");
    }
    Ok(())
}

fn pinned_not_writable(t: &Tree) -> Outcome {
    for (what, mfn) in [("L1", t.l1.mfn), ("L4", t.l4.mfn)] {
        let ret = W.map_frame(mfn, true);
        if ret == 0 {
            let _ = W.unmap();
        }
        expect_errno(what, ret, MAP_TABLE_RW_ERRNO)?;
    }
    expect_errno_or_ok("map L1 read-only", W.map_frame(t.l1.mfn, false))?;
    expect_errno_or_ok("unmap", W.unmap())
}

fn in_use_not_writable(t: &Tree) -> Outcome {
    expect_done("unpin(L1)", unpin(t.l1.mfn)?, 1)?;
    let ret = W.map_frame(t.l1.mfn, true);
    if ret == 0 {
        let _ = W.unmap();
    }
    expect_errno("map referenced L1 writable", ret, MAP_TABLE_RW_ERRNO)?;
    expect_done("mmu_update(L2[0] = 0)", update(t.l2.mfn, 0, 0)?, 1)?;
    expect_errno_or_ok("map unused L1 writable", W.map_frame(t.l1.mfn, true))?;
    expect_errno_or_ok("unmap", W.unmap())
}

fn unpin_all(t: &Tree) -> Outcome {
    for (what, mfn) in [("L4", t.l4.mfn), ("L3", t.l3.mfn), ("L2", t.l2.mfn)] {
        let r = unpin(mfn)?;
        if r.ret != 0 {
            fail!("unpin({}) returned {}", what, Ret(r.ret));
        }
    }
    let r = unpin(t.l2.mfn)?;
    expect_refused("unpin of an unpinned L2", r, UNPIN_UNPINNED_ERRNO, 0)?;
    for (what, mfn) in [("L4", t.l4.mfn), ("L3", t.l3.mfn), ("L2", t.l2.mfn)] {
        let ret = W.map_frame(mfn, true);
        if ret != 0 {
            fail!(
                "mapping the unpinned {} writable returned {}",
                what,
                Ret(ret)
            );
        }
        expect_errno_or_ok("unmap", W.unmap())?;
    }
    Ok(())
}
