//! conform=multicall: batches of hypercalls with per-entry results, failures, nesting.

use core::cell::Cell;

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::layout::HYPERVISOR_VIRT_START;
use hypercall_abi::memory::XENMEM_CURRENT_RESERVATION;
use hypercall_abi::mmu::{MmuextCmd, MmuextOp};
use hypercall_abi::start_info::StartInfo;
use hypercall_abi::version::XenVersionCmd;

use super::guest::{self, declined, take_frames};
use super::pattern;
use super::tables::{self, A, P, RW, U, entry, expect_done, req};
use crate::arch::x86_64::frames::FreeFrame;
use crate::arch::x86_64::multicall::{self, Entry, RESULT_UNWRITTEN};
use crate::arch::x86_64::window::Slot;
use crate::arch::x86_64::xen;
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, expect_eq, fail};

/// Window slot the batches remap.
const M: Slot = match Slot::get(5) {
    Some(s) => s,
    None => panic!("no window slot 5"),
};
/// Window slot used to fill frames.
const W: Slot = match Slot::get(0) {
    Some(s) => s,
    None => panic!("no window slot 0"),
};

/// A hypercall number nobody defines.
const UNKNOWN_NR: u64 = 60;
/// A xen_version command nobody defines.
const UNKNOWN_VERSION_CMD: u64 = 64;
/// Pattern seed of the data page.
const SEED: u64 = 0x3E;

/// The result of a nested multicall entry: -EINVAL, re-entering multicall is refused and its
/// entries are not run (observed on Xen 4.17).
const NESTED_ERRNO: Errno = Errno::Inval;
/// The result of an entry with an undefined hypercall number: -ENOSYS (observed on Xen 4.17).
const UNKNOWN_ERRNO: Errno = Errno::NoSys;
/// The result of an mmu_update entry making the L4 writable: -EBUSY (observed on Xen 4.17).
const WRITABLE_L4_ERRNO: Errno = Errno::Busy;
/// multicall with its list in the hypervisor's range: -EFAULT (observed on Xen 4.17).
const BAD_LIST_ERRNO: Errno = Errno::Fault;

/// Runs the multicall checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=multicall", start_info, p2m, checks)
}

fn checks(ctx: &mut Context, report: &mut Report) {
    let (data, l1) = match take_frames::<2>() {
        Ok([d, l1]) => (d, l1),
        Err(d) => {
            report.check("multicall.frames", Err(d));
            return;
        }
    };
    report.check("multicall.batch", batch(ctx));
    report.check("multicall.failing_entry", failing_entry(ctx, data, l1));
    report.check("multicall.nested", nested());
    report.check("multicall.unknown_hypercall", unknown_hypercall());
    report.check("multicall.empty", empty());
    report.check("multicall.list_in_hypervisor", list_in_hypervisor());
}

fn result_is(what: &str, e: &Entry<'_>, want: i64) -> Outcome {
    let got = e.result() as i64;
    if got != want {
        if e.result() == RESULT_UNWRITTEN {
            fail!("{}: result not written, expected {}", what, Ret(want));
        }
        fail!("{}: result {}, expected {}", what, Ret(got), Ret(want));
    }
    Ok(())
}

fn version_entry(cmd: u64) -> Result<Entry<'static>, Detail> {
    match Entry::xen_version(cmd) {
        Some(e) => Ok(e),
        None => fail!("xen_version({}) not offered", cmd),
    }
}

