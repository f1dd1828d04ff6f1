//! Decoding event_channel_op's guest structs into checked, typed requests (DOMID_SELF resolved).

use super::virq::Virq;
use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_FIRST_RESERVED, DOMID_SELF, DomId};
use hypercall_abi::event_channel::{
    BIND_PIRQ_WILL_SHARE, EVTCHNOP_ALLOC_UNBOUND, EVTCHNOP_BIND_INTERDOMAIN, EVTCHNOP_BIND_IPI,
    EVTCHNOP_BIND_PIRQ, EVTCHNOP_BIND_VCPU, EVTCHNOP_BIND_VIRQ, EVTCHNOP_CLOSE, EVTCHNOP_RESET,
    EVTCHNOP_SEND, EVTCHNOP_STATUS, EVTCHNOP_UNMASK, EvtchnAllocUnbound, EvtchnBindInterdomain,
    EvtchnBindIpi, EvtchnBindPirq, EvtchnBindVcpu, EvtchnBindVirq, EvtchnClose, EvtchnPort,
    EvtchnReset, EvtchnSend, EvtchnStatus, EvtchnUnmask,
};

/// An event_channel_op sub-command this hypervisor implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvtchnCmd {
    /// `EVTCHNOP_alloc_unbound` ([`EvtchnAllocUnbound`]).
    AllocUnbound,
    /// `EVTCHNOP_bind_interdomain` ([`EvtchnBindInterdomain`]).
    BindInterdomain,
    /// `EVTCHNOP_bind_virq` ([`EvtchnBindVirq`]).
    BindVirq,
    /// `EVTCHNOP_bind_pirq` ([`EvtchnBindPirq`]).
    BindPirq,
    /// `EVTCHNOP_bind_ipi` ([`EvtchnBindIpi`]).
    BindIpi,
    /// `EVTCHNOP_close` ([`EvtchnClose`]).
    Close,
    /// `EVTCHNOP_send` ([`EvtchnSend`]).
    Send,
    /// `EVTCHNOP_status` ([`EvtchnStatus`]).
    Status,
    /// `EVTCHNOP_bind_vcpu` ([`EvtchnBindVcpu`]).
    BindVcpu,
    /// `EVTCHNOP_unmask` ([`EvtchnUnmask`]).
    Unmask,
    /// `EVTCHNOP_reset` ([`EvtchnReset`]).
    Reset,
}

impl EvtchnCmd {
    /// The sub-command for `cmd`; `ENOSYS` for unknown ones and for the FIFO
    /// ABI's (init_control, expand_array, set_priority), which guests then
    /// answer by using the 2-level ABI.
    pub fn from_raw(cmd: u32) -> Result<EvtchnCmd, Errno> {
        Ok(match cmd {
            EVTCHNOP_ALLOC_UNBOUND => EvtchnCmd::AllocUnbound,
            EVTCHNOP_BIND_INTERDOMAIN => EvtchnCmd::BindInterdomain,
            EVTCHNOP_BIND_VIRQ => EvtchnCmd::BindVirq,
            EVTCHNOP_BIND_PIRQ => EvtchnCmd::BindPirq,
            EVTCHNOP_BIND_IPI => EvtchnCmd::BindIpi,
            EVTCHNOP_CLOSE => EvtchnCmd::Close,
            EVTCHNOP_SEND => EvtchnCmd::Send,
            EVTCHNOP_STATUS => EvtchnCmd::Status,
            EVTCHNOP_BIND_VCPU => EvtchnCmd::BindVcpu,
            EVTCHNOP_UNMASK => EvtchnCmd::Unmask,
            EVTCHNOP_RESET => EvtchnCmd::Reset,
            _ => return Err(Errno::NoSys),
        })
    }
}

/// `requested` with DOMID_SELF replaced by `caller`; other values unchanged.
pub const fn resolve_domid(requested: DomId, caller: DomId) -> DomId {
    if requested == DOMID_SELF {
        caller
    } else {
        requested
    }
}

/// A domain the caller must look up (Xen's `rcu_lock_domain_by_any_id`):
/// DOMID_SELF is `caller`; the other reserved ids name no domain a guest can
/// reach and give `ESRCH`, as does a failed lookup of an ordinary id.
pub const fn resolve_target(requested: DomId, caller: DomId) -> Result<DomId, Errno> {
    if requested == DOMID_SELF {
        Ok(caller)
    } else if requested >= DOMID_FIRST_RESERVED {
        Err(Errno::Srch)
    } else {
        Ok(requested)
    }
}

