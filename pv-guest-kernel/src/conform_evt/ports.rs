//! conform=events, ports: status of each kind, binding rules, close, bad arguments, reset, exhaustion.

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_SELF, DOMID_XEN, DomId};
use hypercall_abi::event_channel::{
    EVTCHN_2L_NR_CHANNELS, EVTCHNSTAT_CLOSED, EVTCHNSTAT_INTERDOMAIN, EVTCHNSTAT_IPI,
    EVTCHNSTAT_UNBOUND, EVTCHNSTAT_VIRQ, EvtchnPort, EvtchnStatus, NR_VIRQS, VIRQ_DOM_EXC,
    VIRQ_TIMER,
};

use super::calls::{self, PortResult, failed};
use super::delivery::Loopback;
use crate::arch::x86_64::event_calls;
use crate::arch::x86_64::upcall::Bits;
use crate::selftest::report::{Outcome, expect_eq, expect_errno, expect_ret, fail};

/// Our domain id: the checks run as Dom0.
const SELF_ID: DomId = 0;
/// A domain id that names no domain while Dom0 runs alone.
const ABSENT: DomId = 7;
/// A domain an unbound port may wait for although it does not exist.
const OTHER: DomId = 5;
/// The highest 2-level port: never allocated by the checks before the exhaustion check.
const TOP_PORT: EvtchnPort = EVTCHN_2L_NR_CHANNELS - 1;
/// A PIRQ within Dom0's range that nobody mapped.
const UNMAPPED_PIRQ: u32 = 200;

/// A second VIRQ_TIMER binding on the same vCPU: -EEXIST (observed on Xen 4.17).
const VIRQ_TWICE_ERRNO: Errno = Errno::Exist;
/// A VIRQ out of range, or a global one on vCPU 1: -EINVAL (observed on Xen 4.17).
const VIRQ_BAD_ERRNO: Errno = Errno::Inval;
/// A vCPU the domain does not have: -ENOENT (observed on Xen 4.17).
const NO_VCPU_ERRNO: Errno = Errno::NoEnt;
/// A domain that does not exist, or DOMID_XEN: -ESRCH (observed on Xen 4.17).
const NO_DOMAIN_ERRNO: Errno = Errno::Srch;
/// A port that is invalid, closed, reserved or in the wrong state: -EINVAL (observed on Xen 4.17).
const BAD_PORT_ERRNO: Errno = Errno::Inval;
/// bind_pirq of a PIRQ out of range: -EINVAL; of one nobody mapped: -EPERM (observed on Xen 4.17).
const PIRQ_RANGE_ERRNO: Errno = Errno::Inval;
const PIRQ_UNMAPPED_ERRNO: Errno = Errno::Perm;
/// FIFO-ABI calls on a 2-level domain: expand_array -EOPNOTSUPP, set_priority -ENOSYS
/// (observed on Xen 4.17).
const EXPAND_ERRNO: Errno = Errno::OpNotSupp;
const PRIORITY_ERRNO: Errno = Errno::NoSys;
/// Every port taken: -ENOSPC (observed on Xen 4.17).
const FULL_ERRNO: Errno = Errno::NoSpc;

fn expect_port_errno(what: &str, got: PortResult, want: Errno) -> Outcome {
    match got {
        Ok(port) => fail!("{} gave port {}, expected {}", what, port, want.name()),
        Err(ret) => expect_errno(what, ret, want),
    }
}

fn expect_status(
    what: &str,
    got: Result<EvtchnStatus, i64>,
    status: u32,
    vcpu: u32,
) -> Result<EvtchnStatus, crate::selftest::report::Detail> {
    let s = got.map_err(|ret| failed(what, ret))?;
    if (s.status, s.vcpu) != (status, vcpu) {
        fail!(
            "{}: status {} vcpu {}, expected {} vcpu {}",
            what,
            s.status,
            s.vcpu,
            status,
            vcpu
        );
    }
    Ok(s)
}

