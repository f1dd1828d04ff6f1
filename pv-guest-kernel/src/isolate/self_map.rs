//! isolate=self_map: a table that maps itself (or its parent) writable cannot be pinned.
// Each table is written through the window, unmapped, then offered to pin. After every refusal
// the frame must carry no type any more: it maps writable again, and is reused.

use hypercall_abi::Errno;

use super::common::{R, Sentinel, W, refused, try_map};
use crate::arch::x86_64::frames::FreeFrame;
use crate::conform_mm::guest::take_frames;
use crate::conform_mm::tables::{
    self, A, D, P, RW, TEST_SLOT, U, entry, expect_done, expect_entry, expect_refused, update,
    write_frame,
};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, fail};

/// Pinning an L1 with an entry mapping itself writable: -EBUSY, the error of the entry's
/// writable reference, passed up by the validation (observed on Xen 4.17).
const L1_SELF_RW_ERRNO: Errno = Errno::Busy;
/// Pinning an L1 with an entry mapping itself read-only: accepted (observed on Xen 4.17:
/// read-only mappings of page tables are allowed, this one included).
const L1_SELF_RO_RESULT: i64 = 0;
/// Pinning an L2 whose entry points to itself, writable: -EINVAL (observed on Xen 4.17).
const L2_SELF_ERRNO: Errno = Errno::Inval;
/// Pinning an L4 whose guest slot points to itself, writable: -EINVAL (observed on Xen 4.17).
const L4_SELF_ERRNO: Errno = Errno::Inval;
/// Pinning an L2 whose L1 maps that L2 writable: -EBUSY, from the L1's validation (observed
/// on Xen 4.17).
const L2_VIA_L1_ERRNO: Errno = Errno::Busy;
/// mmu_update making a pinned L1's entry map the L1 itself writable: -EBUSY (observed on Xen
/// 4.17).
const UPDATE_SELF_RW_ERRNO: Errno = Errno::Busy;

/// Mapping a pinned L1 writable: -EBUSY (observed on Xen 4.17).
const PINNED_RW_ERRNO: Errno = Errno::Busy;
/// Flags of a writable kernel entry.
const RW_FLAGS: u64 = P | RW | U | A | D;

/// Runs the checks.
pub fn run(_ctx: &mut Context, report: &mut Report) {
    let setup = || -> Result<_, Detail> { Ok((Sentinel::new()?, take_frames::<2>()?)) };
    let (sentinel, [a, b]) = match setup() {
        Ok(s) => s,
        Err(d) => {
            report.check("isolate.self_map.setup", Err(d));
            return;
        }
    };
    report.check("isolate.self_map.l1_writable", l1_writable(a));
    report.check("isolate.self_map.l1_read_only", l1_read_only(a));
    report.check(
        "isolate.self_map.l2_writable",
        self_table(a, 2, 0, L2_SELF_ERRNO),
    );
    report.check(
        "isolate.self_map.l4_writable",
        self_table(a, 4, TEST_SLOT, L4_SELF_ERRNO),
    );
    report.check("isolate.self_map.l2_through_l1", l2_through_l1(a, b));
    report.check("isolate.self_map.update_to_self", update_to_self(a));
    report.check("isolate.self_map.frames_reusable", reusable(&[a, b]));
    report.check("isolate.self_map.unharmed", sentinel.unharmed(0));
}

/// The frame carries no page-table type: it can be mapped writable.
fn untyped(f: FreeFrame) -> Outcome {
    let ret = try_map(f.mfn, true);
    if ret != 0 {
        fail!("frame {:#x} cannot be mapped writable: {}", f.mfn, Ret(ret));
    }
    Ok(())
}

fn l1_writable(a: FreeFrame) -> Outcome {
    write_frame(
        W,
        a.mfn,
        |i| if i == 5 { entry(a.mfn, RW_FLAGS) } else { 0 },
    )?;
    let r = tables::pin(1, a.mfn)?;
    if r.ret == 0 {
        let _ = tables::unpin(a.mfn);
    }
    expect_refused("pin L1 mapping itself writable", r, L1_SELF_RW_ERRNO, 0)?;
    untyped(a)
}

fn l1_read_only(a: FreeFrame) -> Outcome {
    write_frame(
        W,
        a.mfn,
        |i| if i == 5 { entry(a.mfn, P | U | A) } else { 0 },
    )?;
    let r = tables::pin(1, a.mfn)?;
    if r.ret != L1_SELF_RO_RESULT {
        fail!("pin L1 mapping itself read-only returned {}", r.ret);
    }
    refused(
        "map the pinned L1 writable",
        try_map(a.mfn, true),
        PINNED_RW_ERRNO,
    )?;
    expect_done("unpin", tables::unpin(a.mfn)?, 1)?;
    untyped(a)
}

/// A table of `level` whose entry `index` points to itself, writable, cannot be pinned.
fn self_table(a: FreeFrame, level: u8, index: usize, errno: Errno) -> Outcome {
    write_frame(W, a.mfn, |i| {
        if i == index {
            entry(a.mfn, RW_FLAGS)
        } else {
            0
        }
    })?;
    let r = tables::pin(level, a.mfn)?;
    if r.ret == 0 {
        let _ = tables::unpin(a.mfn);
    }
    expect_refused("pin of a self-referencing table", r, errno, 0)?;
    untyped(a)
}

/// L2 `a` -> L1 `b`, and `b` maps `a` writable: pinning `a` must fail.
fn l2_through_l1(a: FreeFrame, b: FreeFrame) -> Outcome {
    write_frame(
        W,
        b.mfn,
        |i| if i == 0 { entry(a.mfn, RW_FLAGS) } else { 0 },
    )?;
    write_frame(
        W,
        a.mfn,
        |i| if i == 0 { entry(b.mfn, RW_FLAGS) } else { 0 },
    )?;
    let r = tables::pin(2, a.mfn)?;
    if r.ret == 0 {
        let _ = tables::unpin(a.mfn);
    }
    expect_refused("pin L2 whose L1 maps it writable", r, L2_VIA_L1_ERRNO, 0)?;
    untyped(a)?;
    untyped(b)
}

/// A pinned, empty L1 cannot be made to map itself writable with mmu_update.
fn update_to_self(a: FreeFrame) -> Outcome {
    expect_done("clear_page", tables::clear(a.mfn)?, 1)?;
    expect_done("pin L1", tables::pin(1, a.mfn)?, 1)?;
    let r = update(a.mfn, 7, entry(a.mfn, RW_FLAGS))?;
    let outcome = expect_refused(
        "mmu_update(L1 -> itself writable)",
        r,
        UPDATE_SELF_RW_ERRNO,
        0,
    )
    .and_then(|()| expect_entry(R, a.mfn, 7, 0));
    expect_done("unpin", tables::unpin(a.mfn)?, 1)?;
    outcome
}

fn reusable(frames: &[FreeFrame]) -> Outcome {
    for &f in frames {
        expect_done("clear_page", tables::clear(f.mfn)?, 1)?;
        expect_done("pin L1", tables::pin(1, f.mfn)?, 1)?;
        expect_done("unpin", tables::unpin(f.mfn)?, 1)?;
        untyped(f)?;
    }
    Ok(())
}
