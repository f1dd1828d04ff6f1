//! event_channel_op: the 2-level event channel operations, on the caller's ports and other domains'.
//!
//! Each command reads its struct, decodes it (`xen_core::event::request`), acts under the state
//! lock with `xen_core::event::ops`, and writes the struct back on success, as Xen 4.17 does.
//! Deliveries to a domain are recorded on it (`Domain::note_delivery`); the upcall itself is
//! bounced on the way back to that domain's guest (`event_glue::deliver_upcall`).

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::{
    EVTCHNOP_EXPAND_ARRAY, EVTCHNOP_INIT_CONTROL, EVTCHNOP_SET_PRIORITY, EvtchnAllocUnbound,
    EvtchnBindInterdomain, EvtchnBindIpi, EvtchnBindPirq, EvtchnBindVcpu, EvtchnBindVirq,
    EvtchnClose, EvtchnReset, EvtchnSend, EvtchnStatus, EvtchnUnmask,
};
use xen_core::event::ops::{self, Peer, SendOutcome};
use xen_core::event::port_table::PortState;
use xen_core::event::request::{
    AllocUnboundRequest, BindInterdomainRequest, BindIpiRequest, BindPirqRequest, BindVcpuRequest,
    BindVirqRequest, EvtchnCmd, PortRequest, ResetRequest, StatusRequest,
};

use crate::arch::x86_64::uaccess::{read_guest, write_guest};
use crate::domain::Domain;
use crate::event_glue;
use crate::hypervisor::{State, with_state};
use crate::pirq_glue;

/// Handles event_channel_op(cmd, arg).
pub fn event_channel_op(cmd: u64, arg: u64) -> Result<u64, Errno> {
    // Xen takes `cmd` as an int.
    let cmd = cmd as u32;
    match cmd {
        // Only the 2-level ABI: as a Xen without the FIFO ABI answers, so guests keep 2-level.
        EVTCHNOP_INIT_CONTROL => return Err(Errno::NoSys),
        // What Xen 4.17 answers a domain that is still on the 2-level ABI.
        EVTCHNOP_EXPAND_ARRAY => {
            read_guest::<u64>(arg)?;
            return Err(Errno::OpNotSupp);
        }
        EVTCHNOP_SET_PRIORITY => {
            let port = read_guest::<u64>(arg)? as u32;
            return with_state(|st| {
                if st.dom.events.is_valid(port) {
                    Err(Errno::NoSys)
                } else {
                    Err(Errno::Inval)
                }
            });
        }
        _ => {}
    }
    match EvtchnCmd::from_raw(cmd)? {
        EvtchnCmd::AllocUnbound => alloc_unbound(arg),
        EvtchnCmd::BindInterdomain => bind_interdomain(arg),
        EvtchnCmd::BindVirq => bind_virq(arg),
        EvtchnCmd::BindPirq => bind_pirq(arg),
        EvtchnCmd::BindIpi => bind_ipi(arg),
        EvtchnCmd::Close => close(arg),
        EvtchnCmd::Send => send(arg),
        EvtchnCmd::Status => status(arg),
        EvtchnCmd::BindVcpu => bind_vcpu(arg),
        EvtchnCmd::Unmask => unmask(arg),
        EvtchnCmd::Reset => reset(arg),
    }
}

/// Xen's `XSM_TARGET` with the dummy policy: a domain acts on itself, the control domain on
/// any.
fn may_act_on(caller: &Domain, target: DomId) -> bool {
    caller.id == target || caller.is_control()
}

fn caller_id() -> DomId {
    with_state(|st| st.dom.id)
}

fn alloc_unbound(arg: u64) -> Result<u64, Errno> {
    let mut raw: EvtchnAllocUnbound = read_guest(arg)?;
    let req = AllocUnboundRequest::decode(&raw, caller_id())?;
    raw.port = with_state(|mut st| {
        let allowed = may_act_on(st.dom, req.dom);
        let target = st.lookup(req.dom).ok_or(Errno::Srch)?;
        if !allowed {
            return Err(Errno::Perm);
        }
        ops::alloc_unbound(&mut target.events, req.remote_dom)
    })?;
    write_guest(arg, &raw)?;
    Ok(0)
}

fn bind_interdomain(arg: u64) -> Result<u64, Errno> {
    let mut raw: EvtchnBindInterdomain = read_guest(arg)?;
    let req = BindInterdomainRequest::decode(&raw, caller_id())?;
    raw.local_port = with_state(|st| {
        let bits = st.dom.event_bits();
        let peer = if req.remote_dom == st.dom.id {
            Peer::SelfDomain
        } else {
            let remote = st.domains.get_mut(req.remote_dom).ok_or(Errno::Srch)?;
            Peer::Other(&mut remote.events)
        };
        let (port, delivery) =
            ops::bind_interdomain(&mut st.dom.events, &bits, peer, req.remote_port)?;
        st.dom.note_delivery(delivery);
        Ok(port)
    })?;
    write_guest(arg, &raw)?;
    Ok(0)
}