/// Status of the loopback ends, an unbound port, port 0 and a never-used port; bad ports and
/// domains.
pub fn status(lb: Loopback) -> Outcome {
    let s = expect_status("status(a)", calls::status(lb.a), EVTCHNSTAT_INTERDOMAIN, 0)?;
    expect_eq("a: remote dom", s.remote_dom().into(), SELF_ID.into())?;
    expect_eq("a: remote port", s.remote_port().into(), lb.b.into())?;
    let s = expect_status(
        "status(0, b)",
        calls::status_of(SELF_ID, lb.b),
        EVTCHNSTAT_INTERDOMAIN,
        0,
    )?;
    expect_eq("b: remote port", s.remote_port().into(), lb.a.into())?;
    let u = calls::alloc_unbound(DOMID_SELF, OTHER)
        .map_err(|ret| failed("alloc_unbound(self, 5)", ret))?;
    let s = expect_status("status(unbound)", calls::status(u), EVTCHNSTAT_UNBOUND, 0)?;
    expect_eq("unbound: remote dom", s.remote_dom().into(), OTHER.into())?;
    expect_ret("close(unbound)", calls::close(u), 0)?;
    expect_status("status(closed)", calls::status(u), EVTCHNSTAT_CLOSED, 0)?;
    expect_status("status(0)", calls::status(0), EVTCHNSTAT_CLOSED, 0)?;
    for port in [TOP_PORT, EVTCHN_2L_NR_CHANNELS, u32::MAX] {
        match calls::status(port) {
            Ok(s) => fail!("status({}) gave status {}", port, s.status),
            Err(ret) => expect_errno("status(bad port)", ret, BAD_PORT_ERRNO)?,
        }
    }
    for dom in [ABSENT, DOMID_XEN] {
        match calls::status_of(dom, lb.a) {
            Ok(s) => fail!("status(dom {:#x}) gave status {}", dom, s.status),
            Err(ret) => expect_errno("status(bad dom)", ret, NO_DOMAIN_ERRNO)?,
        }
    }
    Ok(())
}

/// VIRQ_TIMER binds once per vCPU (-EEXIST the second time); bad VIRQs and vCPUs; status of
/// a VIRQ port; a global VIRQ (DOM_EXC) moves with bind_vcpu, a per-vCPU one does not.
pub fn virq(bits: &Bits) -> Outcome {
    let t = calls::bind_virq(VIRQ_TIMER, 0).map_err(|ret| failed("bind_virq(TIMER, 0)", ret))?;
    let twice = calls::bind_virq(VIRQ_TIMER, 0);
    let s = calls::status(t);
    let moved = calls::bind_vcpu(t, 0);
    let closed = calls::close(t);
    // Xen may have fired the timer meanwhile: forget what it left.
    bits.quiesce();
    expect_port_errno("bind_virq(TIMER) twice", twice, VIRQ_TWICE_ERRNO)?;
    let s = expect_status("status(virq)", s, EVTCHNSTAT_VIRQ, 0)?;
    expect_eq("status: virq", s.irq().into(), VIRQ_TIMER.into())?;
    expect_errno("bind_vcpu(per-vCPU virq)", moved, BAD_PORT_ERRNO)?;
    expect_ret("close(virq)", closed, 0)?;
    expect_port_errno(
        "bind_virq(NR_VIRQS)",
        calls::bind_virq(NR_VIRQS, 0),
        VIRQ_BAD_ERRNO,
    )?;
    expect_port_errno(
        "bind_virq(DOM_EXC, 1)",
        calls::bind_virq(VIRQ_DOM_EXC, 1),
        VIRQ_BAD_ERRNO,
    )?;
    expect_port_errno(
        "bind_virq(TIMER, 1)",
        calls::bind_virq(VIRQ_TIMER, 1),
        NO_VCPU_ERRNO,
    )?;
    expect_port_errno(
        "bind_virq(TIMER, -1)",
        calls::bind_virq(VIRQ_TIMER, u32::MAX),
        NO_VCPU_ERRNO,
    )?;
    let g =
        calls::bind_virq(VIRQ_DOM_EXC, 0).map_err(|ret| failed("bind_virq(DOM_EXC, 0)", ret))?;
    let s = calls::status(g);
    let moved = calls::bind_vcpu(g, 0);
    let closed = calls::close(g);
    let s = expect_status("status(global virq)", s, EVTCHNSTAT_VIRQ, 0)?;
    expect_eq("status: virq", s.irq().into(), VIRQ_DOM_EXC.into())?;
    expect_ret("bind_vcpu(global virq, 0)", moved, 0)?;
    expect_ret("close(global virq)", closed, 0)
}

