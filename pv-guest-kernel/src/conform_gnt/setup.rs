//! conform=grants, the table itself: query_size, setup_table, set/get_version and whole-call errors.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::grant_table::{
    GNTST_BAD_DOMAIN, GNTST_GENERAL_ERROR, GNTTABOP_COPY, GNTTABOP_MAP_GRANT_REF,
    GNTTABOP_UNMAP_GRANT_REF,
};
use hypercall_abi::layout::HYPERVISOR_VIRT_START;

use super::grants::{NO_SUCH_DOMAIN, R, SELF_ID, T, expect_status};
use crate::arch::x86_64::frames;
use crate::arch::x86_64::grant_calls::{self, SharedTable};
use crate::conform_mm::guest::declined;
use crate::selftest::report::{Detail, Outcome, Report, expect_eq, expect_errno, expect_ret, fail};

/// Grant frames a domain starts with: 1 (observed on Xen 4.17).
const INITIAL_FRAMES: u32 = 1;
/// Grant frames a domain may have: 64, Xen's default `gnttab_max_frames` (observed on Xen
/// 4.17).
const MAX_FRAMES: u32 = 64;
/// Frames the growth check asks for.
const GROWN_FRAMES: u32 = 3;
/// The grant table version of every domain: 1 (observed on Xen 4.17).
const VERSION: u32 = 1;
/// set_version(2) with grant v2 not offered (Xen booted with `gnttab=max-ver:1`, which is
/// what xen-core implements): -ENOSYS, version 1 written back (observed on Xen 4.17).
const SET_V2_ERRNO: Errno = Errno::NoSys;
/// set_version of anything but 1 and 2: -EINVAL, version 1 written back (observed on Xen 4.17).
const SET_BAD_ERRNO: Errno = Errno::Inval;
/// get_version of a domain that does not exist: -ESRCH (observed on Xen 4.17).
const GET_NO_DOMAIN_ERRNO: Errno = Errno::Srch;
/// A sub-operation Xen 4.17 does not define (13): -ENOSYS (observed on Xen 4.17).
const UNKNOWN_OP: u32 = 13;
/// A whole-call argument Xen refuses: continuation bits on anything but cache_flush, a count
/// that is negative as an int, a setup_table or query_size count other than 1: -EINVAL
/// (observed on Xen 4.17).
const BAD_CALL_ERRNO: Errno = Errno::Inval;
/// A batch array, or a setup_table frame list, in the hypervisor's range: -EFAULT (observed
/// on Xen 4.17).
const BAD_ARRAY_ERRNO: Errno = Errno::Fault;

/// Runs the table checks; returns the grant table's first frame, mapped, for the rest.
pub fn checks(report: &mut Report) -> Option<SharedTable> {
    report.check("grants.query_size", query_size());
    report.check("grants.query_size_unknown_domain", query_unknown());
    report.check("grants.query_size_count", query_count());
    report.check("grants.get_version", get_version());
    report.check("grants.set_version", set_version());
    report.check("grants.unknown_op", unknown_op());
    report.check("grants.bad_call", bad_call());
    let table = setup_table();
    let ok = table.is_ok();
    let table = match table {
        Ok(t) => {
            report.check("grants.setup_table", Ok(()));
            Some(t)
        }
        Err(d) => {
            report.check("grants.setup_table", Err(d));
            None
        }
    };
    report.check("grants.setup_table_grow", grow(ok));
    report.check("grants.setup_table_too_many", too_many());
    report.check("grants.setup_table_unknown_domain", setup_unknown());
    report.check("grants.setup_table_bad_list", setup_bad_list());
    table
}

fn query_size() -> Outcome {
    for dom in [DOMID_SELF, SELF_ID] {
        let (ret, op) = grant_calls::query_size(dom, 1).map_err(declined)?;
        expect_ret("query_size", ret, 0)?;
        expect_status("query_size", op.status, 0)?;
        expect_eq(
            "nr_frames",
            u64::from(op.nr_frames),
            u64::from(INITIAL_FRAMES),
        )?;
        expect_eq(
            "max_nr_frames",
            u64::from(op.max_nr_frames),
            u64::from(MAX_FRAMES),
        )?;
    }
    Ok(())
}

