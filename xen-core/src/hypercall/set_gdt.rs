//! set_gdt: the guest's GDT frames (the work is in `descriptors`).

use hypercall_abi::Errno;

/// Handles set_gdt(frame_list, entries).
pub fn set_gdt(frame_list: u64, entries: u64) -> Result<u64, Errno> {
    crate::descriptors::set_gdt(frame_list, entries)
}