/// IPI status, and the vCPU rules of bind_ipi.
pub fn ipi_status() -> Outcome {
    let i = calls::bind_ipi(0).map_err(|ret| failed("bind_ipi(0)", ret))?;
    let s = calls::status(i);
    let moved = calls::bind_vcpu(i, 0);
    let closed = calls::close(i);
    expect_status("status(ipi)", s, EVTCHNSTAT_IPI, 0)?;
    expect_errno("bind_vcpu(ipi)", moved, BAD_PORT_ERRNO)?;
    expect_ret("close(ipi)", closed, 0)?;
    expect_port_errno("bind_ipi(1)", calls::bind_ipi(1), NO_VCPU_ERRNO)
}

/// bind_vcpu: the vCPU is checked first (-ENOENT), then the port.
pub fn bind_vcpu(lb: Loopback) -> Outcome {
    expect_ret("bind_vcpu(a, 0)", calls::bind_vcpu(lb.a, 0), 0)?;
    expect_errno("bind_vcpu(a, 1)", calls::bind_vcpu(lb.a, 1), NO_VCPU_ERRNO)?;
    expect_errno(
        "bind_vcpu(top, 0)",
        calls::bind_vcpu(TOP_PORT, 0),
        BAD_PORT_ERRNO,
    )?;
    expect_errno(
        "bind_vcpu(top, 1)",
        calls::bind_vcpu(TOP_PORT, 1),
        NO_VCPU_ERRNO,
    )?;
    expect_errno("bind_vcpu(0, 0)", calls::bind_vcpu(0, 0), BAD_PORT_ERRNO)?;
    let s = expect_status("status(a)", calls::status(lb.a), EVTCHNSTAT_INTERDOMAIN, 0)?;
    expect_eq("a: remote port", s.remote_port().into(), lb.b.into())
}

/// bind_interdomain and alloc_unbound refuse missing domains, bad ports and ports that do not
/// wait for us.
pub fn bind_errors(lb: Loopback) -> Outcome {
    for dom in [ABSENT, DOMID_XEN] {
        expect_port_errno(
            "bind_interdomain(bad dom)",
            calls::bind_interdomain(dom, lb.a),
            NO_DOMAIN_ERRNO,
        )?;
        expect_port_errno(
            "alloc_unbound(bad dom)",
            calls::alloc_unbound(dom, DOMID_SELF),
            NO_DOMAIN_ERRNO,
        )?;
    }
    expect_port_errno(
        "bind_interdomain(self, top)",
        calls::bind_interdomain(DOMID_SELF, TOP_PORT),
        BAD_PORT_ERRNO,
    )?;
    expect_port_errno(
        "bind_interdomain(self, bound)",
        calls::bind_interdomain(DOMID_SELF, lb.a),
        BAD_PORT_ERRNO,
    )?;
    expect_port_errno(
        "bind_interdomain(self, 0)",
        calls::bind_interdomain(DOMID_SELF, 0),
        BAD_PORT_ERRNO,
    )?;
    let u = calls::alloc_unbound(DOMID_SELF, OTHER)
        .map_err(|ret| failed("alloc_unbound(self, 5)", ret))?;
    let refused = calls::bind_interdomain(DOMID_SELF, u);
    let closed = calls::close(u);
    expect_port_errno("bind_interdomain(port for dom 5)", refused, BAD_PORT_ERRNO)?;
    expect_ret("close", closed, 0)
}

/// No PIRQ is mapped: out of range -EINVAL, in range -EPERM.
pub fn bind_pirq() -> Outcome {
    expect_port_errno(
        "bind_pirq(-1)",
        calls::bind_pirq(u32::MAX),
        PIRQ_RANGE_ERRNO,
    )?;
    expect_port_errno(
        "bind_pirq(unmapped)",
        calls::bind_pirq(UNMAPPED_PIRQ),
        PIRQ_UNMAPPED_ERRNO,
    )
}