fn query_unknown() -> Outcome {
    let (ret, op) = grant_calls::query_size(NO_SUCH_DOMAIN, 1).map_err(declined)?;
    expect_ret("query_size(no domain)", ret, 0)?;
    expect_status("query_size(no domain)", op.status, GNTST_BAD_DOMAIN)?;
    expect_eq("nr_frames (untouched)", u64::from(op.nr_frames), 0)
}

fn query_count() -> Outcome {
    for count in [0, 2] {
        let (ret, _) = grant_calls::query_size(DOMID_SELF, count).map_err(declined)?;
        expect_errno("query_size(count != 1)", ret, BAD_CALL_ERRNO)?;
    }
    Ok(())
}

fn get_version() -> Outcome {
    let (ret, v) = grant_calls::get_version(DOMID_SELF).map_err(declined)?;
    expect_ret("get_version", ret, 0)?;
    expect_eq("version", u64::from(v), u64::from(VERSION))?;
    let (ret, v) = grant_calls::get_version(NO_SUCH_DOMAIN).map_err(declined)?;
    expect_errno("get_version(no domain)", ret, GET_NO_DOMAIN_ERRNO)?;
    expect_eq("version (untouched)", u64::from(v), u64::from(u32::MAX))
}

fn set_version() -> Outcome {
    let cases: [(u32, i64); 4] = [
        (1, 0),
        (2, SET_V2_ERRNO.to_ret()),
        (0, SET_BAD_ERRNO.to_ret()),
        (3, SET_BAD_ERRNO.to_ret()),
    ];
    for (wanted, result) in cases {
        let (ret, v) = grant_calls::set_version(wanted).map_err(declined)?;
        if ret != result {
            fail!(
                "set_version({}) returned {}, expected {}",
                wanted,
                crate::selftest::report::Ret(ret),
                crate::selftest::report::Ret(result)
            );
        }
        expect_eq("version written back", u64::from(v), u64::from(VERSION))?;
    }
    Ok(())
}

fn unknown_op() -> Outcome {
    let ret = grant_calls::op_foreign_arg(UNKNOWN_OP, 0, 1).unwrap_or(0);
    expect_errno("grant_table_op(13)", ret, Errno::NoSys)
}

fn bad_call() -> Outcome {
    let hv = HYPERVISOR_VIRT_START;
    let call = |cmd, arg, count| grant_calls::op_foreign_arg(cmd, arg, count).unwrap_or(0);
    expect_errno(
        "copy with continuation bits",
        call(GNTTABOP_COPY | 1 << 12, 0, 1),
        BAD_CALL_ERRNO,
    )?;
    expect_errno(
        "map with a negative count",
        call(GNTTABOP_MAP_GRANT_REF, 0, 0x8000_0000),
        BAD_CALL_ERRNO,
    )?;
    for cmd in [
        GNTTABOP_MAP_GRANT_REF,
        GNTTABOP_UNMAP_GRANT_REF,
        GNTTABOP_COPY,
    ] {
        expect_errno(
            "batch in the hypervisor's range",
            call(cmd, hv, 1),
            BAD_ARRAY_ERRNO,
        )?;
    }
    Ok(())
}

/// setup_table(1): frame 0 of our table, a frame that is not in our P2M, mapped read-write at
/// the table window page.
fn setup_table() -> Result<SharedTable, Detail> {
    let mut list = [0u64; 2];
    let (ret, op) = grant_calls::setup_table(DOMID_SELF, 1, &mut list).map_err(declined)?;
    expect_ret("setup_table", ret, 0)?;
    expect_status("setup_table", op.status, 0)?;
    let frame = list[0];
    if frame == 0 || frames::in_p2m(frame) {
        fail!("grant frame {:#x} is 0 or one of our own", frame);
    }
    expect_eq("list[1] (untouched)", list[1], 0)?;
    let Some(table) = SharedTable::map(T, frame) else {
        fail!("mapping grant frame {:#x} read-write failed", frame);
    };
    // A fresh table is zeroed.
    for gref in 0..512 {
        match table.entry(gref) {
            Some(0) => {}
            Some(e) => fail!("entry {} of a fresh table is {:#x}", gref, e),
            None => fail!("entry {} unreadable", gref),
        }
    }
    // setup_table with our own id names the same table.
    let mut again = [0u64; 1];
    let (ret, op) = grant_calls::setup_table(SELF_ID, 1, &mut again).map_err(declined)?;
    expect_ret("setup_table(own id)", ret, 0)?;
    expect_status("setup_table(own id)", op.status, 0)?;
    expect_eq("frame 0 again", again[0], frame)?;
    Ok(table)
}

