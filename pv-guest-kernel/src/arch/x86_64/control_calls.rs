//! domctl and sysctl from the guest: the live request struct goes to the hypervisor and back.

use hypercall_abi::domctl::XenDomctl;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::sysctl::XenSysctl;

use super::calls::hc;

/// domctl(`op`): 0 or -errno; the hypervisor may write `op` back.
pub fn domctl(op: &mut XenDomctl) -> i64 {
    // SAFETY: the hypervisor reads and writes only the live struct; the commands the guests
    // send (queries, and pause/unpause/max_mem of domains they name) change no memory of ours.
    unsafe { hc(Hypercall::Domctl, op as *mut XenDomctl as u64, 0, 0, 0, 0) }
}

/// sysctl(`op`): 0 or -errno; the hypervisor may write `op` back, and fill the buffers that
/// the payload names (the caller's own, live for the call).
pub fn sysctl(op: &mut XenSysctl) -> i64 {
    // SAFETY: the hypervisor reads and writes the live struct and the buffers it names, which
    // the caller keeps alive and owns for the call.
    unsafe { hc(Hypercall::Sysctl, op as *mut XenSysctl as u64, 0, 0, 0, 0) }
}
