//! Check group 2: a hypercall number nobody defines.

use hypercall_abi::Errno;

use super::context::Context;
use super::report::{Outcome, Report, expect_errno, fail};
use crate::arch::x86_64::xen;

/// A stub of the hypercall page with no hypercall behind it.
const UNKNOWN_NR: u8 = 60;

/// Runs the check.
pub fn run(_ctx: &Context, report: &mut Report) {
    report.check("hypercall.unknown_number", unknown_number());
}

fn unknown_number() -> Outcome {
    let Some(ret) = xen::hypercall_unknown(UNKNOWN_NR) else {
        fail!("hypercall {} is defined by the ABI", UNKNOWN_NR);
    };
    expect_errno("hypercall 60", ret, Errno::NoSys)
}
