//! conform=control: sysctl and domctl queries Dom0 makes about the machine and itself.

use hypercall_abi::Errno;
use hypercall_abi::domctl::{
    DomctlCmd, XEN_DOMINF_RUNNING, XEN_SCHEDULER_CREDIT, XenDomctl, XenDomctlGetdomaininfo,
    XenDomctlGetvcpuinfo,
};
use hypercall_abi::domid::DomId;
use hypercall_abi::start_info::StartInfo;
use hypercall_abi::sysctl::{
    SysctlCmd, XEN_SYSCTL_PHYSCAP_PV, XenSysctl, XenSysctlGetdomaininfolist, XenSysctlPhysinfo,
    XenSysctlReadconsole, XenSysctlSchedId,
};

use crate::arch::x86_64::control_calls::{domctl, sysctl};
use crate::conform_mm::guest;
use crate::selftest::context::Context;
use crate::selftest::report::{Outcome, Report, expect_eq, expect_errno, expect_ret, fail};

/// A domain id that names no domain while Dom0 runs alone.
const ABSENT: DomId = 7;
/// A sysctl command number Xen 4.17 does not define.
const UNKNOWN_SYSCTL: u32 = 0xFFFF;
/// getdomaininfo of a domain that does not exist: -ESRCH (observed on Xen 4.17).
const ABSENT_ERRNO: Errno = Errno::Srch;
/// A domain pausing itself through the controller: -EINVAL (observed on Xen 4.17).
const SELF_PAUSE_ERRNO: Errno = Errno::Inval;
/// Unpausing a domain the controller never paused: -EINVAL (observed on Xen 4.17).
const NOT_PAUSED_ERRNO: Errno = Errno::Inval;
/// An unknown sysctl: -ENOSYS (observed on Xen 4.17).
const UNKNOWN_ERRNO: Errno = Errno::NoSys;

/// Runs the control checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=control", start_info, p2m, checks)
}

fn checks(ctx: &mut Context, report: &mut Report) {
    report.check("control.sysctl_version", sysctl_version());
    report.check("control.sysctl_unknown", sysctl_unknown());
    report.check("control.physinfo", physinfo());
    report.check("control.sched_id", sched_id());
    report.check("control.readconsole", readconsole());
    report.check("control.domaininfo_list", domaininfo_list(ctx));
    report.check("control.domctl_version", domctl_version());
    report.check("control.getdomaininfo_self", getdomaininfo_self(ctx));
    report.check("control.getdomaininfo_absent", getdomaininfo_absent());
    report.check("control.pause_self", pause_self());
    report.check("control.unpause_not_paused", unpause_not_paused());
    report.check("control.getvcpuinfo_self", getvcpuinfo_self());
    report.check("control.getvcpuinfo_past_max", getvcpuinfo_past_max());
}

fn getvcpuinfo(vcpu: u32) -> (i64, XenDomctlGetvcpuinfo) {
    let mut op = XenDomctl::new(DomctlCmd::Getvcpuinfo, 0);
    op.set_payload(&XenDomctlGetvcpuinfo {
        vcpu,
        ..XenDomctlGetvcpuinfo::default()
    });
    let ret = domctl(&mut op);
    (ret, op.payload())
}

/// Our own vCPU 0: online, running (we are asking), not blocked, some CPU time used.
fn getvcpuinfo_self() -> Outcome {
    let (ret, info) = getvcpuinfo(0);
    expect_ret("domctl(getvcpuinfo, 0, vcpu 0)", ret, 0)?;
    expect_eq("online", u64::from(info.online), 1)?;
    expect_eq("running", u64::from(info.running), 1)?;
    expect_eq("blocked", u64::from(info.blocked), 0)?;
    if info.cpu_time == 0 {
        fail!("cpu_time is 0");
    }
    Ok(())
}

/// A vCPU number past the domain's vCPUs (Dom0 has one): -EINVAL (observed on Xen 4.17).
fn getvcpuinfo_past_max() -> Outcome {
    expect_errno(
        "domctl(getvcpuinfo, 0, vcpu 1)",
        getvcpuinfo(1).0,
        Errno::Inval,
    )
}

fn sysctl_version() -> Outcome {
    let mut op = XenSysctl::new(SysctlCmd::Physinfo);
    op.interface_version -= 1;
    expect_errno(
        "sysctl(old interface version)",
        sysctl(&mut op),
        Errno::Acces,
    )
}

fn sysctl_unknown() -> Outcome {
    let mut op = XenSysctl::new(SysctlCmd::from_raw(UNKNOWN_SYSCTL));
    expect_errno("sysctl(unknown command)", sysctl(&mut op), UNKNOWN_ERRNO)
}

