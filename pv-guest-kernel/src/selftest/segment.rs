//! Check group 8: set_segment_base for FS and the kernel GS, and its refusals.

use hypercall_abi::Errno;
use hypercall_abi::segment::SegBase;

use super::context::Context;
use super::report::{Outcome, Report, Ret, expect_eq, expect_errno, fail};
use crate::arch::x86_64::cpu::{self, SegRead};
use crate::arch::x86_64::xen;

/// A `which` nobody defines.
const UNKNOWN_WHICH: u64 = 9;
/// A non-canonical base.
const NON_CANONICAL_BASE: u64 = 0x8000_0000_0000_0000;
/// set_segment_base with a non-canonical base: -EINVAL (observed on Xen 4.17).
const NON_CANONICAL_ERRNO: Errno = Errno::Inval;

/// Runs the segment-base checks.
pub fn run(_ctx: &Context, report: &mut Report) {
    report.check(
        "set_segment_base.fs",
        through(SegBase::Fs, 0x4653_4241_5345_0001),
    );
    report.check(
        "set_segment_base.gs_kernel",
        through(SegBase::GsKernel, 0x4753_4241_5345_0002),
    );
    report.check("set_segment_base.unknown_which", unknown_which());
    report.check("set_segment_base.non_canonical", non_canonical());
}

fn through(which: SegBase, value: u64) -> Outcome {
    match cpu::read_through_base(which, &value) {
        SegRead::Refused(ret) => fail!("set_segment_base returned {}", Ret(ret)),
        SegRead::Read(None) => fail!("the read through the base faulted"),
        SegRead::Read(Some(read)) => expect_eq("value read", read, value),
    }
}

fn unknown_which() -> Outcome {
    expect_errno(
        "set_segment_base(9)",
        xen::set_segment_base(UNKNOWN_WHICH, 0),
        Errno::Inval,
    )
}

fn non_canonical() -> Outcome {
    let ret = xen::set_segment_base(SegBase::Fs as u64, NON_CANONICAL_BASE);
    if ret == 0 {
        let _ = xen::set_segment_base(SegBase::Fs as u64, 0);
    }
    expect_errno(
        "set_segment_base(fs, non-canonical)",
        ret,
        NON_CANONICAL_ERRNO,
    )
}
