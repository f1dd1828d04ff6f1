//! A DomU's end of the xenstore ring (start_info store_mfn / store_evtchn): the page found in the initial mapping, bytes in and out, the port notified.
// The ring page is a frame of our initial mapping, shared with xenstored in Dom0; it is only
// accessed through ring_page's volatile accesses.

use core::sync::atomic::{AtomicU64, Ordering};

use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::start_info::{SIF_INITDOMAIN, StartInfo};

use super::ring_page::{RingPage, initial_frame_va};
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
    let va = initial_frame_va(mfn).ok_or(NoStore::NotMapped(mfn))?;
    PORT.store(u64::from(start_info.store_evtchn), Ordering::SeqCst);
    RING_VA.store(va, Ordering::SeqCst);
    Ok(())
}

/// The xenstore event channel, once `init` succeeded.
pub fn port() -> Option<EvtchnPort> {
    (RING_VA.load(Ordering::SeqCst) != 0).then(|| PORT.load(Ordering::SeqCst) as EvtchnPort)
}

/// The ring page, as the guest sees it.
pub type StorePage = RingPage;

/// The ring page, if `init` found it.
pub fn page() -> Option<StorePage> {
    let va = RING_VA.load(Ordering::SeqCst);
    (va != 0).then_some(RingPage(va))
}

/// Notifies xenstored (after writing requests, or consuming replies).
pub fn notify() {
    if let Some(port) = port() {
        let _ = toolstack_calls::evtchn_send(port);
    }
}
