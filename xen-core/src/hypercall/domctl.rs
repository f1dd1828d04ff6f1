//! domctl: the control domain's management of one domain (Xen 4.17's layouts).
//!
//! Handled: getdomaininfo, max_mem, pausedomain, unpausedomain, max_vcpus (one vCPU per
//! domain). Domain creation and destruction, vCPU contexts and scheduler parameters come with
//! the rest of issue 4; until then they, and every other command, answer -ENOSYS.

use hypercall_abi::Errno;
use hypercall_abi::domctl::{
    DomctlCmd, XenDomctl, XenDomctlGetdomaininfo, XenDomctlMaxMem, XenDomctlMaxVcpus,
};
use hypercall_abi::domid::DomId;

use crate::arch::x86_64::uaccess::{read_guest, write_guest};
use crate::hypervisor::with_state;

/// vCPUs a domain may have.
const MAX_VCPUS: u32 = 1;
/// Most control-domain pauses outstanding on one domain (Xen's counter limit).
const MAX_CTL_PAUSES: u8 = 255;
/// log2(page size / 1 KiB): max_mem is in KiB.
const KIB_PER_PAGE_SHIFT: u32 = 2;

/// A decoded domctl on `domain`.
enum Request {
    GetDomainInfo,
    MaxMem(XenDomctlMaxMem),
    Pause,
    Unpause,
    MaxVcpus(XenDomctlMaxVcpus),
}

fn decode(cmd: DomctlCmd, op: &XenDomctl) -> Result<Request, Errno> {
    Ok(match cmd {
        DomctlCmd::Getdomaininfo => Request::GetDomainInfo,
        DomctlCmd::MaxMem => Request::MaxMem(op.payload()),
        DomctlCmd::Pausedomain => Request::Pause,
        DomctlCmd::Unpausedomain => Request::Unpause,
        DomctlCmd::MaxVcpus => Request::MaxVcpus(op.payload()),
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
    let req = decode(header.cmd, &op)?;
    let write_back = act(header.domain, req, &mut op)?;
    if write_back {
        write_guest(arg, &op)?;
    }
    Ok(0)
}

/// Carries out `req` on domain `id`; whether the struct goes back to the guest.
fn act(id: DomId, req: Request, op: &mut XenDomctl) -> Result<bool, Errno> {
    with_state(|mut st| {
        let caller = st.dom.id;
        let dom = st.lookup(id).ok_or(Errno::Srch)?;
        match req {
            Request::GetDomainInfo => {
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
                Ok(false)
            }
            Request::Unpause => {
                if dom.ctl_pauses == 0 {
                    return Err(Errno::Inval);
                }
                dom.ctl_pauses -= 1;
                Ok(false)
            }
            Request::MaxVcpus(m) if m.max > MAX_VCPUS => Err(Errno::Inval),
            Request::MaxVcpus(_) => Ok(false),
        }
    })
}
