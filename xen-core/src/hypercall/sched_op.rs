//! sched_op: yield, block and poll, and shutting the calling domain down.

use hypercall_abi::Errno;
use hypercall_abi::sched::{
    SchedOp, SchedPoll, SchedRemoteShutdown, SchedShutdown, ShutdownReason,
};
use xen_core::time::poll::{PollPorts, PollRequest, PollScan, PollWait};

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::uaccess::read_guest;
use crate::domain::{Domain, Shutdown};
use crate::hypervisor::with_state;
use crate::{event_glue, schedule, time_glue};
use hypercall_abi::event_channel::VIRQ_DOM_EXC;

/// Handles sched_op(cmd, arg).
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
        SchedOp::Block => {
            if with_state(|st| block(st.dom)) {
                call.exit = Exit::Reschedule;
            }
            Ok(0)
        }
        SchedOp::Poll => {
            let request: SchedPoll = read_guest(arg)?;
            let request = PollRequest::decode(&request)?;
            if with_state(|st| poll(st.dom, &request))? {
                call.exit = Exit::Reschedule;
            }
            Ok(0)
        }
        SchedOp::Shutdown => {
            let request: SchedShutdown = read_guest(arg)?;
            let how = shutdown_kind(request.reason)?;
            call.exit = with_state(|st| st.dom.shut_down(how, format_args!("sched_op shutdown")));
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

/// SCHEDOP_block: enables event delivery (clears the upcall mask); unless an event is already
/// pending, the vCPU blocks until one is (the scheduler runs something else meanwhile). The
/// upcall itself is made on the way back to the guest. Returns whether it blocked.
fn block(dom: &mut Domain) -> bool {
    dom.set_upcall_mask(0);
    if time_glue::upcall_pending(dom) {
        return false;
    }
    dom.blocked = true;
    true
}

/// Whether `port` may be polled (Xen 4.17, observed: -EINVAL for the reserved port 0 and past
/// the ports the domain has), and if so whether it is pending.
fn port_poll(dom: &Domain, port: u32) -> Result<bool, Errno> {
    if port == 0 || !dom.events.is_valid(port) {
        return Err(Errno::Inval);
    }
    Ok(time_glue::port_pending(dom, port))
}

/// SCHEDOP_poll, in Xen's order (see `time::poll`): returns 0 at once for a deliverable event
/// or a listed port already pending; otherwise the vCPU blocks until a listed port is pending,
/// an event is kicked to it or the timeout passes (`schedule::kick` ends the wait), and the
/// call returns 0 then. Returns whether it blocked.
fn poll(dom: &mut Domain, req: &PollRequest) -> Result<bool, Errno> {
    let upcall_was_pending = time_glue::upcall_pending(dom);
    if upcall_was_pending && dom.upcall_mask() == 0 {
        return Ok(false);
    }
    let read = |i: u32| read_guest::<u32>(req.ports + u64::from(i) * 4);
    let ports = match PollPorts::scan(req, read, |port| port_poll(dom, port))? {
        PollScan::Pending => return Ok(false),
        PollScan::Block(ports) => ports,
    };
    dom.time.poll = Some(PollWait {
        ports,
        upcall_was_pending,
    });
    dom.time.timers.set_poll_timeout(req.timeout);
    dom.blocked = true;
    Ok(true)
}
