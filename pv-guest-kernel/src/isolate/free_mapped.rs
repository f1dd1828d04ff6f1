//! isolate=free_mapped: giving back a frame that is still mapped frees nothing while mapped.
// Xen 4.17 accepts decrease_reservation of a frame the guest still maps, but the frame stays
// the guest's until its last reference goes: still counted in current_reservation, contents and
// M2P entry intact, mappable again, never handed out by increase_reservation. Only when the
// last mapping goes is it freed (then it counts no more and cannot be mapped). The same holds
// for a page table still referenced by another table.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::memory::{
    XENMEM_CURRENT_RESERVATION, XENMEM_DECREASE_RESERVATION, XENMEM_INCREASE_RESERVATION,
};

use super::common::{R, Sentinel, W, pinned_empty, refused, try_map};
use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::arch::x86_64::memory_calls;
use crate::conform_mm::guest::{declined, take_frames};
use crate::conform_mm::pattern;
use crate::conform_mm::tables::{
    self, A, L1_USER_ADDED, P, RW, U, entry, expect_done, expect_entry, update,
};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, expect_eq, fail};

/// Extents done by decrease_reservation of a frame still mapped: 1, accepted (observed on
/// Xen 4.17).
const DECREASE_MAPPED_DONE: i64 = 1;
/// Change of current_reservation while the given-back frame is still mapped: none (observed
/// on Xen 4.17: the frame is counted until freed).
const WHILE_MAPPED_DELTA: i64 = 0;
/// Extents done by a second decrease_reservation of the still-mapped frame: 1, accepted with
/// no further effect (observed on Xen 4.17).
const DECREASE_AGAIN_DONE: i64 = 1;
/// Mapping the still-mapped, given-back frame again: accepted (observed on Xen 4.17: it is
/// still ours while referenced).
const REMAP_RESULT: i64 = 0;
/// The M2P entry once the frame is freed: invalid (observed on Xen 4.17).
const M2P_FREED: u64 = u64::MAX;
/// Mapping the frame once freed: -EBUSY (observed on Xen 4.17).
const MAP_FREED_ERRNO: Errno = Errno::Busy;
/// Extents done by decrease_reservation of a pinned L1 (referenced by a pinned L2 or not): 1
/// (observed on Xen 4.17; the pin survives and keeps the frame, as any reference does).
const DECREASE_TABLE_DONE: i64 = 1;
/// unpin of that L1 afterwards: accepted, the pin survived the decrease (observed on Xen
/// 4.17).
const UNPIN_AFTER_DECREASE_RESULT: i64 = 0;
/// Pattern seed of the frame.
const SEED: u64 = 0x8D;
/// A word written through the surviving mapping.
const MARK: u64 = 0x0123_4567_89AB_CDEF;

fn current() -> i64 {
    memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, DOMID_SELF).unwrap_or(i64::MIN)
}

fn reservation(cmd: u32, extents: &mut [u64]) -> Result<i64, Detail> {
    memory_calls::reservation(cmd, extents, 0, 0, DOMID_SELF).map_err(declined)
}

fn expect_current(what: &str, want: i64) -> Outcome {
    let got = current();
    if got != want {
        fail!(
            "current_reservation {} is {}, expected {}",
            what,
            Ret(got),
            want
        );
    }
    Ok(())
}

/// Runs the checks.
pub fn run(_ctx: &mut Context, report: &mut Report) {
    let setup = || -> Result<_, Detail> {
        let sentinel = Sentinel::new()?;
        let [f] = take_frames::<1>()?;
        let ret = W.map_frame(f.mfn, true);
        if ret != 0 || !W.fill(|i| pattern::word(SEED, i)) {
            fail!("mapping and filling the frame failed ({})", Ret(ret));
        }
        Ok((sentinel, f, current()))
    };
    let (sentinel, f, pages) = match setup() {
        Ok(s) => s,
        Err(d) => {
            report.check("isolate.free_mapped.setup", Err(d));
            return;
        }
    };
    report.check("isolate.free_mapped.decrease", decrease(f));
    report.check(
        "isolate.free_mapped.still_counted",
        expect_current("after the decrease", pages + WHILE_MAPPED_DELTA),
    );
    report.check("isolate.free_mapped.intact", intact(f));
    report.check(
        "isolate.free_mapped.not_handed_out",
        not_handed_out(f, pages),
    );
    report.check("isolate.free_mapped.remap", remap(f));
    report.check(
        "isolate.free_mapped.decrease_again",
        decrease_again(f, pages),
    );
    report.check(
        "isolate.free_mapped.freed_on_unmap",
        freed_on_unmap(f, pages),
    );
    report.check("isolate.free_mapped.referenced_table", referenced_table());
    report.check("isolate.free_mapped.pinned_table", pinned_table());
    report.check("isolate.free_mapped.unharmed", sentinel.unharmed(-3));
}

fn decrease(f: FreeFrame) -> Outcome {
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut [f.mfn])?;
    if done != DECREASE_MAPPED_DONE {
        fail!("decrease_reservation(mapped frame) returned {}", Ret(done));
    }
    Ok(())
}

