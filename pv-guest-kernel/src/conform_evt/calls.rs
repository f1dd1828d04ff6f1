//! event_channel_op wrappers for the checks: a port or the hypercall's result, with what it names.

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::event_channel::{
    EvtchnAllocUnbound, EvtchnBindInterdomain, EvtchnBindIpi, EvtchnBindPirq, EvtchnBindVcpu,
    EvtchnBindVirq, EvtchnClose, EvtchnPort, EvtchnReset, EvtchnSend, EvtchnStatus, EvtchnUnmask,
};

use crate::arch::x86_64::event_calls::evtchn_op;
use crate::selftest::report::{Detail, Ret};

/// A port, or the failing hypercall's result.
pub type PortResult = Result<EvtchnPort, i64>;

fn port_or(ret: i64, port: EvtchnPort) -> PortResult {
    if ret == 0 { Ok(port) } else { Err(ret) }
}

/// EVTCHNOP_alloc_unbound in `dom` for `remote_dom`.
pub fn alloc_unbound(dom: DomId, remote_dom: DomId) -> PortResult {
    let mut arg = EvtchnAllocUnbound {
        dom,
        remote_dom,
        port: 0,
    };
    let ret = evtchn_op(&mut arg);
    port_or(ret, arg.port)
}

/// EVTCHNOP_bind_interdomain to `remote_port` of `remote_dom`.
pub fn bind_interdomain(remote_dom: DomId, remote_port: EvtchnPort) -> PortResult {
    let mut arg = EvtchnBindInterdomain {
        remote_dom,
        pad: 0,
        remote_port,
        local_port: 0,
    };
    let ret = evtchn_op(&mut arg);
    port_or(ret, arg.local_port)
}

/// EVTCHNOP_bind_virq of `virq` on `vcpu`.
pub fn bind_virq(virq: u32, vcpu: u32) -> PortResult {
    let mut arg = EvtchnBindVirq {
        virq,
        vcpu,
        port: 0,
    };
    let ret = evtchn_op(&mut arg);
    port_or(ret, arg.port)
}

/// EVTCHNOP_bind_pirq of `pirq`.
pub fn bind_pirq(pirq: u32) -> PortResult {
    let mut arg = EvtchnBindPirq {
        pirq,
        flags: 0,
        port: 0,
    };
    let ret = evtchn_op(&mut arg);
    port_or(ret, arg.port)
}

/// EVTCHNOP_bind_ipi on `vcpu`.
pub fn bind_ipi(vcpu: u32) -> PortResult {
    let mut arg = EvtchnBindIpi { vcpu, port: 0 };
    let ret = evtchn_op(&mut arg);
    port_or(ret, arg.port)
}

/// EVTCHNOP_close.
pub fn close(port: EvtchnPort) -> i64 {
    evtchn_op(&mut EvtchnClose { port })
}

/// EVTCHNOP_send.
pub fn send(port: EvtchnPort) -> i64 {
    evtchn_op(&mut EvtchnSend { port })
}

/// EVTCHNOP_unmask.
pub fn unmask(port: EvtchnPort) -> i64 {
    evtchn_op(&mut EvtchnUnmask { port })
}

/// EVTCHNOP_bind_vcpu.
pub fn bind_vcpu(port: EvtchnPort, vcpu: u32) -> i64 {
    evtchn_op(&mut EvtchnBindVcpu { port, vcpu })
}

/// EVTCHNOP_reset of `dom`.
pub fn reset(dom: DomId) -> i64 {
    evtchn_op(&mut EvtchnReset { dom })
}

/// EVTCHNOP_status of `port` in `dom`: the filled struct, or the result.
pub fn status_of(dom: DomId, port: EvtchnPort) -> Result<EvtchnStatus, i64> {
    let mut arg = EvtchnStatus {
        dom,
        port,
        ..EvtchnStatus::default()
    };
    let ret = evtchn_op(&mut arg);
    if ret == 0 { Ok(arg) } else { Err(ret) }
}

/// EVTCHNOP_status of one of our own ports.
pub fn status(port: EvtchnPort) -> Result<EvtchnStatus, i64> {
    status_of(DOMID_SELF, port)
}

/// A failure detail for a call that should have succeeded.
pub fn failed(what: &str, ret: i64) -> Detail {
    Detail::new(format_args!("{} returned {}", what, Ret(ret)))
}
