//! update_descriptor: one checked GDT/LDT descriptor (the work is in `descriptors`).

use hypercall_abi::Errno;

/// Handles update_descriptor(maddr, desc).
pub fn update_descriptor(maddr: u64, desc: u64) -> Result<u64, Errno> {
    crate::descriptors::update_descriptor(maddr, desc)
}
