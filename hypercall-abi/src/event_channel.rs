//! event_channel_op: sub-operations, channel states, VIRQ numbers and argument structs.

use crate::domid::DomId;
use core::mem::{offset_of, size_of};

/// An event channel port number.
pub type EvtchnPort = u32;

/// Ports in the 2-level event channel ABI on x86_64 (64 x 64 bits).
pub const EVTCHN_2L_NR_CHANNELS: u32 = 4096;

/// Connect to a remote domain's unbound port (`EvtchnBindInterdomain`).
pub const EVTCHNOP_BIND_INTERDOMAIN: u32 = 0;
/// Bind a VIRQ on a vCPU (`EvtchnBindVirq`).
pub const EVTCHNOP_BIND_VIRQ: u32 = 1;
/// Bind a physical IRQ (`EvtchnBindPirq`).
pub const EVTCHNOP_BIND_PIRQ: u32 = 2;
/// Close a port (`EvtchnClose`).
pub const EVTCHNOP_CLOSE: u32 = 3;
/// Signal the remote end (`EvtchnSend`).
pub const EVTCHNOP_SEND: u32 = 4;
/// Query a port (`EvtchnStatus`).
pub const EVTCHNOP_STATUS: u32 = 5;
/// Allocate a port for a remote domain to bind to (`EvtchnAllocUnbound`).
pub const EVTCHNOP_ALLOC_UNBOUND: u32 = 6;
/// Bind an inter-vCPU IPI (`EvtchnBindIpi`).
pub const EVTCHNOP_BIND_IPI: u32 = 7;
/// Change which vCPU a port notifies (`EvtchnBindVcpu`).
pub const EVTCHNOP_BIND_VCPU: u32 = 8;
/// Unmask a port and redeliver if pending (`EvtchnUnmask`).
pub const EVTCHNOP_UNMASK: u32 = 9;
/// Close all ports of a domain (`EvtchnReset`).
pub const EVTCHNOP_RESET: u32 = 10;
/// FIFO ABI: initialise the control block.
pub const EVTCHNOP_INIT_CONTROL: u32 = 11;
/// FIFO ABI: add an event array page.
pub const EVTCHNOP_EXPAND_ARRAY: u32 = 12;
/// FIFO ABI: set a port's priority.
pub const EVTCHNOP_SET_PRIORITY: u32 = 13;

/// `EvtchnStatus::status`: the port is free.
pub const EVTCHNSTAT_CLOSED: u32 = 0;
/// `EvtchnStatus::status`: waiting for an interdomain connection.
pub const EVTCHNSTAT_UNBOUND: u32 = 1;
/// `EvtchnStatus::status`: connected to a remote domain.
pub const EVTCHNSTAT_INTERDOMAIN: u32 = 2;
/// `EvtchnStatus::status`: bound to a physical IRQ.
pub const EVTCHNSTAT_PIRQ: u32 = 3;
/// `EvtchnStatus::status`: bound to a VIRQ.
pub const EVTCHNSTAT_VIRQ: u32 = 4;
/// `EvtchnStatus::status`: bound to an IPI.
pub const EVTCHNSTAT_IPI: u32 = 5;

/// Per-vCPU timer.
pub const VIRQ_TIMER: u32 = 0;
/// Per-vCPU debug request.
pub const VIRQ_DEBUG: u32 = 1;
/// Bytes arrived on the hypervisor console (control domain).
pub const VIRQ_CONSOLE: u32 = 2;
/// A domain changed state, e.g. shut down (control domain).
pub const VIRQ_DOM_EXC: u32 = 3;
/// Trace buffer records available.
pub const VIRQ_TBUF: u32 = 4;
/// A domain paused for debugging.
pub const VIRQ_DEBUGGER: u32 = 6;
/// Profiling sample available.
pub const VIRQ_XENOPROF: u32 = 7;
/// Bytes in the console ring.
pub const VIRQ_CON_RING: u32 = 8;
/// A physical CPU changed state.
pub const VIRQ_PCPU_STATE: u32 = 9;
/// A memory event occurred.
pub const VIRQ_MEM_EVENT: u32 = 10;
/// Argo message notification.
pub const VIRQ_ARGO: u32 = 11;
/// The hypervisor is low on heap memory.
pub const VIRQ_ENOMEM: u32 = 12;
/// PMU interrupt.
pub const VIRQ_XENPMU: u32 = 13;
/// First architecture-specific VIRQ.
pub const VIRQ_ARCH_0: u32 = 16;
/// Number of VIRQs.
pub const NR_VIRQS: u32 = 24;