/// `EVTCHNOP_alloc_unbound`: allocate in `dom`, for `remote_dom` to bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocUnboundRequest {
    /// Domain to allocate in (look it up; the caller must be it or privileged over it).
    pub dom: DomId,
    /// Domain allowed to bind (DOMID_SELF meant the calling domain). Not looked up.
    pub remote_dom: DomId,
}

impl AllocUnboundRequest {
    /// Decodes the guest's struct for the calling domain `caller`.
    pub fn decode(raw: &EvtchnAllocUnbound, caller: DomId) -> Result<Self, Errno> {
        Ok(AllocUnboundRequest {
            dom: resolve_target(raw.dom, caller)?,
            remote_dom: resolve_domid(raw.remote_dom, caller),
        })
    }
}

/// `EVTCHNOP_bind_interdomain`: connect to `remote_port` of `remote_dom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindInterdomainRequest {
    /// The remote domain (look it up; equal to the caller means binding to itself).
    pub remote_dom: DomId,
    /// Its unbound port (checked by the operation).
    pub remote_port: EvtchnPort,
}

impl BindInterdomainRequest {
    /// Decodes the guest's struct for the calling domain `caller`.
    pub fn decode(raw: &EvtchnBindInterdomain, caller: DomId) -> Result<Self, Errno> {
        Ok(BindInterdomainRequest {
            remote_dom: resolve_target(raw.remote_dom, caller)?,
            remote_port: raw.remote_port,
        })
    }
}

/// `EVTCHNOP_bind_virq`: a valid VIRQ; a global one only on vCPU 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindVirqRequest {
    /// The VIRQ.
    pub virq: Virq,
    /// vCPU to bind on (existence checked by the operation: `ENOENT`).
    pub vcpu: u32,
}

impl BindVirqRequest {
    /// `EINVAL` for a VIRQ number out of range or a global VIRQ on a vCPU other than 0.
    pub fn decode(raw: &EvtchnBindVirq) -> Result<Self, Errno> {
        let virq = Virq::new(raw.virq).ok_or(Errno::Inval)?;
        if virq.is_global() && raw.vcpu != 0 {
            return Err(Errno::Inval);
        }
        Ok(BindVirqRequest {
            virq,
            vcpu: raw.vcpu,
        })
    }
}

/// `EVTCHNOP_bind_pirq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindPirqRequest {
    /// The physical IRQ (range checked by the operation, access by the caller).
    pub pirq: u32,
    /// `BIND_PIRQ__WILL_SHARE`: the IRQ may be shared with other domains.
    pub will_share: bool,
}

impl BindPirqRequest {
    /// Decodes the guest's struct; unknown flag bits are ignored, as in Xen.
    pub fn decode(raw: &EvtchnBindPirq) -> Self {
        BindPirqRequest {
            pirq: raw.pirq,
            will_share: raw.flags & BIND_PIRQ_WILL_SHARE != 0,
        }
    }
}

/// `EVTCHNOP_bind_ipi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindIpiRequest {
    /// vCPU to notify (existence checked by the operation: `ENOENT`).
    pub vcpu: u32,
}

impl BindIpiRequest {
    /// Decodes the guest's struct.
    pub fn decode(raw: &EvtchnBindIpi) -> Self {
        BindIpiRequest { vcpu: raw.vcpu }
    }
}

/// `EVTCHNOP_close`, `EVTCHNOP_send` and `EVTCHNOP_unmask`: one local port
/// (checked by the operation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRequest {
    /// The caller's port.
    pub port: EvtchnPort,
}

impl PortRequest {
    /// From `EvtchnClose`.
    pub fn from_close(raw: &EvtchnClose) -> Self {
        PortRequest { port: raw.port }
    }

    /// From `EvtchnSend`.
    pub fn from_send(raw: &EvtchnSend) -> Self {
        PortRequest { port: raw.port }
    }

    /// From `EvtchnUnmask`.
    pub fn from_unmask(raw: &EvtchnUnmask) -> Self {
        PortRequest { port: raw.port }
    }
}

/// `EVTCHNOP_status`: a port of `dom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusRequest {
    /// Domain owning the port (look it up; the caller must be it or privileged over it).
    pub dom: DomId,
    /// The port (checked by the operation).
    pub port: EvtchnPort,
}