fn run_batch(entries: &[Entry<'_>]) -> Outcome {
    match multicall::multicall(entries) {
        Some(0) => Ok(()),
        Some(ret) => fail!("multicall returned {}", Ret(ret)),
        None => fail!("batch too large"),
    }
}

fn batch(ctx: &Context) -> Outcome {
    let version = xen::xen_version_plain(XenVersionCmd::Version as u64);
    let domid = DOMID_SELF;
    let Some(reservation) = Entry::reservation_query(XENMEM_CURRENT_RESERVATION, &domid) else {
        fail!("current_reservation not offered");
    };
    let ops = [MmuextOp {
        cmd: MmuextCmd::TlbFlushLocal as u32,
        pad: 0,
        arg1: 0,
        arg2: 0,
    }];
    let done = Cell::new(u32::MAX);
    let flush = Entry::mmuext(&ops, &done, DOMID_SELF).map_err(declined)?;
    let entries = [
        version_entry(XenVersionCmd::Version as u64)?,
        version_entry(XenVersionCmd::Pagesize as u64)?,
        reservation,
        flush,
    ];
    run_batch(&entries)?;
    result_is("xen_version(version)", &entries[0], version)?;
    result_is("xen_version(pagesize)", &entries[1], 4096)?;
    result_is(
        "current_reservation",
        &entries[2],
        ctx.start_info.nr_pages as i64,
    )?;
    result_is("mmuext_op(tlb_flush_local)", &entries[3], 0)?;
    expect_eq("mmuext_op done", u64::from(done.get()), 1)
}

/// A batch whose middle entries fail: the others still run, each with its own result.
fn failing_entry(ctx: &Context, data: FreeFrame, l1: FreeFrame) -> Outcome {
    pattern::fill(W, data.mfn, SEED)?;
    expect_done("clear_page", tables::clear(l1.mfn)?, 1)?;
    expect_done("pin L1", tables::pin(1, l1.mfn)?, 1)?;
    let Some(l4) = ctx.l4_mfn() else {
        fail!("pt_base has no P2M entry");
    };
    let version = xen::xen_version_plain(XenVersionCmd::Version as u64);
    // An entry of a pinned L1 of ours mapping the L4 writable: mmu_update must refuse it.
    let bad = [req(l1.mfn, 0, entry(l4, P | RW | A | U))];
    let done = Cell::new(u32::MAX);
    let bad_update = Entry::mmu_update(&bad, &done, u32::from(DOMID_SELF)).map_err(declined)?;
    let entries = [
        version_entry(XenVersionCmd::Version as u64)?,
        version_entry(UNKNOWN_VERSION_CMD)?,
        bad_update,
        Entry::update_va_mapping(M, entry(data.mfn, P | A | U), 2),
    ];
    run_batch(&entries)?;
    result_is("xen_version(version)", &entries[0], version)?;
    result_is("xen_version(64)", &entries[1], Errno::NoSys.to_ret())?;
    result_is(
        "mmu_update(L4 writable)",
        &entries[2],
        WRITABLE_L4_ERRNO.to_ret(),
    )?;
    expect_eq("mmu_update done", u64::from(done.get()), 0)?;
    result_is("update_va_mapping", &entries[3], 0)?;
    expect_eq(
        "word through the remapped slot",
        M.read(7).unwrap_or(0),
        pattern::word(SEED, 7),
    )?;
    expect_done("unpin L1", tables::unpin(l1.mfn)?, 1)
}

fn nested() -> Outcome {
    let version = xen::xen_version_plain(XenVersionCmd::Version as u64);
    let inner = [version_entry(XenVersionCmd::Version as u64)?];
    let Some(nest) = Entry::multicall(&inner) else {
        fail!("nested multicall not offered");
    };
    let entries = [
        version_entry(XenVersionCmd::Version as u64)?,
        nest,
        version_entry(XenVersionCmd::Pagesize as u64)?,
    ];
    run_batch(&entries)?;
    result_is("first entry", &entries[0], version)?;
    result_is("nested multicall", &entries[1], NESTED_ERRNO.to_ret())?;
    result_is("last entry", &entries[2], 4096)?;
    expect_eq("inner entry result", inner[0].result(), RESULT_UNWRITTEN)
}

fn unknown_hypercall() -> Outcome {
    let Some(unknown) = Entry::unknown(UNKNOWN_NR) else {
        fail!("hypercall {} is defined", UNKNOWN_NR);
    };
    let entries = [unknown, version_entry(XenVersionCmd::Pagesize as u64)?];
    run_batch(&entries)?;
    result_is("hypercall 60", &entries[0], UNKNOWN_ERRNO.to_ret())?;
    result_is("xen_version(pagesize)", &entries[1], 4096)
}

fn empty() -> Outcome {
    run_batch(&[])
}

fn list_in_hypervisor() -> Outcome {
    let ret = multicall::multicall_hypervisor_list(HYPERVISOR_VIRT_START + 0x1000, 1);
    let ret = ret.unwrap_or(0);
    if ret != BAD_LIST_ERRNO.to_ret() {
        fail!(
            "multicall returned {}, expected {}",
            Ret(ret),
            Ret(BAD_LIST_ERRNO.to_ret())
        );
    }
    Ok(())
}
