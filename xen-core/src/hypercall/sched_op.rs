//! sched_op: yield, block and poll, and shutting the calling domain down.

use core::mem::offset_of;

use hypercall_abi::Errno;
use hypercall_abi::event_channel::EVTCHN_2L_NR_CHANNELS;
use hypercall_abi::sched::{SchedOp, SchedPoll, SchedShutdown, ShutdownReason};
use hypercall_abi::shared_info::SharedInfo;
use xen_core::layout::PAGE_SIZE;
use xen_core::time::poll::{PollPorts, PollRequest, PollScan, PollWait};
use xen_core::time::runstate::RunState;

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::direct_map;
use crate::arch::x86_64::uaccess::read_guest;
use crate::domain::{Domain, Shutdown};
use crate::hypervisor::with_state;
use crate::{idle, time_glue};

/// Handles sched_op(cmd, arg).
pub fn sched_op(call: &mut Call<'_>, cmd: u64, arg: u64) -> Result<u64, Errno> {
    match SchedOp::try_from(cmd)? {
        // One vCPU, nothing else to run: yielding returns at once.
        SchedOp::Yield => Ok(0),
        SchedOp::Block => {
            with_state(|st| block(st.dom));
            Ok(0)
        }
        SchedOp::Poll => {
            let request: SchedPoll = read_guest(arg)?;
            let request = PollRequest::decode(&request)?;
            with_state(|st| poll(st.dom, &request))
        }
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

/// SCHEDOP_block: enables event delivery (clears the upcall mask), then waits until an event
/// is pending for the vCPU, unless one already is. The upcall itself is made on the way back
/// to the guest.
fn block(dom: &mut Domain) {
    dom.set_upcall_mask(0);
    if time_glue::upcall_pending(dom) {
        return;
    }
    time_glue::schedule_out(dom, RunState::Blocked);
    idle::wait_until(dom, |dom, _| time_glue::upcall_pending(dom));
    time_glue::schedule_in(dom);
}

/// `port`'s pending bit in the domain's shared_info (one read of guest-shared memory).
/// `port` is below EVTCHN_2L_NR_CHANNELS.
fn port_pending(dom: &Domain, port: u32) -> bool {
    let word = u64::from(port / 64) * 8;
    let maddr = dom.shared_info_mfn * PAGE_SIZE + offset_of!(SharedInfo, evtchn_pending) as u64;
    direct_map::read_u64(maddr + word) & (1 << (port % 64)) != 0
}

/// Whether `port` may be polled, and if so whether it is pending. Xen refuses with -EINVAL a
/// port that is not allocated or not in use; until the event-channel table is merged here,
/// only port 0 (always reserved) and ports beyond the 2-level ABI's 4096 are refused.
fn port_poll(dom: &Domain, port: u32) -> Result<bool, Errno> {
    if port == 0 || port >= EVTCHN_2L_NR_CHANNELS {
        return Err(Errno::Inval);
    }
    Ok(port_pending(dom, port))
}

/// SCHEDOP_poll, in Xen's order (see `time::poll`): returns 0 at once for a deliverable event
/// or a listed port already pending; otherwise waits for a listed port, a kicked event or the
/// timeout, and returns 0.
fn poll(dom: &mut Domain, req: &PollRequest) -> Result<u64, Errno> {
    let upcall_was_pending = time_glue::upcall_pending(dom);
    if upcall_was_pending && dom.upcall_mask() == 0 {
        return Ok(0);
    }
    let read = |i: u32| read_guest::<u32>(req.ports + u64::from(i) * 4);
    let ports = match PollPorts::scan(req, read, |port| port_poll(dom, port))? {
        PollScan::Pending => return Ok(0),
        PollScan::Block(ports) => ports,
    };
    let wait = PollWait {
        ports,
        upcall_was_pending,
    };
    dom.time.timers.set_poll_timeout(req.timeout);
    time_glue::schedule_out(dom, RunState::Blocked);
    idle::wait_until(dom, |dom, passed| {
        wait.wakes(
            |port| port_pending(dom, port),
            time_glue::upcall_pending(dom),
            passed.poll_timed_out,
        )
    });
    dom.time.timers.set_poll_timeout(None);
    time_glue::schedule_in(dom);
    Ok(0)
}
