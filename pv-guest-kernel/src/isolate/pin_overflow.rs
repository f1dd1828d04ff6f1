//! isolate=pin_overflow: repeated pins do not pile up references, and nothing is left behind.
// A pinned table cannot be pinned again (at its level or another), however often it is tried,
// so its counts cannot be driven up that way; one unpin then releases it. Many pin/unpin cycles,
// and many references from L2 entries and from several L2s, all unwind to an untyped frame.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::mmu::{MmuextCmd, MmuextOp};

use super::common::{Sentinel, W, refused, try_map};
use crate::arch::x86_64::frames::FreeFrame;
use crate::arch::x86_64::mmu_calls;
use crate::conform_mm::guest::{declined, take_frames};
use crate::conform_mm::tables::{
    self, A, P, RW, U, entry, expect_done, expect_refused, write_frame,
};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, fail};

/// Pinning a pinned table again, at any level: -EINVAL (observed on Xen 4.17).
const PIN_AGAIN_ERRNO: Errno = Errno::Inval;
/// unpin of a table that is not pinned: -EINVAL (observed on Xen 4.17).
const UNPIN_AGAIN_ERRNO: Errno = Errno::Inval;
/// Mapping a table that is pinned or referenced writable: -EBUSY (observed on Xen 4.17).
const MAP_TABLE_RW_ERRNO: Errno = Errno::Busy;
/// Repeated pins of the pinned table.
const REPEATS: usize = 1000;
/// Pin/unpin cycles.
const CYCLES: usize = 2000;
/// L2 tables whose every entry references the one L1.
const L2S: usize = 4;
/// Pins in one mmuext_op batch of the same frame.
const BATCH: usize = 16;

/// Runs the checks.
pub fn run(_ctx: &mut Context, report: &mut Report) {
    let setup = || -> Result<_, Detail> {
        let sentinel = Sentinel::new()?;
        let frames = take_frames::<{ 1 + L2S }>()?;
        expect_done("clear_page", tables::clear(frames[0].mfn)?, 1)?;
        Ok((sentinel, frames))
    };
    let (sentinel, frames) = match setup() {
        Ok(s) => s,
        Err(d) => {
            report.check("isolate.pin_overflow.setup", Err(d));
            return;
        }
    };
    let l1 = frames[0];
    report.check("isolate.pin_overflow.repeated_pins", repeated_pins(l1));
    report.check("isolate.pin_overflow.other_levels", other_levels(l1));
    report.check("isolate.pin_overflow.batch_of_pins", batch_of_pins(l1));
    report.check("isolate.pin_overflow.cycles", cycles(l1));
    report.check(
        "isolate.pin_overflow.many_references",
        many_references(l1, &frames[1..]),
    );
    report.check("isolate.pin_overflow.nothing_left", nothing_left(&frames));
    report.check("isolate.pin_overflow.unharmed", sentinel.unharmed(0));
}

fn untyped(f: FreeFrame) -> Outcome {
    let ret = try_map(f.mfn, true);
    if ret != 0 {
        fail!("frame {:#x} cannot be mapped writable: {}", f.mfn, Ret(ret));
    }
    Ok(())
}

fn repeated_pins(l1: FreeFrame) -> Outcome {
    expect_done("pin", tables::pin(1, l1.mfn)?, 1)?;
    for i in 0..REPEATS {
        let r = tables::pin(1, l1.mfn)?;
        if r.ret != PIN_AGAIN_ERRNO.to_ret() {
            fail!("pin number {} returned {}", i + 2, Ret(r.ret));
        }
    }
    expect_done("unpin", tables::unpin(l1.mfn)?, 1)?;
    expect_refused("second unpin", tables::unpin(l1.mfn)?, UNPIN_AGAIN_ERRNO, 0)?;
    untyped(l1)
}

fn other_levels(l1: FreeFrame) -> Outcome {
    expect_done("pin", tables::pin(1, l1.mfn)?, 1)?;
    for level in 2..=4 {
        expect_refused(
            "pin at another level",
            tables::pin(level, l1.mfn)?,
            PIN_AGAIN_ERRNO,
            0,
        )?;
    }
    refused(
        "map the pinned L1 writable",
        try_map(l1.mfn, true),
        MAP_TABLE_RW_ERRNO,
    )?;
    expect_done("unpin", tables::unpin(l1.mfn)?, 1)?;
    untyped(l1)
}

fn batch_of_pins(l1: FreeFrame) -> Outcome {
    let op = MmuextOp {
        cmd: MmuextCmd::PinL1Table as u32,
        pad: 0,
        arg1: l1.mfn,
        arg2: 0,
    };
    let r = mmu_calls::mmuext_op(&[op; BATCH], DOMID_SELF).map_err(declined)?;
    expect_refused("batch of pins", r, PIN_AGAIN_ERRNO, 1)?;
    expect_done("unpin", tables::unpin(l1.mfn)?, 1)?;
    untyped(l1)
}

fn cycles(l1: FreeFrame) -> Outcome {
    for i in 0..CYCLES {
        let pin = tables::pin(1, l1.mfn)?;
        let unpin = tables::unpin(l1.mfn)?;
        if pin.ret != 0 || unpin.ret != 0 {
            fail!(
                "cycle {}: pin {}, unpin {}",
                i,
                Ret(pin.ret),
                Ret(unpin.ret)
            );
        }
    }
    untyped(l1)
}

/// Every entry of several L2s references the one L1: 2048 references, all dropped again.
fn many_references(l1: FreeFrame, l2s: &[FreeFrame]) -> Outcome {
    for l2 in l2s {
        write_frame(W, l2.mfn, |_| entry(l1.mfn, P | RW | U | A))?;
        expect_done("pin L2", tables::pin(2, l2.mfn)?, 1)?;
    }
    refused(
        "map the referenced L1 writable",
        try_map(l1.mfn, true),
        MAP_TABLE_RW_ERRNO,
    )?;
    expect_done("pin the referenced L1", tables::pin(1, l1.mfn)?, 1)?;
    expect_done("unpin it", tables::unpin(l1.mfn)?, 1)?;
    for (i, l2) in l2s.iter().enumerate() {
        expect_done("unpin L2", tables::unpin(l2.mfn)?, 1)?;
        let ret = try_map(l1.mfn, true);
        let last = i + 1 == l2s.len();
        if last && ret != 0 {
            fail!("the L1 is still typed after every L2 let go: {}", Ret(ret));
        }
        if !last && ret != MAP_TABLE_RW_ERRNO.to_ret() {
            fail!(
                "the L1 mapped {} with {} L2s left",
                Ret(ret),
                l2s.len() - i - 1
            );
        }
    }
    Ok(())
}

fn nothing_left(frames: &[FreeFrame]) -> Outcome {
    for &f in frames {
        untyped(f)?;
        expect_done("clear_page", tables::clear(f.mfn)?, 1)?;
    }
    Ok(())
}
