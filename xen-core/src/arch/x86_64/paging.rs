//! Switching between guest address spaces.

use super::cpu;
use xen_core::layout::PAGE_SIZE;

/// Loads the L4 `mfn` as the current address space.
///
/// Callers pass only frames the frame table holds as validated L4 tables of the running
/// domain: those carry xen-core's own slots (256-271), so xen-core stays mapped.
pub fn load_guest_l4(mfn: u64) {
    // SAFETY: per the contract above the new root maps xen-core exactly as the old one did, so
    // the code, stack and data in use stay where they are.
    unsafe { cpu::write_cr3(mfn * PAGE_SIZE) };
}
