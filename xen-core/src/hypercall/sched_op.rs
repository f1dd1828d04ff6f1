//! sched_op: yield, and shutting the calling domain down.

use hypercall_abi::Errno;
use hypercall_abi::sched::{SchedOp, SchedRemoteShutdown, SchedShutdown, ShutdownReason};

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::uaccess::read_guest;
use crate::domain::Shutdown;
use crate::hypervisor::with_state;
use crate::{event_glue, schedule};
use hypercall_abi::event_channel::VIRQ_DOM_EXC;

/// Handles sched_op(cmd, arg). Block and poll arrive with the scheduler (issue 4).
pub fn sched_op(call: &mut Call<'_>, cmd: u64, arg: u64) -> Result<u64, Errno> {
    match SchedOp::try_from(cmd)? {
        // The vCPU goes behind the others of its priority; alone, it runs on at once.
        SchedOp::Yield => {
            let others = with_state(|st| {
                let _ = st.sched.yield_(schedule::vcpu_of(st.dom.id));
                st.sched.runqueue(0).next().is_some()
            });
            if others {
                call.exit = Exit::Reschedule;
            }
            Ok(0)
        }
        SchedOp::RemoteShutdown => {
            let request: SchedRemoteShutdown = read_guest(arg)?;
            remote_shutdown(call, request)
        }
        SchedOp::Shutdown => {
            let request: SchedShutdown = read_guest(arg)?;
            let how = shutdown_kind(request.reason)?;
            call.exit = with_state(|st| {
                st.dom.shut_down(how, format_args!("sched_op shutdown"))
            });
            Ok(0)
        }
        _ => Err(Errno::NoSys),
    }
}

/// What a `SHUTDOWN_*` reason means for the domain.
fn shutdown_kind(reason: u32) -> Result<Shutdown, Errno> {
    Ok(match ShutdownReason::try_from(reason)? {
        ShutdownReason::Poweroff => Shutdown::PowerOff,
        ShutdownReason::Crash | ShutdownReason::Watchdog => Shutdown::Crash,
        ShutdownReason::Reboot | ShutdownReason::Suspend | ShutdownReason::SoftReset => {
            Shutdown::Reboot
        }
    })
}

/// SCHEDOP_remote_shutdown: the control domain shuts another domain down (Xen: -ESRCH for
/// no such domain, -EPERM without the privilege, -EINVAL for a bad reason).
fn remote_shutdown(call: &mut Call<'_>, request: SchedRemoteShutdown) -> Result<u64, Errno> {
    let how = shutdown_kind(request.reason)?;
    with_state(|mut st| {
        if !st.dom.is_control() {
            return Err(Errno::Perm);
        }
        let self_id = st.dom.id;
        let id = request.domain_id;
        let dom = st.lookup(id).ok_or(Errno::Srch)?;
        let exit = dom.shut_down(how, format_args!("remote shutdown by domain {self_id}"));
        if id == self_id {
            call.exit = exit;
        } else {
            let dom = st.domains.get_mut(id).ok_or(Errno::Srch)?;
            schedule::sync_runnable(st.sched, dom);
            if !core::mem::replace(&mut dom.dom_exc_sent, true) {
                event_glue::send_global_virq(&mut st, VIRQ_DOM_EXC);
            }
        }
        Ok(0)
    })
}
