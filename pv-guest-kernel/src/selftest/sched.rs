//! Check group 11: sched_op yield and an unknown command.

use hypercall_abi::Errno;

use super::context::Context;
use super::report::{Outcome, Report, expect_errno, expect_ret, fail};
use crate::arch::x86_64::xen;

/// A sched_op command nobody defines.
const UNKNOWN_CMD: u64 = 64;

/// Runs the sched_op checks.
pub fn run(_ctx: &Context, report: &mut Report) {
    report.check("sched_op.yield", expect_ret("yield", xen::sched_yield(), 0));
    report.check("sched_op.unknown_command", unknown_command());
}

fn unknown_command() -> Outcome {
    let Some(ret) = xen::sched_op_unknown(UNKNOWN_CMD) else {
        fail!("command {} is defined by the ABI", UNKNOWN_CMD);
    };
    expect_errno("sched_op(64)", ret, Errno::NoSys)
}