/// Bad ports for send, close and unmask; unmask of the reserved port 0 is allowed.
pub fn bad_ports() -> Outcome {
    for port in [0, TOP_PORT, EVTCHN_2L_NR_CHANNELS, u32::MAX] {
        expect_errno("send(bad port)", calls::send(port), BAD_PORT_ERRNO)?;
        expect_errno("close(bad port)", calls::close(port), BAD_PORT_ERRNO)?;
    }
    for port in [TOP_PORT, EVTCHN_2L_NR_CHANNELS, u32::MAX] {
        expect_errno("unmask(bad port)", calls::unmask(port), BAD_PORT_ERRNO)?;
    }
    expect_ret("unmask(0)", calls::unmask(0), 0)
}

/// The FIFO ABI's calls on a domain that uses the 2-level one.
pub fn fifo(lb: Loopback) -> Outcome {
    expect_errno("expand_array", event_calls::expand_array(0), EXPAND_ERRNO)?;
    expect_errno(
        "set_priority(top)",
        event_calls::set_priority(TOP_PORT, 0),
        BAD_PORT_ERRNO,
    )?;
    expect_errno(
        "set_priority(a)",
        event_calls::set_priority(lb.a, 0),
        PRIORITY_ERRNO,
    )
}

/// close: the other end goes back to unbound for us and drops sends; the closed port refuses
/// send and close.
pub fn close(lb: Loopback) -> Outcome {
    expect_ret("close(b)", calls::close(lb.b), 0)?;
    let s = expect_status("status(a)", calls::status(lb.a), EVTCHNSTAT_UNBOUND, 0)?;
    expect_eq("a: remote dom", s.remote_dom().into(), SELF_ID.into())?;
    expect_ret("send(a, unbound)", calls::send(lb.a), 0)?;
    expect_errno("send(b, closed)", calls::send(lb.b), BAD_PORT_ERRNO)?;
    expect_errno("close(b) again", calls::close(lb.b), BAD_PORT_ERRNO)?;
    expect_status("status(b)", calls::status(lb.b), EVTCHNSTAT_CLOSED, 0)?;
    Ok(())
}

/// Allocates until the 2-level ABI's 4096 ports are taken: the last is 4095, then -ENOSPC.
pub fn exhaust() -> Outcome {
    let mut highest = 0;
    let mut err = None;
    for _ in 0..EVTCHN_2L_NR_CHANNELS {
        match calls::alloc_unbound(DOMID_SELF, DOMID_SELF) {
            Ok(port) if port <= TOP_PORT => highest = highest.max(port),
            Ok(port) => fail!("alloc_unbound gave port {}", port),
            Err(ret) => {
                err = Some(ret);
                break;
            }
        }
    }
    let Some(err) = err else {
        fail!("{} ports allocated without an error", EVTCHN_2L_NR_CHANNELS);
    };
    expect_errno("alloc_unbound when full", err, FULL_ERRNO)?;
    expect_eq("highest port", highest.into(), TOP_PORT.into())?;
    expect_port_errno("bind_ipi when full", calls::bind_ipi(0), FULL_ERRNO)
}

/// reset closes every port (they read closed and the lowest is handed out again); missing
/// domains are refused.
pub fn reset(lb: Loopback) -> Outcome {
    expect_ret("reset(self)", calls::reset(DOMID_SELF), 0)?;
    for port in [lb.a, lb.b, TOP_PORT] {
        expect_status(
            "status after reset",
            calls::status(port),
            EVTCHNSTAT_CLOSED,
            0,
        )?;
    }
    let first = calls::bind_ipi(0).map_err(|ret| failed("bind_ipi after reset", ret))?;
    expect_eq("first port after reset", first.into(), 1)?;
    expect_ret("reset(0)", calls::reset(SELF_ID), 0)?;
    expect_status(
        "status after reset(0)",
        calls::status(first),
        EVTCHNSTAT_CLOSED,
        0,
    )?;
    for dom in [ABSENT, DOMID_XEN] {
        expect_errno("reset(bad dom)", calls::reset(dom), NO_DOMAIN_ERRNO)?;
    }
    Ok(())
}