impl StatusRequest {
    /// Decodes the guest's struct for the calling domain `caller`.
    pub fn decode(raw: &EvtchnStatus, caller: DomId) -> Result<Self, Errno> {
        Ok(StatusRequest {
            dom: resolve_target(raw.dom, caller)?,
            port: raw.port,
        })
    }
}

/// `EVTCHNOP_bind_vcpu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindVcpuRequest {
    /// The caller's port.
    pub port: EvtchnPort,
    /// vCPU to notify from now on.
    pub vcpu: u32,
}

impl BindVcpuRequest {
    /// Decodes the guest's struct.
    pub fn decode(raw: &EvtchnBindVcpu) -> Self {
        BindVcpuRequest {
            port: raw.port,
            vcpu: raw.vcpu,
        }
    }
}

/// `EVTCHNOP_reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetRequest {
    /// Domain whose ports to close (look it up; the caller must be it or
    /// privileged over it and, if not it, have it paused).
    pub dom: DomId,
}

impl ResetRequest {
    /// Decodes the guest's struct for the calling domain `caller`.
    pub fn decode(raw: &EvtchnReset, caller: DomId) -> Result<Self, Errno> {
        Ok(ResetRequest {
            dom: resolve_target(raw.dom, caller)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypercall_abi::domid::{DOMID_COW, DOMID_IDLE, DOMID_INVALID, DOMID_IO, DOMID_XEN};
    use hypercall_abi::event_channel::{
        EVTCHNOP_EXPAND_ARRAY, EVTCHNOP_INIT_CONTROL, EVTCHNOP_SET_PRIORITY, NR_VIRQS, VIRQ_DEBUG,
        VIRQ_DOM_EXC, VIRQ_TIMER,
    };

    #[test]
    fn commands() {
        assert_eq!(EvtchnCmd::from_raw(0), Ok(EvtchnCmd::BindInterdomain));
        assert_eq!(EvtchnCmd::from_raw(6), Ok(EvtchnCmd::AllocUnbound));
        assert_eq!(EvtchnCmd::from_raw(10), Ok(EvtchnCmd::Reset));
        for cmd in [
            EVTCHNOP_INIT_CONTROL,
            EVTCHNOP_EXPAND_ARRAY,
            EVTCHNOP_SET_PRIORITY,
            14,
            u32::MAX,
        ] {
            assert_eq!(EvtchnCmd::from_raw(cmd), Err(Errno::NoSys), "{cmd}");
        }
        let known = (0..=10).filter(|&c| EvtchnCmd::from_raw(c).is_ok()).count();
        assert_eq!(known, 11);
    }

    #[test]
    fn domid_self_resolution() {
        assert_eq!(resolve_domid(DOMID_SELF, 5), 5);
        assert_eq!(resolve_domid(7, 5), 7);
        assert_eq!(resolve_domid(DOMID_INVALID, 5), DOMID_INVALID);
        assert_eq!(resolve_target(DOMID_SELF, 5), Ok(5));
        assert_eq!(resolve_target(0, 5), Ok(0));
        assert_eq!(resolve_target(0x7FEF, 5), Ok(0x7FEF));
        for id in [DOMID_IO, DOMID_XEN, DOMID_INVALID, DOMID_IDLE, 0xFFFF] {
            assert_eq!(resolve_target(id, 5), Err(Errno::Srch), "{id:#x}");
        }
    }

    #[test]
    fn alloc_unbound_resolves_both_domains_against_the_caller() {
        let raw = EvtchnAllocUnbound {
            dom: DOMID_SELF,
            remote_dom: DOMID_SELF,
            port: 99,
        };
        assert_eq!(
            AllocUnboundRequest::decode(&raw, 3),
            Ok(AllocUnboundRequest {
                dom: 3,
                remote_dom: 3
            })
        );
        // Dom0 allocating in domain 4 for itself.
        let raw = EvtchnAllocUnbound {
            dom: 4,
            remote_dom: DOMID_SELF,
            port: 0,
        };
        assert_eq!(
            AllocUnboundRequest::decode(&raw, 0),
            Ok(AllocUnboundRequest {
                dom: 4,
                remote_dom: 0
            })
        );
        // A remote that names no domain is kept: nobody can bind then.
        let raw = EvtchnAllocUnbound {
            dom: DOMID_SELF,
            remote_dom: DOMID_INVALID,
            port: 0,
        };
        assert_eq!(
            AllocUnboundRequest::decode(&raw, 1).map(|r| r.remote_dom),
            Ok(DOMID_INVALID)
        );
        let raw = EvtchnAllocUnbound {
            dom: DOMID_XEN,
            remote_dom: 0,
            port: 0,
        };
        assert_eq!(AllocUnboundRequest::decode(&raw, 1), Err(Errno::Srch));
    }

    #[test]
    fn bind_interdomain_decode() {
        let raw = EvtchnBindInterdomain {
            remote_dom: DOMID_SELF,
            pad: 0xFFFF,
            remote_port: u32::MAX,
            local_port: 7,
        };
        assert_eq!(
            BindInterdomainRequest::decode(&raw, 2),
            Ok(BindInterdomainRequest {
                remote_dom: 2,
                remote_port: u32::MAX
            })
        );
        let raw = EvtchnBindInterdomain {
            remote_dom: DOMID_IO,
            ..raw
        };
        assert_eq!(BindInterdomainRequest::decode(&raw, 2), Err(Errno::Srch));
    }

    #[test]
    fn bind_virq_decode() {
        let ok = |virq, vcpu| {
            BindVirqRequest::decode(&EvtchnBindVirq {
                virq,
                vcpu,
                port: 0,
            })
        };
        assert_eq!(
            ok(VIRQ_TIMER, 3),
            Ok(BindVirqRequest {
                virq: Virq::TIMER,
                vcpu: 3
            })
        );
        assert_eq!(ok(VIRQ_DEBUG, u32::MAX).map(|r| r.vcpu), Ok(u32::MAX));
        assert_eq!(ok(VIRQ_DOM_EXC, 0).map(|r| r.virq), Ok(Virq::DOM_EXC));
        assert_eq!(ok(VIRQ_DOM_EXC, 1), Err(Errno::Inval));
        assert_eq!(ok(NR_VIRQS, 0), Err(Errno::Inval));
        assert_eq!(ok(u32::MAX, 0), Err(Errno::Inval));
    }

    #[test]
    fn small_structs_decode() {
        let p = BindPirqRequest::decode(&EvtchnBindPirq {
            pirq: 9,
            flags: BIND_PIRQ_WILL_SHARE | 0x80,
            port: 1,
        });
        assert_eq!(
            p,
            BindPirqRequest {
                pirq: 9,
                will_share: true
            }
        );
        let p = BindPirqRequest::decode(&EvtchnBindPirq {
            pirq: 9,
            flags: 2,
            port: 1,
        });
        assert!(!p.will_share);
        assert_eq!(
            BindIpiRequest::decode(&EvtchnBindIpi { vcpu: 4, port: 8 }),
            BindIpiRequest { vcpu: 4 }
        );
        assert_eq!(
            PortRequest::from_close(&EvtchnClose { port: u32::MAX }).port,
            u32::MAX
        );
        assert_eq!(PortRequest::from_send(&EvtchnSend { port: 3 }).port, 3);
        assert_eq!(PortRequest::from_unmask(&EvtchnUnmask { port: 0 }).port, 0);
        assert_eq!(
            BindVcpuRequest::decode(&EvtchnBindVcpu { port: 5, vcpu: 6 }),
            BindVcpuRequest { port: 5, vcpu: 6 }
        );
        let s = EvtchnStatus {
            dom: DOMID_SELF,
            port: 12,
            status: 99,
            ..Default::default()
        };
        assert_eq!(
            StatusRequest::decode(&s, 1),
            Ok(StatusRequest { dom: 1, port: 12 })
        );
        let s = EvtchnStatus {
            dom: DOMID_COW,
            ..s
        };
        assert_eq!(StatusRequest::decode(&s, 1), Err(Errno::Srch));
        assert_eq!(
            ResetRequest::decode(&EvtchnReset { dom: DOMID_SELF }, 8),
            Ok(ResetRequest { dom: 8 })
        );
        assert_eq!(
            ResetRequest::decode(&EvtchnReset { dom: 3 }, 0),
            Ok(ResetRequest { dom: 3 })
        );
        assert_eq!(
            ResetRequest::decode(&EvtchnReset { dom: DOMID_IDLE }, 0),
            Err(Errno::Srch)
        );
    }
}