/// setup_table grows the table, never shrinks it, and reports the frames in order.
fn grow(table_ok: bool) -> Outcome {
    if !table_ok {
        fail!("no table");
    }
    let mut first = [0u64; 1];
    grant_calls::setup_table(DOMID_SELF, 1, &mut first).map_err(declined)?;
    let mut list = [0u64; GROWN_FRAMES as usize];
    let (ret, op) =
        grant_calls::setup_table(DOMID_SELF, GROWN_FRAMES, &mut list).map_err(declined)?;
    expect_ret("setup_table(3)", ret, 0)?;
    expect_status("setup_table(3)", op.status, 0)?;
    expect_eq("frame 0", list[0], first[0])?;
    if list[1] == list[0] || list[2] == list[0] || list[1] == list[2] {
        fail!("frames not distinct: {:#x?}", list);
    }
    for (i, &frame) in list.iter().enumerate() {
        if frames::in_p2m(frame) {
            fail!("grant frame {} ({:#x}) is one of our own", i, frame);
        }
        // Readable, and not ours to reuse: its M2P entry names no pseudo-physical frame.
        if R.map_frame(frame, false) != 0 {
            fail!(
                "grant frame {} ({:#x}) cannot be mapped read-only",
                i,
                frame
            );
        }
        let word = R.read(0);
        let _ = R.unmap();
        if word.is_none() {
            fail!("grant frame {} ({:#x}) unreadable", i, frame);
        }
    }
    let (_, q) = grant_calls::query_size(DOMID_SELF, 1).map_err(declined)?;
    expect_eq("nr_frames after growing", u64::from(q.nr_frames), 3)?;
    // Asking for fewer keeps them all.
    let mut one = [0u64; 1];
    let (ret, op) = grant_calls::setup_table(DOMID_SELF, 1, &mut one).map_err(declined)?;
    expect_ret("setup_table(1) again", ret, 0)?;
    expect_status("setup_table(1) again", op.status, 0)?;
    expect_eq("frame 0 after growing", one[0], list[0])?;
    let (_, q) = grant_calls::query_size(DOMID_SELF, 1).map_err(declined)?;
    expect_eq("nr_frames after asking for 1", u64::from(q.nr_frames), 3)
}

fn too_many() -> Outcome {
    let mut list = [0u64; MAX_FRAMES as usize + 1];
    let (ret, op) =
        grant_calls::setup_table(DOMID_SELF, MAX_FRAMES + 1, &mut list).map_err(declined)?;
    expect_ret("setup_table(65)", ret, 0)?;
    expect_status("setup_table(65)", op.status, GNTST_GENERAL_ERROR)?;
    if list.iter().any(|&f| f != 0) {
        fail!("the frame list was written");
    }
    let (_, q) = grant_calls::query_size(DOMID_SELF, 1).map_err(declined)?;
    expect_eq("nr_frames", u64::from(q.nr_frames), 3)
}

fn setup_unknown() -> Outcome {
    let mut list = [0u64; 1];
    let (ret, op) = grant_calls::setup_table(NO_SUCH_DOMAIN, 1, &mut list).map_err(declined)?;
    expect_ret("setup_table(no domain)", ret, 0)?;
    expect_status("setup_table(no domain)", op.status, GNTST_BAD_DOMAIN)?;
    expect_eq("list[0] (untouched)", list[0], 0)
}

fn setup_bad_list() -> Outcome {
    let ret = grant_calls::setup_table_foreign_list(1, HYPERVISOR_VIRT_START).unwrap_or(0);
    expect_errno("setup_table(list in the hypervisor)", ret, BAD_ARRAY_ERRNO)
}