/// Contents, write access and M2P entry are the guest's still.
fn intact(f: FreeFrame) -> Outcome {
    pattern::compare(W, "given-back frame", |i| pattern::word(SEED, i))?;
    if !W.write(3, MARK) {
        fail!("writing through the surviving mapping failed");
    }
    expect_eq("word written", W.read(3).unwrap_or(0), MARK)?;
    expect_eq("M2P entry", frames::m2p(f.mfn).unwrap_or(0), f.pfn)
}

/// New memory never comes from the frame while it is still mapped.
fn not_handed_out(f: FreeFrame, pages: i64) -> Outcome {
    let mut ext = [0u64; 4];
    let done = reservation(XENMEM_INCREASE_RESERVATION, &mut ext)?;
    if done != 4 {
        fail!("increase_reservation returned {}", Ret(done));
    }
    if ext.contains(&f.mfn) {
        fail!("the still-mapped frame {:#x} was handed out again", f.mfn);
    }
    expect_current("after the increase", pages + 4)?;
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut ext)?;
    if done != 4 {
        fail!(
            "decrease_reservation of the new frames returned {}",
            Ret(done)
        );
    }
    expect_current("after giving them back", pages)
}

fn remap(f: FreeFrame) -> Outcome {
    let ret = R.map_frame(f.mfn, false);
    if ret != REMAP_RESULT {
        fail!("mapping the given-back frame again returned {}", Ret(ret));
    }
    let word = R.read(3);
    let _ = R.unmap();
    expect_eq("word through the new mapping", word.unwrap_or(0), MARK)
}

fn decrease_again(f: FreeFrame, pages: i64) -> Outcome {
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut [f.mfn])?;
    if done != DECREASE_AGAIN_DONE {
        fail!("decrease_reservation again returned {}", Ret(done));
    }
    expect_current("after the second decrease", pages)?;
    pattern::compare(W, "given-back frame", |i| {
        if i == 3 { MARK } else { pattern::word(SEED, i) }
    })
}

/// Dropping the last mapping frees the frame.
fn freed_on_unmap(f: FreeFrame, pages: i64) -> Outcome {
    let ret = W.unmap();
    if ret != 0 {
        fail!("unmapping returned {}", Ret(ret));
    }
    expect_current("after the last unmap", pages - 1)?;
    expect_eq("M2P entry", frames::m2p(f.mfn).unwrap_or(0), M2P_FREED)?;
    refused(
        "mapping the freed frame",
        try_map(f.mfn, false),
        MAP_FREED_ERRNO,
    )
}

/// A pinned L1 that a pinned L2 references, given back: it lives until the L2 lets go.
fn referenced_table() -> Outcome {
    let l1 = pinned_empty(1)?;
    let l2 = pinned_empty(2)?;
    let [data] = take_frames::<1>()?;
    pattern::fill(W, data.mfn, SEED)?;
    expect_done("L1[0]", update(l1.mfn, 0, entry(data.mfn, P | U | A))?, 1)?;
    expect_done(
        "L2[0]",
        update(l2.mfn, 0, entry(l1.mfn, P | RW | U | A))?,
        1,
    )?;
    let pages = current();
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut [l1.mfn])?;
    if done != DECREASE_TABLE_DONE {
        fail!("decrease_reservation(referenced L1) returned {}", Ret(done));
    }
    expect_current("after the decrease", pages)?;
    expect_entry(R, l1.mfn, 0, entry(data.mfn, P | U | A) | L1_USER_ADDED)?;
    let r = tables::unpin(l1.mfn)?;
    if r.ret != UNPIN_AFTER_DECREASE_RESULT {
        fail!("unpin of the given-back L1 returned {}", Ret(r.ret));
    }
    expect_current("after the unpin", pages)?;
    refused(
        "map the referenced L1 writable",
        try_map(l1.mfn, true),
        Errno::Busy,
    )?;
    expect_done("L2[0] = 0", update(l2.mfn, 0, 0)?, 1)?;
    expect_current("after the L2 let go", pages - 1)?;
    refused(
        "mapping the freed L1",
        try_map(l1.mfn, false),
        MAP_FREED_ERRNO,
    )?;
    expect_done("unpin L2", tables::unpin(l2.mfn)?, 1)?;
    Ok(())
}

/// A pinned L1 nothing else references, given back: the pin keeps it until unpinned.
fn pinned_table() -> Outcome {
    let l1 = pinned_empty(1)?;
    let pages = current();
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut [l1.mfn])?;
    if done != DECREASE_TABLE_DONE {
        fail!("decrease_reservation(pinned L1) returned {}", Ret(done));
    }
    expect_current("after the decrease", pages)?;
    refused(
        "map the pinned L1 writable",
        try_map(l1.mfn, true),
        Errno::Busy,
    )?;
    let r = tables::unpin(l1.mfn)?;
    if r.ret != UNPIN_AFTER_DECREASE_RESULT {
        fail!("unpin of the given-back L1 returned {}", Ret(r.ret));
    }
    expect_current("after the unpin", pages - 1)?;
    refused(
        "mapping the freed L1",
        try_map(l1.mfn, false),
        MAP_FREED_ERRNO,
    )
}
