//! domctl and sysctl as the toolstack uses them: typed requests, typed answers.

use alloc::vec::Vec;
use hypercall_abi::domctl::{
    DomctlCmd, XEN_DOMCTL_SCHEDOP_GETINFO, XEN_DOMCTL_SCHEDOP_PUTINFO, XEN_SCHEDULER_CREDIT,
    XenDomctl, XenDomctlCreatedomain, XenDomctlGetdomaininfo, XenDomctlGetvcpuinfo,
    XenDomctlHypercallInit, XenDomctlMaxMem, XenDomctlMaxVcpus, XenDomctlSchedCredit,
    XenDomctlSchedulerOp,
};

use hypercall_abi::domid::DomId;
use hypercall_abi::sysctl::{
    SysctlCmd, XenSysctl, XenSysctlGetdomaininfolist, XenSysctlPhysinfo, XenSysctlReadconsole,
};

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

/// XEN_DOMCTL_getvcpuinfo: `domid`'s vCPU `vcpu`.
pub fn vcpu_info(domid: DomId, vcpu: u32) -> Result<XenDomctlGetvcpuinfo, Ret> {
    let mut op = XenDomctl::new(DomctlCmd::Getvcpuinfo, domid);
    op.set_payload(&XenDomctlGetvcpuinfo {
        vcpu,
        ..XenDomctlGetvcpuinfo::default()
    });
    match domctl(&mut op) {
        0 => Ok(op.payload()),
        e => Err(e),
    }
}

/// XEN_DOMCTL_getdomaininfo's `handle` of exactly `domid`.
pub fn handle(domid: DomId) -> Result<[u8; 16], Ret> {
    let mut op = XenDomctl::new(DomctlCmd::Getdomaininfo, domid);
    match domctl(&mut op) {
        0 => {
            let info: XenDomctlGetdomaininfo = op.payload();
            if info.domain == domid {
                Ok(info.handle)
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
    physinfo().map(|info| info.free_pages)
}

/// XEN_SYSCTL_physinfo.
pub fn physinfo() -> Result<XenSysctlPhysinfo, Ret> {
    let mut op = XenSysctl::new(SysctlCmd::Physinfo);
    match sysctl(&mut op) {
        0 => Ok(op.payload()),
        e => Err(e),
    }
}

/// XEN_DOMCTL_pausedomain.
pub fn pause(domid: DomId) -> Ret {
    domctl(&mut XenDomctl::new(DomctlCmd::Pausedomain, domid))
}

/// Domains listed at once by [`domain_list`].
const LIST_BATCH: usize = 16;

/// Every domain, in id order (XEN_SYSCTL_getdomaininfolist, in batches).
pub fn domain_list() -> Result<Vec<XenDomctlGetdomaininfo>, Ret> {
    let mut all = Vec::new();
    let mut first: DomId = 0;
    loop {
        let mut infos = [XenDomctlGetdomaininfo::default(); LIST_BATCH];
        let mut op = XenSysctl::new(SysctlCmd::Getdomaininfolist);
        op.set_payload(&XenSysctlGetdomaininfolist {
            first_domain: first,
            max_domains: LIST_BATCH as u32,
            buffer: infos.as_mut_ptr() as u64,
            ..XenSysctlGetdomaininfolist::default()
        });
        match sysctl(&mut op) {
            0 => {}
            e => return Err(e),
        }
        let list: XenSysctlGetdomaininfolist = op.payload();
        let n = (list.num_domains as usize).min(LIST_BATCH);
        if all.try_reserve(n).is_err() {
            return Err(hypercall_abi::Errno::NoMem.to_ret());
        }
        all.extend_from_slice(&infos[..n]);
        match infos[..n].last() {
            Some(last)
                if n == LIST_BATCH
                    && last.domain < hypercall_abi::domid::DOMID_FIRST_RESERVED - 1 =>
            {
                first = last.domain + 1;
            }
            _ => return Ok(all),
        }
    }
}

/// XEN_SYSCTL_readconsole: the hypervisor's console history from `index` (if `incremental`)
/// into `buf`, emptied after if `clear`. Returns the bytes read and the index reached.
pub fn readconsole(
    buf: &mut [u8],
    clear: bool,
    incremental: bool,
    index: u32,
) -> Result<(usize, u32), Ret> {
    let mut op = XenSysctl::new(SysctlCmd::Readconsole);
    op.set_payload(&XenSysctlReadconsole {
        clear: u8::from(clear),
        incremental: u8::from(incremental),
        index,
        buffer: buf.as_mut_ptr() as u64,
        count: u32::try_from(buf.len()).unwrap_or(u32::MAX),
        ..XenSysctlReadconsole::default()
    });
    match sysctl(&mut op) {
        0 => {
            let rc: XenSysctlReadconsole = op.payload();
            Ok(((rc.count as usize).min(buf.len()), rc.index))
        }
        e => Err(e),
    }
}
