//! isolate=writable_pagetable: no page table of ours can be made writable, by any route.
// Routes: update_va_mapping (and its otherdomain form), mmu_update of the live L1 entry of a
// window page, mmu_update of an entry in one of our own test tables, and the reverse route of
// pinning a frame that is mapped writable. Targets: the initial L4, L3, L2 and the L1 that maps
// the window, and a pinned test tree (including an L1 that is no longer pinned but still
// referenced by its L2). The test tree must still translate at the end.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::mmu::{MmuUpdate, PTE_ADDR_MASK, UVMF_INVLPG, UVMF_LOCAL};

use super::common::{C, R, Sentinel, T, W, pinned_empty, refused, try_map};
use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::arch::x86_64::memory;
use crate::arch::x86_64::mmu_calls;
use crate::conform_mm::guest::{declined, take_frames};
use crate::conform_mm::pattern;
use crate::conform_mm::tables::{
    self, A, D, P, RW, TEST_SLOT, TEST_VA, U, entry, expect_done, expect_entry, expect_refused,
    req, update, updates,
};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, expect_eq, fail};

/// Making a page table writable with update_va_mapping, update_va_mapping_otherdomain or
/// mmu_update: -EBUSY, the frame cannot take the writable type (observed on Xen 4.17).
const WRITABLE_ERRNO: Errno = Errno::Busy;
/// Pinning a frame that is mapped writable: -EINVAL (observed on Xen 4.17).
const PIN_WRITABLE_ERRNO: Errno = Errno::Inval;
/// Pattern seed of the test tree's data page.
const SEED: u64 = 0x7C;

/// The initial tables on the way to the window: L4, L3, L2, L1.
fn initial_tables() -> Result<[u64; 4], Detail> {
    let Some(l4) = frames::initial_l4_mfn() else {
        fail!("pt_base has no P2M entry");
    };
    let Some(l1e) = W.l1_entry_maddr() else {
        fail!("no L1 entry for the window");
    };
    let Some(e4) = memory::initial_l4_entry(((W.va() >> 39) & 511) as usize) else {
        fail!("initial L4 unreadable");
    };
    let l3 = (e4 & PTE_ADDR_MASK) >> PAGE_SHIFT;
    let e3 = tables::read_entry(R, l3, ((W.va() >> 30) & 511) as usize)?;
    let l2 = (e3 & PTE_ADDR_MASK) >> PAGE_SHIFT;
    Ok([l4, l3, l2, l1e >> PAGE_SHIFT])
}

/// A pinned tree for the test region: L4 (with the kernel's slots) -> L3 -> L2 -> L1 -> data.
struct Tree {
    l4: u64,
    l3: u64,
    l2: u64,
    l1: u64,
    data: FreeFrame,
}

fn tree() -> Result<Tree, Detail> {
    let l1 = pinned_empty(1)?.mfn;
    let l2 = pinned_empty(2)?.mfn;
    let l3 = pinned_empty(3)?.mfn;
    let l4 = pinned_empty(4)?.mfn;
    let [data] = take_frames::<1>()?;
    pattern::fill(W, data.mfn, SEED)?;
    let mut reqs = tables::kernel_slot_copies(l4)?;
    let links = [
        req(l4, TEST_SLOT, entry(l3, P | RW | U | A)),
        req(l3, 0, entry(l2, P | RW | U | A)),
        req(l2, 0, entry(l1, P | RW | U | A)),
        req(l1, 0, entry(data.mfn, P | U | A)),
    ];
    for r in links {
        if reqs.push(r).is_err() {
            fail!("too many requests");
        }
    }
    expect_done("building the tree", updates(&reqs)?, reqs.len() as u32)?;
    Ok(Tree {
        l4,
        l3,
        l2,
        l1,
        data,
    })
}

/// Runs the checks.
pub fn run(_ctx: &mut Context, report: &mut Report) {
    let setup = || -> Result<_, Detail> {
        let sentinel = Sentinel::new()?;
        let initial = initial_tables()?;
        let tree = tree()?;
        Ok((sentinel, initial, tree))
    };
    let (sentinel, initial, tree) = match setup() {
        Ok(s) => s,
        Err(d) => {
            report.check("isolate.writable_pagetable.setup", Err(d));
            return;
        }
    };
    report.check(
        "isolate.writable_pagetable.initial_tables",
        initial_rw(&initial),
    );
    report.check(
        "isolate.writable_pagetable.otherdomain",
        otherdomain(&initial),
    );
    report.check(
        "isolate.writable_pagetable.live_l1_entry",
        live_l1_entry(&initial),
    );
    report.check("isolate.writable_pagetable.pinned_tree", pinned_tree(&tree));
    report.check("isolate.writable_pagetable.tree_entry", tree_entry(&tree));
    report.check(
        "isolate.writable_pagetable.referenced_l1",
        referenced_l1(&tree),
    );
    report.check("isolate.writable_pagetable.pin_writable", pin_writable());
    report.check(
        "isolate.writable_pagetable.tree_translates",
        translates(&tree),
    );
    report.check("isolate.writable_pagetable.unharmed", sentinel.unharmed(0));
}