fn bind_virq(arg: u64) -> Result<u64, Errno> {
    let mut raw: EvtchnBindVirq = read_guest(arg)?;
    let req = BindVirqRequest::decode(&raw)?;
    raw.port = with_state(|st| ops::bind_virq(&mut st.dom.events, req.virq, req.vcpu))?;
    write_guest(arg, &raw)?;
    Ok(0)
}

/// Binds a PIRQ the caller mapped (`pirq_glue::bind`: Xen's errors, the line unmasked).
fn bind_pirq(arg: u64) -> Result<u64, Errno> {
    let mut raw: EvtchnBindPirq = read_guest(arg)?;
    let req = BindPirqRequest::decode(&raw);
    raw.port = with_state(|st| pirq_glue::bind(st.dom, req.pirq))?;
    write_guest(arg, &raw)?;
    Ok(0)
}

fn bind_ipi(arg: u64) -> Result<u64, Errno> {
    let mut raw: EvtchnBindIpi = read_guest(arg)?;
    let req = BindIpiRequest::decode(&raw);
    raw.port = with_state(|st| ops::bind_ipi(&mut st.dom.events, req.vcpu))?;
    write_guest(arg, &raw)?;
    Ok(0)
}

fn close(arg: u64) -> Result<u64, Errno> {
    let req = PortRequest::from_close(&read_guest::<EvtchnClose>(arg)?);
    with_state(|st| {
        let bits = st.dom.event_bits();
        let peer = st
            .dom
            .events
            .interdomain_peer(req.port)
            .and_then(|id| st.domains.get_mut(id))
            .map(|d| &mut d.events);
        let was = ops::close(&mut st.dom.events, &bits, peer, req.port)?;
        if let PortState::Pirq(pirq) = was {
            pirq_glue::unbound(&mut st.dom.pirqs, pirq);
        }
        Ok(0)
    })
}

fn send(arg: u64) -> Result<u64, Errno> {
    let req = PortRequest::from_send(&read_guest::<EvtchnSend>(arg)?);
    with_state(|st| {
        match ops::send(&st.dom.events, &st.dom.event_bits(), req.port)? {
            SendOutcome::Local(delivery) => st.dom.note_delivery(delivery),
            SendOutcome::Remote(remote) => {
                // A peer that is gone has no port to mark: the event is dropped.
                if let Some(to) = st.domains.get_mut(remote.to_dom) {
                    let delivery = ops::deliver_remote(&to.events, &to.event_bits(), remote);
                    to.note_delivery(delivery);
                    crate::schedule::kick(st.sched, to);
                }
            }
        }
        Ok(0)
    })
}

fn status(arg: u64) -> Result<u64, Errno> {
    let mut raw: EvtchnStatus = read_guest(arg)?;
    let req = StatusRequest::decode(&raw, caller_id())?;
    with_state(|mut st| {
        let allowed = may_act_on(st.dom, req.dom);
        let target = st.lookup(req.dom).ok_or(Errno::Srch)?;
        // Xen checks the port before the permission.
        let mut out = raw;
        ops::status(&target.events, req.port, &mut out)?;
        if !allowed {
            return Err(Errno::Perm);
        }
        raw = out;
        Ok(())
    })?;
    write_guest(arg, &raw)?;
    Ok(0)
}

fn bind_vcpu(arg: u64) -> Result<u64, Errno> {
    let req = BindVcpuRequest::decode(&read_guest::<EvtchnBindVcpu>(arg)?);
    with_state(|st| ops::bind_vcpu(&mut st.dom.events, req.port, req.vcpu)).map(|()| 0)
}

fn unmask(arg: u64) -> Result<u64, Errno> {
    let req = PortRequest::from_unmask(&read_guest::<EvtchnUnmask>(arg)?);
    with_state(|st| {
        let delivery = ops::unmask(&st.dom.events, &st.dom.event_bits(), req.port)?;
        st.dom.note_delivery(delivery);
        Ok(0)
    })
}

/// EVTCHNOP_reset: closes every port of a domain, which must be the caller or, for the control
/// domain, a domain it paused (else `EINVAL`, as in Xen).
fn reset(arg: u64) -> Result<u64, Errno> {
    let req = ResetRequest::decode(&read_guest::<EvtchnReset>(arg)?, caller_id())?;
    with_state(|st| {
        if req.dom == st.dom.id {
            return event_glue::close_all_ports(st.dom, None, st.domains).map(|()| 0);
        }
        reset_other(st, req.dom)
    })
}

fn reset_other(st: State<'_>, id: DomId) -> Result<u64, Errno> {
    if st.domains.get(id).is_none() {
        return Err(Errno::Srch);
    }
    if !st.dom.is_control() {
        return Err(Errno::Perm);
    }
    let Some(mut target) = st.domains.take(id) else {
        return Err(Errno::Srch);
    };
    let result = if target.ctl_pauses == 0 {
        Err(Errno::Inval)
    } else {
        event_glue::close_all_ports(&mut target, Some(&mut *st.dom), &mut *st.domains).map(|()| 0)
    };
    if st.domains.put_back(id, target).is_err() {
        // take() left the slot reserved for it, so it always goes back.
        unreachable!("domain {id} could not go back to its slot");
    }
    result
}
