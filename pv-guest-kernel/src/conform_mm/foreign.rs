//! Frames that are not ours, found portably: one of the hypervisor's page tables.

use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::mmu::PTE_ADDR_MASK;

use super::tables::P;
use crate::arch::x86_64::frames;
use crate::arch::x86_64::memory;
use crate::arch::x86_64::probes::HYPERVISOR_ADDRESS;
use crate::selftest::report::{Detail, fail};

/// A frame of the hypervisor: the L3 table behind the L4 slot that maps the start of the
/// hypervisor's direct map (slot 262 in Xen 4.17 and in xen-core). Every guest L4 carries the
/// hypervisor's own entries in slots 256..=271, so any guest can read this frame number; the
/// frame is the hypervisor's page table, owned by no domain, and not in our P2M (checked).
/// Slot 258 would not do: Xen's linear-page-table slot names our own L4.
pub fn hypervisor_frame() -> Result<u64, Detail> {
    let slot = ((HYPERVISOR_ADDRESS >> 39) & 511) as usize;
    let Some(e) = memory::initial_l4_entry(slot) else {
        fail!("initial L4 unreadable");
    };
    if e & P == 0 {
        fail!("L4 slot {} is empty", slot);
    }
    let mfn = (e & PTE_ADDR_MASK) >> PAGE_SHIFT;
    if frames::in_p2m(mfn) {
        fail!("L4 slot {} names our own frame {:#x}", slot, mfn);
    }
    Ok(mfn)
}
