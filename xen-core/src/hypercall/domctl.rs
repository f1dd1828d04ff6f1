//! domctl: the control domain's management of one domain (Xen 4.17's layouts).
//!
//! Handled: createdomain, destroydomain, getdomaininfo, max_mem, pausedomain, unpausedomain,
//! max_vcpus (one vCPU per domain), setvcpucontext, getvcpucontext and scheduler_op (credit).
//! Every other command answers -ENOSYS.

use hypercall_abi::Errno;
use hypercall_abi::domctl::{
    DomctlCmd, XEN_DOMCTL_SCHEDOP_GETINFO, XEN_DOMCTL_SCHEDOP_PUTINFO, XEN_SCHEDULER_CREDIT,
    XenDomctl, XenDomctlCreatedomain, XenDomctlGetdomaininfo, XenDomctlGetvcpuinfo,
    XenDomctlMaxMem, XenDomctlMaxVcpus, XenDomctlSchedCredit, XenDomctlSchedulerOp,
    XenDomctlVcpucontext,
};
use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::VIRQ_DOM_EXC;
use hypercall_abi::vcpu::VcpuGuestContext;

use super::domain_lifecycle::{self, CreateRequest, MAX_VCPUS};
use super::vcpu_context::{self, NewContext};
use crate::arch::x86_64::uaccess::{read_guest, write_guest};
use crate::arch::x86_64::{direct_map, tsc};
use crate::hypervisor::with_state;
use crate::mm_glue::with_mm_on;
use crate::schedule;
use hypercall_abi::hypercall_page;
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::frame_table::PageType;
/// Most control-domain pauses outstanding on one domain (Xen's counter limit).
const MAX_CTL_PAUSES: u8 = 255;
/// log2(page size / 1 KiB): max_mem is in KiB.
const KIB_PER_PAGE_SHIFT: u32 = 2;

/// A decoded domctl on `domain`.
enum Request {
    Create(CreateRequest),
    Destroy,
    SetVcpuContext(alloc::boxed::Box<NewContext>),
    GetVcpuContext { ctxt: u64 },
    Sched(XenDomctlSchedulerOp),
    HypercallInit { gmfn: u64 },
    GetDomainInfo,
    MaxMem(XenDomctlMaxMem),
    Pause,
    Unpause,
    MaxVcpus(XenDomctlMaxVcpus),
    GetVcpuInfo(XenDomctlGetvcpuinfo),
}

fn decode(cmd: DomctlCmd, domain: DomId, op: &XenDomctl) -> Result<Request, Errno> {
    Ok(match cmd {
        DomctlCmd::Createdomain => {
            let config: XenDomctlCreatedomain = op.payload();
            Request::Create(domain_lifecycle::decode_create(domain, &config)?)
        }
        DomctlCmd::Destroydomain => Request::Destroy,
        // `struct xen_domctl_hypercall_init`: one u64, the frame (an MFN for a PV guest).
        DomctlCmd::HypercallInit => Request::HypercallInit {
            gmfn: u64::from_le_bytes(op.u[..8].try_into().unwrap_or([0; 8])),
        },
        DomctlCmd::Setvcpucontext | DomctlCmd::Getvcpucontext => {
            let v: XenDomctlVcpucontext = op.payload();
            if v.vcpu >= MAX_VCPUS {
                return Err(Errno::Inval);
            }
            if cmd == DomctlCmd::Getvcpucontext {
                Request::GetVcpuContext { ctxt: v.ctxt }
            } else {
                let ctx: VcpuGuestContext = read_guest(v.ctxt)?;
                Request::SetVcpuContext(alloc::boxed::Box::new(vcpu_context::decode(&ctx)?))
            }
        }
        DomctlCmd::SchedulerOp => {
            let sop: XenDomctlSchedulerOp = op.payload();
            if sop.sched_id != XEN_SCHEDULER_CREDIT {
                return Err(Errno::Inval);
            }
            if sop.cmd != XEN_DOMCTL_SCHEDOP_PUTINFO && sop.cmd != XEN_DOMCTL_SCHEDOP_GETINFO {
                return Err(Errno::Inval);
            }
            Request::Sched(sop)
        }
        DomctlCmd::Getdomaininfo => Request::GetDomainInfo,
        DomctlCmd::MaxMem => Request::MaxMem(op.payload()),
        DomctlCmd::Pausedomain => Request::Pause,
        DomctlCmd::Unpausedomain => Request::Unpause,
        DomctlCmd::MaxVcpus => Request::MaxVcpus(op.payload()),
        DomctlCmd::Getvcpuinfo => {
            let v: XenDomctlGetvcpuinfo = op.payload();
            // As Xen: a vCPU number past the domain's vCPUs is -EINVAL.
            if v.vcpu >= MAX_VCPUS {
                return Err(Errno::Inval);
            }
            Request::GetVcpuInfo(v)
        }
        _ => return Err(Errno::NoSys),
    })
}

/// Handles domctl(op): the interface version first (-EACCES), then the caller's control
/// capability (-EPERM), then the command; an unknown domain is -ESRCH. The struct is written
/// back on success.
pub fn domctl(arg: u64) -> Result<u64, Errno> {
    let mut op = read_guest::<XenDomctl>(arg)?;
    let header = op.decode()?;
    if !with_state(|st| st.dom.is_control()) {
        return Err(Errno::Perm);
    }
    let req = decode(header.cmd, header.domain, &op)?;
    let write_back = act(header.domain, req, &mut op)?;
    if write_back {
        write_guest(arg, &op)?;
    }
    Ok(0)
}

