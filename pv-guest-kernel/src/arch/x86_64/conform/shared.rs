//! vcpu_info[0] fields the conformance guests write: the event upcall mask; and the pending flag.

use core::mem::offset_of;
use core::ptr;

use hypercall_abi::shared_info::{SharedInfo, VcpuInfo};

use super::super::memory::{self, SparePage};

fn vcpu0_byte(field: usize) -> Option<*mut u8> {
    if !memory::shared_info_mapped() {
        return None;
    }
    let offset = offset_of!(SharedInfo, vcpu_info) + field;
    Some((SparePage::SharedInfo.va() as *mut u8).wrapping_add(offset))
}

/// Writes `vcpu_info[0].evtchn_upcall_mask`; false if shared_info is not mapped.
pub fn set_upcall_mask(mask: u8) -> bool {
    let Some(p) = vcpu0_byte(offset_of!(VcpuInfo, evtchn_upcall_mask)) else {
        return false;
    };
    // SAFETY: shared_info is mapped writable at the spare page (checked above) and the byte
    // lies inside it; the guest owns this field by the ABI, no Rust reference to the page
    // exists, and the hypervisor reads it concurrently, hence volatile.
    unsafe { ptr::write_volatile(p, mask) };
    true
}

/// `vcpu_info[0].evtchn_upcall_pending`, if shared_info is mapped.
pub fn upcall_pending() -> Option<u8> {
    let p = vcpu0_byte(offset_of!(VcpuInfo, evtchn_upcall_pending))?;
    // SAFETY: as in `set_upcall_mask`, a read.
    Some(unsafe { ptr::read_volatile(p) })
}
