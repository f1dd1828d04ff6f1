//! Check group 3: console_io refusals.

use hypercall_abi::Errno;
use hypercall_abi::console::ConsoleIoCmd;

use super::context::Context;
use super::report::{Outcome, Report, expect_errno, fail};
use crate::arch::x86_64::probes::HYPERVISOR_ADDRESS;
use crate::arch::x86_64::xen;

/// A console_io command nobody defines.
const UNKNOWN_CMD: u64 = 99;

/// Runs the console_io checks.
pub fn run(_ctx: &Context, report: &mut Report) {
    report.check("console_io.hypervisor_buffer", hypervisor_buffer());
    report.check("console_io.unknown_command", unknown_command());
}

fn hypervisor_buffer() -> Outcome {
    let Some(ret) = xen::console_io_foreign(ConsoleIoCmd::Write as u64, 16, HYPERVISOR_ADDRESS)
    else {
        fail!("write not offered");
    };
    expect_errno("write from a hypervisor address", ret, Errno::Fault)
}

fn unknown_command() -> Outcome {
    let Some(ret) = xen::console_io_foreign(UNKNOWN_CMD, 0, 0) else {
        fail!("command {} is defined by the ABI", UNKNOWN_CMD);
    };
    expect_errno("console_io(99)", ret, Errno::NoSys)
}