fn initial_rw(initial: &[u64; 4]) -> Outcome {
    for (what, &mfn) in ["L4", "L3", "L2", "L1"].iter().zip(initial) {
        refused(what, try_map(mfn, true), WRITABLE_ERRNO)?;
    }
    Ok(())
}

fn otherdomain(initial: &[u64; 4]) -> Outcome {
    let pte = entry(initial[0], P | RW | U | A | D);
    let ret = T.map_otherdomain(pte, UVMF_INVLPG | UVMF_LOCAL, DOMID_SELF);
    if ret == 0 {
        let _ = T.unmap();
    }
    refused(
        "update_va_mapping_otherdomain(L4 writable)",
        ret,
        WRITABLE_ERRNO,
    )
}

fn live_l1_entry(initial: &[u64; 4]) -> Outcome {
    let Some(l1e) = T.l1_entry_maddr() else {
        fail!("no L1 entry for the window");
    };
    for (what, &mfn) in ["L4", "L1"].iter().zip([&initial[0], &initial[3]]) {
        let r = updates(&[MmuUpdate {
            ptr: l1e,
            val: entry(mfn, P | RW | U | A | D),
        }])?;
        if r.ret == 0 {
            let _ = T.unmap();
        }
        expect_refused(what, r, WRITABLE_ERRNO, 0)?;
    }
    Ok(())
}

fn pinned_tree(t: &Tree) -> Outcome {
    let tables = [("L4", t.l4), ("L3", t.l3), ("L2", t.l2), ("L1", t.l1)];
    for (what, mfn) in tables {
        refused(what, try_map(mfn, true), WRITABLE_ERRNO)?;
    }
    Ok(())
}

/// An entry of the tree's own L1 mapping each of its tables writable.
fn tree_entry(t: &Tree) -> Outcome {
    let tables = [("L4", t.l4), ("L3", t.l3), ("L2", t.l2), ("L1", t.l1)];
    for (what, mfn) in tables {
        let r = update(t.l1, 1, entry(mfn, P | RW | U | A | D))?;
        expect_refused(what, r, WRITABLE_ERRNO, 0)?;
        expect_entry(R, t.l1, 1, 0)?;
    }
    Ok(())
}

/// The L1, unpinned, is still referenced by the L2: it stays unwritable until unhooked.
fn referenced_l1(t: &Tree) -> Outcome {
    expect_done("unpin L1", tables::unpin(t.l1)?, 1)?;
    let outcome = refused("map the referenced L1", try_map(t.l1, true), WRITABLE_ERRNO);
    expect_done("pin L1 again", tables::pin(1, t.l1)?, 1)?;
    outcome
}

/// The reverse route: a frame mapped writable cannot become a page table.
fn pin_writable() -> Outcome {
    let [frame] = take_frames::<1>()?;
    expect_done("clear_page", tables::clear(frame.mfn)?, 1)?;
    let ret = W.map_frame(frame.mfn, true);
    if ret != 0 {
        fail!("mapping a fresh frame writable returned {}", Ret(ret));
    }
    let outcomes = [1u8, 2, 3, 4].map(|level| -> Outcome {
        let r = tables::pin(level, frame.mfn)?;
        if r.ret == 0 {
            let _ = tables::unpin(frame.mfn);
        }
        expect_refused("pin of a writable frame", r, PIN_WRITABLE_ERRNO, 0)
    });
    let base = mmu_calls::mmuext_one(hypercall_abi::mmu::MmuextCmd::NewUserBaseptr, frame.mfn, 0)
        .map_err(declined)?;
    let _ = W.unmap();
    outcomes.into_iter().collect::<Outcome>()?;
    expect_refused(
        "new_user_baseptr(writable frame)",
        base,
        PIN_WRITABLE_ERRNO,
        0,
    )
}

fn translates(t: &Tree) -> Outcome {
    let run = mmu_calls::read_through(t.l4, TEST_VA + 8, C).map_err(declined)?;
    if run.switch != 0 || run.back != 0 {
        fail!(
            "new_baseptr returned {} / {}",
            Ret(run.switch),
            Ret(run.back)
        );
    }
    expect_eq(
        "word read through the tree",
        run.value.unwrap_or(0),
        pattern::word(SEED, 1),
    )?;
    pattern::check(R, t.data.mfn, "tree data page", |i| pattern::word(SEED, i))
}
