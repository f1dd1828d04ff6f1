//! A DomU's end of the xenstore ring (start_info store_mfn / store_evtchn): the page found in the initial mapping, bytes in and out, the port notified.
// The ring page is a frame of our initial mapping (the domain builder puts it there, as it
// does the console page), shared with xenstored in Dom0; it is only accessed through the
// volatile raw-pointer accesses below, never by reference.

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::start_info::{SIF_INITDOMAIN, StartInfo};

use dom0_tools::xs_ring::RingMemory;

use super::frames;
use super::layout::{PADDR_OFFSET, VIRT_BASE};
use super::toolstack_calls;

/// The ring page's virtual address once `init` found it (0: no xenstore).
static RING_VA: AtomicU64 = AtomicU64::new(0);
/// The xenstore event channel (start_info store_evtchn).
static PORT: AtomicU64 = AtomicU64::new(0);

/// Why there is no xenstore connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoStore {
    /// We are Dom0 (its xenstored is local).
    InitialDomain,
    /// start_info names no store event channel (the toolstack runs no xenstored).
    NoEventChannel,
    /// start_info's store_mfn is not a frame of our initial mapping.
    NotMapped(u64),
}

/// For a DomU, finds the xenstore ring named by start_info: `store_mfn` through the M2P to
/// our frame number, which must lie in the initial mapping (where the builder put it); the
/// port is `store_evtchn`, which must be non-zero (0 means no xenstore).
pub fn init(start_info: &StartInfo) -> Result<(), NoStore> {
    if start_info.flags & SIF_INITDOMAIN != 0 {
        return Err(NoStore::InitialDomain);
    }
    if start_info.store_evtchn == 0 {
        return Err(NoStore::NoEventChannel);
    }
    let mfn = start_info.store_mfn;
    let pfn = frames::m2p(mfn).ok_or(NoStore::NotMapped(mfn))?;
    let mapped =
        pfn < frames::initial_pages() && super::boot::p2m().get(pfn as usize).copied() == Some(mfn);
    if !mapped {
        return Err(NoStore::NotMapped(mfn));
    }
    let va = VIRT_BASE + (pfn << PAGE_SHIFT) - PADDR_OFFSET;
    PORT.store(u64::from(start_info.store_evtchn), Ordering::SeqCst);
    RING_VA.store(va, Ordering::SeqCst);
    Ok(())
}

/// The xenstore event channel, once `init` succeeded.
pub fn port() -> Option<EvtchnPort> {
    (RING_VA.load(Ordering::SeqCst) != 0).then(|| PORT.load(Ordering::SeqCst) as EvtchnPort)
}

/// The ring page, as the guest sees it (once `init` found it).
pub struct StorePage(u64);

impl StorePage {
    /// The page, if `init` found it.
    pub fn get() -> Option<StorePage> {
        let va = RING_VA.load(Ordering::SeqCst);
        (va != 0).then_some(StorePage(va))
    }

    fn at(&self, offset: usize, align: usize) -> Option<*mut u8> {
        (offset < 4096 && offset.is_multiple_of(align))
            .then(|| (self.0 as usize + offset) as *mut u8)
    }
}

impl RingMemory for StorePage {
    fn read_u8(&self, offset: usize) -> u8 {
        // SAFETY: inside the ring page (checked), a frame of our initial mapping that only
        // this type accesses; xenstored writes it concurrently, hence volatile.
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

/// Notifies xenstored (after writing requests, or consuming replies).
pub fn notify() {
    if let Some(port) = port() {
        let _ = toolstack_calls::evtchn_send(port);
    }
}