/// `EvtchnBindPirq::flags`: the IRQ may be shared.
pub const BIND_PIRQ_WILL_SHARE: u32 = 1;

/// Argument of `EVTCHNOP_alloc_unbound`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnAllocUnbound {
    /// In: domain to allocate in (DOMID_SELF unless privileged).
    pub dom: DomId,
    /// In: domain allowed to bind to the port.
    pub remote_dom: DomId,
    /// Out: the new port.
    pub port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnAllocUnbound>() == 8);
const _: () = assert!(offset_of!(EvtchnAllocUnbound, dom) == 0);
const _: () = assert!(offset_of!(EvtchnAllocUnbound, remote_dom) == 2);
const _: () = assert!(offset_of!(EvtchnAllocUnbound, port) == 4);

/// Argument of `EVTCHNOP_bind_interdomain`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindInterdomain {
    /// In: the remote domain.
    pub remote_dom: DomId,
    /// Padding (C alignment).
    pub pad: u16,
    /// In: the remote domain's unbound port.
    pub remote_port: EvtchnPort,
    /// Out: the new local port.
    pub local_port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnBindInterdomain>() == 12);
const _: () = assert!(offset_of!(EvtchnBindInterdomain, remote_dom) == 0);
const _: () = assert!(offset_of!(EvtchnBindInterdomain, pad) == 2);
const _: () = assert!(offset_of!(EvtchnBindInterdomain, remote_port) == 4);
const _: () = assert!(offset_of!(EvtchnBindInterdomain, local_port) == 8);

/// Argument of `EVTCHNOP_bind_virq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindVirq {
    /// In: `VIRQ_*`.
    pub virq: u32,
    /// In: vCPU to notify.
    pub vcpu: u32,
    /// Out: the new port.
    pub port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnBindVirq>() == 12);
const _: () = assert!(offset_of!(EvtchnBindVirq, virq) == 0);
const _: () = assert!(offset_of!(EvtchnBindVirq, vcpu) == 4);
const _: () = assert!(offset_of!(EvtchnBindVirq, port) == 8);

/// Argument of `EVTCHNOP_bind_pirq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindPirq {
    /// In: physical IRQ.
    pub pirq: u32,
    /// In: `BIND_PIRQ_*`.
    pub flags: u32,
    /// Out: the new port.
    pub port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnBindPirq>() == 12);
const _: () = assert!(offset_of!(EvtchnBindPirq, pirq) == 0);
const _: () = assert!(offset_of!(EvtchnBindPirq, flags) == 4);
const _: () = assert!(offset_of!(EvtchnBindPirq, port) == 8);

/// Argument of `EVTCHNOP_bind_ipi`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindIpi {
    /// In: vCPU to notify.
    pub vcpu: u32,
    /// Out: the new port.
    pub port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnBindIpi>() == 8);
const _: () = assert!(offset_of!(EvtchnBindIpi, vcpu) == 0);
const _: () = assert!(offset_of!(EvtchnBindIpi, port) == 4);

/// Argument of `EVTCHNOP_close`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnClose {
    /// In: the local port.
    pub port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnClose>() == 4);
const _: () = assert!(offset_of!(EvtchnClose, port) == 0);

/// Argument of `EVTCHNOP_send`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnSend {
    /// In: the local port.
    pub port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnSend>() == 4);
const _: () = assert!(offset_of!(EvtchnSend, port) == 0);

/// Argument of `EVTCHNOP_unmask`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnUnmask {
    /// In: the local port.
    pub port: EvtchnPort,
}
const _: () = assert!(size_of::<EvtchnUnmask>() == 4);
const _: () = assert!(offset_of!(EvtchnUnmask, port) == 0);

