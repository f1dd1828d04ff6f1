//! domctl and sysctl as the toolstack uses them: typed requests, typed answers.

use hypercall_abi::domctl::{
    DomctlCmd, XEN_DOMCTL_SCHEDOP_GETINFO, XEN_DOMCTL_SCHEDOP_PUTINFO, XEN_SCHEDULER_CREDIT,
    XenDomctl, XenDomctlCreatedomain, XenDomctlGetdomaininfo, XenDomctlHypercallInit,
    XenDomctlMaxMem, XenDomctlMaxVcpus, XenDomctlSchedCredit, XenDomctlSchedulerOp,
};
use hypercall_abi::domid::DomId;
use hypercall_abi::sysctl::{SysctlCmd, XenSysctl, XenSysctlPhysinfo};

use dom0_tools::domain_info::DomainState;

use crate::arch::x86_64::control_calls::{domctl, sysctl};

/// 0 or -errno, as the hypervisor answered.
pub type Ret = i64;

/// XEN_DOMCTL_createdomain with `config`, the id chosen by the hypervisor (domain 0 asks for
/// one); the new domain starts paused by the toolstack.
pub fn createdomain(config: &XenDomctlCreatedomain) -> Result<DomId, Ret> {
    let mut op = XenDomctl::new(DomctlCmd::Createdomain, 0);
    op.set_payload(config);
    match domctl(&mut op) {
        0 => Ok(op.domain),
        e => Err(e),
    }
}

/// XEN_DOMCTL_max_vcpus: creates vCPUs up to `max` (which must equal createdomain's).
pub fn max_vcpus(domid: DomId, max: u32) -> Ret {
    let mut op = XenDomctl::new(DomctlCmd::MaxVcpus, domid);
    op.set_payload(&XenDomctlMaxVcpus { max });
    domctl(&mut op)
}

/// XEN_DOMCTL_max_mem: the domain's memory limit in KiB.
pub fn max_mem(domid: DomId, max_memkb: u64) -> Ret {
    let mut op = XenDomctl::new(DomctlCmd::MaxMem, domid);
    op.set_payload(&XenDomctlMaxMem { max_memkb });
    domctl(&mut op)
}

/// XEN_DOMCTL_hypercall_init: the hypervisor fills frame `gmfn` of `domid` with its stubs.
pub fn hypercall_init(domid: DomId, gmfn: u64) -> Ret {
    let mut op = XenDomctl::new(DomctlCmd::HypercallInit, domid);
    op.set_payload(&XenDomctlHypercallInit { gmfn });
    domctl(&mut op)
}

/// XEN_DOMCTL_getdomaininfo of exactly `domid`.
pub fn getdomaininfo(domid: DomId) -> Result<DomainState, Ret> {
    let mut op = XenDomctl::new(DomctlCmd::Getdomaininfo, domid);
    match domctl(&mut op) {
        0 => {
            let info: XenDomctlGetdomaininfo = op.payload();
            if info.domain == domid {
                Ok(DomainState::from(&info))
            } else {
                Err(hypercall_abi::Errno::Srch.to_ret())
            }
        }
        e => Err(e),
    }
}

/// XEN_DOMCTL_getdomaininfo's `cpu_time` of exactly `domid`: ns its vCPUs have run.
pub fn cpu_time_ns(domid: DomId) -> Result<u64, Ret> {
    let mut op = XenDomctl::new(DomctlCmd::Getdomaininfo, domid);
    match domctl(&mut op) {
        0 => {
            let info: XenDomctlGetdomaininfo = op.payload();
            if info.domain == domid {
                Ok(info.cpu_time)
            } else {
                Err(hypercall_abi::Errno::Srch.to_ret())
            }
        }
        e => Err(e),
    }
}

/// XEN_DOMCTL_scheduler_op putinfo for the credit scheduler: `domid`'s weight and cap.
pub fn sched_credit_put(domid: DomId, credit: XenDomctlSchedCredit) -> Ret {
    let mut sop = XenDomctlSchedulerOp {
        sched_id: XEN_SCHEDULER_CREDIT,
        cmd: XEN_DOMCTL_SCHEDOP_PUTINFO,
        ..Default::default()
    };
    sop.set_credit(credit);
    let mut op = XenDomctl::new(DomctlCmd::SchedulerOp, domid);
    op.set_payload(&sop);
    domctl(&mut op)
}

/// XEN_DOMCTL_scheduler_op getinfo for the credit scheduler: `domid`'s weight and cap.
pub fn sched_credit_get(domid: DomId) -> Result<XenDomctlSchedCredit, Ret> {
    let sop = XenDomctlSchedulerOp {
        sched_id: XEN_SCHEDULER_CREDIT,
        cmd: XEN_DOMCTL_SCHEDOP_GETINFO,
        ..Default::default()
    };
    let mut op = XenDomctl::new(DomctlCmd::SchedulerOp, domid);
    op.set_payload(&sop);
    match domctl(&mut op) {
        0 => Ok(op.payload::<XenDomctlSchedulerOp>().credit()),
        e => Err(e),
    }
}

/// XEN_DOMCTL_unpausedomain.
pub fn unpause(domid: DomId) -> Ret {
    domctl(&mut XenDomctl::new(DomctlCmd::Unpausedomain, domid))
}

/// XEN_DOMCTL_destroydomain.
pub fn destroy(domid: DomId) -> Ret {
    domctl(&mut XenDomctl::new(DomctlCmd::Destroydomain, domid))
}

/// XEN_SYSCTL_physinfo's free page count.
pub fn free_pages() -> Result<u64, Ret> {
    let mut op = XenSysctl::new(SysctlCmd::Physinfo);
    match sysctl(&mut op) {
        0 => {
            let info: XenSysctlPhysinfo = op.payload();
            Ok(info.free_pages)
        }
        e => Err(e),
    }
}