fn physinfo() -> Outcome {
    let mut op = XenSysctl::new(SysctlCmd::Physinfo);
    expect_ret("sysctl(physinfo)", sysctl(&mut op), 0)?;
    let p: XenSysctlPhysinfo = op.payload();
    expect_eq("nr_cpus", u64::from(p.nr_cpus), 1)?;
    expect_eq("max_cpu_id", u64::from(p.max_cpu_id), 0)?;
    expect_eq("nr_nodes", u64::from(p.nr_nodes), 1)?;
    expect_eq(
        "capabilities & PV",
        u64::from(p.capabilities & XEN_SYSCTL_PHYSCAP_PV),
        u64::from(XEN_SYSCTL_PHYSCAP_PV),
    )?;
    if p.cpu_khz == 0 {
        fail!("cpu_khz is 0");
    }
    if p.total_pages == 0 || p.free_pages > p.total_pages || p.max_mfn + 1 < p.total_pages {
        fail!(
            "pages: total {} free {} max_mfn {:#x}",
            p.total_pages,
            p.free_pages,
            p.max_mfn
        );
    }
    Ok(())
}

fn sched_id() -> Outcome {
    let mut op = XenSysctl::new(SysctlCmd::SchedId);
    expect_ret("sysctl(sched_id)", sysctl(&mut op), 0)?;
    let id: XenSysctlSchedId = op.payload();
    expect_eq(
        "sched_id",
        u64::from(id.sched_id),
        u64::from(XEN_SCHEDULER_CREDIT),
    )
}

/// The console history holds the hypervisor's own "(XEN) " lines.
fn readconsole() -> Outcome {
    let mut buf = [0u8; 512];
    let mut op = XenSysctl::new(SysctlCmd::Readconsole);
    op.set_payload(&XenSysctlReadconsole {
        buffer: buf.as_mut_ptr() as u64,
        count: buf.len() as u32,
        ..XenSysctlReadconsole::default()
    });
    expect_ret("sysctl(readconsole)", sysctl(&mut op), 0)?;
    let rc: XenSysctlReadconsole = op.payload();
    let n = (rc.count as usize).min(buf.len());
    if n == 0 {
        fail!("readconsole returned no bytes");
    }
    if !buf[..n].windows(6).any(|w| w == b"(XEN) ") {
        fail!("no \"(XEN) \" line in the first {} bytes", n);
    }
    Ok(())
}

fn expect_self_info(ctx: &Context, info: &XenDomctlGetdomaininfo) -> Outcome {
    expect_eq("domain", u64::from(info.domain), 0)?;
    expect_eq(
        "flags & running",
        u64::from(info.flags & XEN_DOMINF_RUNNING),
        u64::from(XEN_DOMINF_RUNNING),
    )?;
    expect_eq("tot_pages", info.tot_pages, ctx.start_info.nr_pages)?;
    expect_eq(
        "shared_info_frame",
        info.shared_info_frame,
        ctx.start_info.shared_info >> 12,
    )?;
    expect_eq("nr_online_vcpus", u64::from(info.nr_online_vcpus), 1)
}

fn domaininfo_list(ctx: &Context) -> Outcome {
    let mut infos = [XenDomctlGetdomaininfo::default(); 4];
    let mut op = XenSysctl::new(SysctlCmd::Getdomaininfolist);
    op.set_payload(&XenSysctlGetdomaininfolist {
        first_domain: 0,
        max_domains: infos.len() as u32,
        buffer: infos.as_mut_ptr() as u64,
        ..XenSysctlGetdomaininfolist::default()
    });
    expect_ret("sysctl(getdomaininfolist)", sysctl(&mut op), 0)?;
    let list: XenSysctlGetdomaininfolist = op.payload();
    expect_eq("num_domains", u64::from(list.num_domains), 1)?;
    expect_self_info(ctx, &infos[0])
}

fn domctl_version() -> Outcome {
    let mut op = XenDomctl::new(DomctlCmd::Getdomaininfo, 0);
    op.interface_version += 1;
    expect_errno(
        "domctl(new interface version)",
        domctl(&mut op),
        Errno::Acces,
    )
}

fn getdomaininfo_self(ctx: &Context) -> Outcome {
    let mut op = XenDomctl::new(DomctlCmd::Getdomaininfo, 0);
    expect_ret("domctl(getdomaininfo, 0)", domctl(&mut op), 0)?;
    expect_self_info(ctx, &op.payload())
}

fn getdomaininfo_absent() -> Outcome {
    let mut op = XenDomctl::new(DomctlCmd::Getdomaininfo, ABSENT);
    expect_errno(
        "domctl(getdomaininfo, absent)",
        domctl(&mut op),
        ABSENT_ERRNO,
    )
}

fn pause_self() -> Outcome {
    let mut op = XenDomctl::new(DomctlCmd::Pausedomain, 0);
    expect_errno(
        "domctl(pausedomain, self)",
        domctl(&mut op),
        SELF_PAUSE_ERRNO,
    )
}

fn unpause_not_paused() -> Outcome {
    let mut op = XenDomctl::new(DomctlCmd::Unpausedomain, 0);
    expect_errno(
        "domctl(unpausedomain, self)",
        domctl(&mut op),
        NOT_PAUSED_ERRNO,
    )
}
