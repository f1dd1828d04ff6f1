//! sched_op: yield, and shutting the calling domain down.

use hypercall_abi::Errno;
use hypercall_abi::sched::{SchedOp, SchedShutdown, ShutdownReason};

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::uaccess::read_guest;
use crate::domain::Shutdown;
use crate::hypervisor::with_state;

/// Handles sched_op(cmd, arg). Block and poll arrive with the scheduler (issue 4).
pub fn sched_op(call: &mut Call<'_>, cmd: u64, arg: u64) -> Result<u64, Errno> {
    match SchedOp::try_from(cmd)? {
        // One vCPU, nothing else to run: yielding returns at once.
        SchedOp::Yield => Ok(0),
        SchedOp::Shutdown => {
            let request: SchedShutdown = read_guest(arg)?;
            let how = match ShutdownReason::try_from(request.reason)? {
                ShutdownReason::Poweroff => Shutdown::PowerOff,
                ShutdownReason::Crash | ShutdownReason::Watchdog => Shutdown::Crash,
                ShutdownReason::Reboot | ShutdownReason::Suspend | ShutdownReason::SoftReset => {
                    Shutdown::Reboot
                }
            };
            call.exit = Exit::Stop(with_state(|st| {
                st.dom.shut_down(how, format_args!("sched_op shutdown"))
            }));
            Ok(0)
        }
        _ => Err(Errno::NoSys),
    }
}