/// Argument of `EVTCHNOP_bind_vcpu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindVcpu {
    /// In: the local port.
    pub port: EvtchnPort,
    /// In: vCPU to notify from now on.
    pub vcpu: u32,
}
const _: () = assert!(size_of::<EvtchnBindVcpu>() == 8);
const _: () = assert!(offset_of!(EvtchnBindVcpu, port) == 0);
const _: () = assert!(offset_of!(EvtchnBindVcpu, vcpu) == 4);

/// Argument of `EVTCHNOP_reset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnReset {
    /// In: the domain (DOMID_SELF unless privileged).
    pub dom: DomId,
}
const _: () = assert!(size_of::<EvtchnReset>() == 2);
const _: () = assert!(offset_of!(EvtchnReset, dom) == 0);

/// Argument of `EVTCHNOP_status`. The union `u` is two u32 words; use the
/// accessors, which follow the C layout (little endian).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnStatus {
    /// In: domain owning the port.
    pub dom: DomId,
    /// Padding (C alignment).
    pub pad: u16,
    /// In: the port.
    pub port: EvtchnPort,
    /// Out: `EVTCHNSTAT_*`.
    pub status: u32,
    /// Out: vCPU the port notifies.
    pub vcpu: u32,
    /// Out: per-status union (unbound.dom / interdomain.{dom,port} / pirq / virq).
    pub u: [u32; 2],
}
const _: () = assert!(size_of::<EvtchnStatus>() == 24);
const _: () = assert!(offset_of!(EvtchnStatus, dom) == 0);
const _: () = assert!(offset_of!(EvtchnStatus, pad) == 2);
const _: () = assert!(offset_of!(EvtchnStatus, port) == 4);
const _: () = assert!(offset_of!(EvtchnStatus, status) == 8);
const _: () = assert!(offset_of!(EvtchnStatus, vcpu) == 12);
const _: () = assert!(offset_of!(EvtchnStatus, u) == 16);

impl EvtchnStatus {
    /// Fills `u` for `EVTCHNSTAT_unbound`: the domain allowed to bind.
    pub fn set_unbound(&mut self, remote_dom: DomId) {
        self.u = [u32::from(remote_dom), 0];
    }

    /// Fills `u` for `EVTCHNSTAT_interdomain`: the remote end.
    pub fn set_interdomain(&mut self, remote_dom: DomId, remote_port: EvtchnPort) {
        self.u = [u32::from(remote_dom), remote_port];
    }

    /// Fills `u` for `EVTCHNSTAT_pirq` or `EVTCHNSTAT_virq`: the IRQ number.
    pub fn set_irq(&mut self, irq: u32) {
        self.u = [irq, 0];
    }

    /// `u.unbound.dom` / `u.interdomain.dom`.
    pub const fn remote_dom(&self) -> DomId {
        self.u[0] as DomId
    }

    /// `u.interdomain.port`.
    pub const fn remote_port(&self) -> EvtchnPort {
        self.u[1]
    }

