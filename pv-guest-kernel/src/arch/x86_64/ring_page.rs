//! A shared ring page of a DomU's initial mapping (console, xenstore): found from its machine frame, read and written volatile.
// The page is a frame of our initial mapping (the domain builder puts the console and xenstore
// pages there), shared with a backend in Dom0 that writes it concurrently; it is only accessed
// through the volatile raw-pointer accesses below, never by reference.

use core::ptr;

use hypercall_abi::layout::PAGE_SHIFT;

use dom0_tools::console_ring::RingMemory;

use super::frames;
use super::layout::{PADDR_OFFSET, VIRT_BASE};

/// The virtual address of machine frame `mfn` if it is one of our initial mapping's frames
/// (through the M2P to our frame number, checked against our P2M).
pub fn initial_frame_va(mfn: u64) -> Option<u64> {
    let pfn = frames::m2p(mfn)?;
    let mapped =
        pfn < frames::initial_pages() && super::boot::p2m().get(pfn as usize).copied() == Some(mfn);
    mapped.then(|| VIRT_BASE + (pfn << PAGE_SHIFT) - PADDR_OFFSET)
}

/// A ring page at a virtual address [`initial_frame_va`] gave.
pub struct RingPage(pub u64);

impl RingPage {
    fn at(&self, offset: usize, align: usize) -> Option<*mut u8> {
        (offset < 4096 && offset.is_multiple_of(align))
            .then(|| (self.0 as usize + offset) as *mut u8)
    }
}

impl RingMemory for RingPage {
    fn read_u8(&self, offset: usize) -> u8 {
        // SAFETY: inside the ring page (checked), a frame of our initial mapping that only
        // this type accesses; the backend writes it concurrently, hence volatile.
        self.at(offset, 1)
            .map_or(0, |p| unsafe { ptr::read_volatile(p) })
    }

    fn write_u8(&mut self, offset: usize, value: u8) {
        if let Some(p) = self.at(offset, 1) {
            // SAFETY: as in `read_u8`.
            unsafe { ptr::write_volatile(p, value) }
        }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        // SAFETY: aligned and inside the ring page (checked); volatile as above.
        self.at(offset, 4)
            .map_or(0, |p| unsafe { ptr::read_volatile(p.cast::<u32>()) })
    }

    fn write_u32(&mut self, offset: usize, value: u32) {
        if let Some(p) = self.at(offset, 4) {
            // SAFETY: as in `read_u32`.
            unsafe { ptr::write_volatile(p.cast::<u32>(), value) }
        }
    }
}

/// Split-driver rings in a guest page: volatile accesses, and the default x86 barriers (a
/// compiler fence for ordered stores and loads, `mfence` where a load must not pass a store).
impl dom0_tools::shared_ring::SharedRingMemory for RingPage {}