/// Carries out `req` on domain `id`; whether the struct goes back to the guest.
fn act(id: DomId, req: Request, op: &mut XenDomctl) -> Result<bool, Errno> {
    let req = match req {
        Request::Create(c) => {
            op.domain = with_state(|mut st| domain_lifecycle::create(&mut st, &c))?;
            return Ok(true);
        }
        Request::Destroy => {
            with_state(|mut st| {
                domain_lifecycle::destroy(&mut st, id)?;
                // As Xen, the hardware domain hears of the end (VIRQ_DOM_EXC).
                crate::event_glue::send_global_virq(&mut st, VIRQ_DOM_EXC);
                Ok::<_, Errno>(())
            })?;
            return Ok(false);
        }
        Request::SetVcpuContext(new) => {
            if with_state(|st| st.dom.id) == id {
                return Err(Errno::Inval);
            }
            with_mm_on(id, |mm, dom| vcpu_context::install(mm, dom, &new)).ok_or(Errno::Srch)??;
            with_state(|mut st| domain_lifecycle::sync(&mut st, id));
            return Ok(false);
        }
        Request::GetVcpuContext { ctxt } => {
            let ctx = with_state(|mut st| {
                if st.dom.id == id {
                    // The running vCPU's registers are live in the CPU, not saved.
                    return Err(Errno::Inval);
                }
                st.lookup(id)
                    .map(|d| alloc::boxed::Box::new(vcpu_context::read(d)))
                    .ok_or(Errno::Srch)
            })?;
            if ctxt != 0 {
                write_guest(ctxt, &*ctx)?;
            }
            return Ok(false);
        }
        Request::HypercallInit { gmfn } => {
            // As Xen: the frame must be the domain's and take a writable reference (-EACCES).
            with_mm_on(id, |mm, dom| {
                mm.get_page_and_type(gmfn, dom.id, PageType::Writable)
                    .map_err(|_| Errno::Acces)?;
                let mut page = [0u8; 4096];
                hypercall_page::fill(&mut page);
                direct_map::write_bytes(gmfn * PAGE_SIZE, &page);
                mm.put_page_and_type(gmfn);
                Ok(())
            })
            .ok_or(Errno::Srch)??;
            return Ok(false);
        }
        other => other,
    };
    with_state(|mut st| {
        if let Request::Sched(mut sop) = req {
            st.lookup(id).ok_or(Errno::Srch)?;
            if sop.cmd == XEN_DOMCTL_SCHEDOP_PUTINFO {
                let c = sop.credit();
                st.sched.putinfo(id, c.weight, c.cap)?;
                return Ok(false);
            }
            let p = st.sched.get_params(id)?;
            sop.set_credit(XenDomctlSchedCredit {
                weight: p.weight as u16,
                cap: p.cap as u16,
            });
            op.set_payload(&sop);
            return Ok(true);
        }
        let caller = st.dom.id;
        let cpu_time = st.sched.domain_runtime_ns(id, tsc::now_ns()).ok();
        let dom = if id == caller {
            &mut *st.dom
        } else {
            st.domains.get_mut(id).ok_or(Errno::Srch)?
        };
        match req {
            Request::GetDomainInfo => {
                dom.cpu_time = cpu_time.unwrap_or(dom.cpu_time);
                let info: XenDomctlGetdomaininfo = dom.info(id == caller);
                op.set_payload(&info);
                Ok(true)
            }
            Request::MaxMem(m) => {
                // As in Xen, a limit below what the domain owns only stops it from growing.
                dom.max_pages = m.max_memkb >> KIB_PER_PAGE_SHIFT;
                Ok(false)
            }
            // A domain cannot pause itself through the controller.
            Request::Pause if id == caller => Err(Errno::Inval),
            Request::Pause => {
                if dom.ctl_pauses == MAX_CTL_PAUSES {
                    return Err(Errno::Busy);
                }
                dom.ctl_pauses += 1;
                schedule::sync_runnable(st.sched, dom);
                Ok(false)
            }
            Request::Unpause => {
                if dom.ctl_pauses == 0 {
                    return Err(Errno::Inval);
                }
                dom.ctl_pauses -= 1;
                schedule::sync_runnable(st.sched, dom);
                Ok(false)
            }
            Request::GetVcpuInfo(mut v) => {
                dom.cpu_time = cpu_time.unwrap_or(dom.cpu_time);
                v.online = u8::from(dom.online);
                v.blocked = u8::from(dom.blocked);
                // One CPU: the caller's vCPU is the one running.
                v.running = u8::from(id == caller);
                v.cpu_time = dom.cpu_time;
                v.cpu = 0;
                op.set_payload(&v);
                Ok(true)
            }
            Request::MaxVcpus(m) if m.max > MAX_VCPUS => Err(Errno::Inval),
            Request::MaxVcpus(_) => Ok(false),
            // Handled above.
            Request::Create(_)
            | Request::Destroy
            | Request::SetVcpuContext(_)
            | Request::GetVcpuContext { .. }
            | Request::Sched(_)
            | Request::HypercallInit { .. } => Err(Errno::Inval),
        }
    })
}