    /// `u.pirq` / `u.virq`.
    pub const fn irq(&self) -> u32 {
        self.u[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_match_event_channel_h() {
        let ops = [
            EVTCHNOP_BIND_INTERDOMAIN,
            EVTCHNOP_BIND_VIRQ,
            EVTCHNOP_BIND_PIRQ,
            EVTCHNOP_CLOSE,
            EVTCHNOP_SEND,
            EVTCHNOP_STATUS,
            EVTCHNOP_ALLOC_UNBOUND,
            EVTCHNOP_BIND_IPI,
            EVTCHNOP_BIND_VCPU,
            EVTCHNOP_UNMASK,
            EVTCHNOP_RESET,
            EVTCHNOP_INIT_CONTROL,
            EVTCHNOP_EXPAND_ARRAY,
            EVTCHNOP_SET_PRIORITY,
        ];
        assert_eq!(ops, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    }

    #[test]
    fn status_values_match_event_channel_h() {
        assert_eq!(EVTCHNSTAT_CLOSED, 0);
        assert_eq!(EVTCHNSTAT_UNBOUND, 1);
        assert_eq!(EVTCHNSTAT_INTERDOMAIN, 2);
        assert_eq!(EVTCHNSTAT_PIRQ, 3);
        assert_eq!(EVTCHNSTAT_VIRQ, 4);
        assert_eq!(EVTCHNSTAT_IPI, 5);
        assert_eq!(BIND_PIRQ_WILL_SHARE, 1);
        assert_eq!(EVTCHN_2L_NR_CHANNELS, 8 * 8 * 64);
    }

    #[test]
    fn virqs_match_xen_h() {
        assert_eq!(VIRQ_TIMER, 0);
        assert_eq!(VIRQ_DEBUG, 1);
        assert_eq!(VIRQ_CONSOLE, 2);
        assert_eq!(VIRQ_DOM_EXC, 3);
        assert_eq!(VIRQ_TBUF, 4);
        assert_eq!(VIRQ_DEBUGGER, 6);
        assert_eq!(VIRQ_XENOPROF, 7);
        assert_eq!(VIRQ_CON_RING, 8);
        assert_eq!(VIRQ_PCPU_STATE, 9);
        assert_eq!(VIRQ_MEM_EVENT, 10);
        assert_eq!(VIRQ_ARGO, 11);
        assert_eq!(VIRQ_ENOMEM, 12);
        assert_eq!(VIRQ_XENPMU, 13);
        assert_eq!(VIRQ_ARCH_0, 16);
        assert_eq!(NR_VIRQS, 24);
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(size_of::<EvtchnAllocUnbound>(), 8);
        assert_eq!(offset_of!(EvtchnAllocUnbound, remote_dom), 2);
        assert_eq!(offset_of!(EvtchnAllocUnbound, port), 4);
        assert_eq!(size_of::<EvtchnBindInterdomain>(), 12);
        assert_eq!(offset_of!(EvtchnBindInterdomain, remote_port), 4);
        assert_eq!(offset_of!(EvtchnBindInterdomain, local_port), 8);
        assert_eq!(size_of::<EvtchnBindVirq>(), 12);
        assert_eq!(offset_of!(EvtchnBindVirq, vcpu), 4);
        assert_eq!(offset_of!(EvtchnBindVirq, port), 8);
        assert_eq!(size_of::<EvtchnBindPirq>(), 12);
        assert_eq!(size_of::<EvtchnBindIpi>(), 8);
        assert_eq!(offset_of!(EvtchnBindIpi, port), 4);
        assert_eq!(size_of::<EvtchnClose>(), 4);
        assert_eq!(size_of::<EvtchnSend>(), 4);
        assert_eq!(size_of::<EvtchnUnmask>(), 4);
        assert_eq!(size_of::<EvtchnBindVcpu>(), 8);
        assert_eq!(offset_of!(EvtchnBindVcpu, vcpu), 4);
        assert_eq!(size_of::<EvtchnReset>(), 2);
        assert_eq!(size_of::<EvtchnStatus>(), 24);
        assert_eq!(offset_of!(EvtchnStatus, port), 4);
        assert_eq!(offset_of!(EvtchnStatus, status), 8);
        assert_eq!(offset_of!(EvtchnStatus, vcpu), 12);
        assert_eq!(offset_of!(EvtchnStatus, u), 16);
    }

    #[test]
    fn status_union_accessors() {
        let mut s = EvtchnStatus::default();
        s.set_interdomain(7, 42);
        assert_eq!((s.remote_dom(), s.remote_port()), (7, 42));
        // interdomain.dom at byte 16 (u16), interdomain.port at byte 20.
        assert_eq!(s.u[0].to_le_bytes()[..2], 7u16.to_le_bytes());
        assert_eq!(s.u[1], 42);
        s.set_unbound(3);
        assert_eq!((s.remote_dom(), s.remote_port()), (3, 0));
        s.set_irq(VIRQ_DOM_EXC);
        assert_eq!(s.irq(), 3);
    }
}
