//! One connected vbd's shared resources: the ring page and the data pool granted to the backend, and the event channel; set up for the handshake and torn down without reusing a page the backend may still hold.
// The data pool is granted once per connection and reused by every request (each request id
// owns 11 pool pages, see dom0_tools::blkfront). The backend moves data with grant copy, so
// these long-lived grants are not "feature-persistent": that feature is about the backend
// keeping grants mapped, and we do not advertise it.

use alloc::vec::Vec;

use hypercall_abi::blkif::BLKIF_MAX_SEGMENTS_PER_REQUEST;
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::grant_table::GrantRef;

use dom0_tools::blkfront::{BlkFront, RING};
use dom0_tools::shared_ring::FrontRing;

use crate::arch::x86_64::grant_front::{self, GrantError};
use crate::arch::x86_64::page_pool::{PoolError, SharedPage};
use crate::arch::x86_64::toolstack_calls;

/// Pages of the data pool: 11 for each of the ring's 32 request ids.
pub const POOL_PAGES: usize = RING.size() as usize * BLKIF_MAX_SEGMENTS_PER_REQUEST;

/// Why a connection could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// No page for the ring or the pool.
    Page(PoolError),
    /// No grant for a page.
    Grant(GrantError),
    /// No event channel: the hypercall's result.
    EventChannel(i64),
    /// The pool does not fit the ring (a bug).
    Pool,
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::Page(e) => write!(f, "no page to share ({e:?})"),
            SetupError::Grant(e) => write!(f, "no grant ({e:?})"),
            SetupError::EventChannel(e) => write!(f, "no event channel ({e})"),
            SetupError::Pool => f.write_str("pool does not fit the ring"),
        }
    }
}

/// The pages and port the engine works on.
pub struct Link {
    /// The shared ring page.
    pub ring: SharedPage,
    ring_ref: GrantRef,
    /// The data pool (index = pool page number of the engine).
    pub pool: Vec<SharedPage>,
    pool_refs: Vec<GrantRef>,
    /// Our end of the event channel.
    pub port: EvtchnPort,
    /// Events received from the backend.
    pub events: u64,
}

/// A connection: the engine and what it works on.
pub struct Connection {
    /// The request engine.
    pub front: BlkFront,
    /// Its pages and port.
    pub link: Link,
}

/// Pages and grants taken so far while setting up, given back on failure.
struct Partial {
    pages: Vec<(SharedPage, GrantRef)>,
}

impl Partial {
    fn share(&mut self, backend: DomId) -> Result<(), SetupError> {
        let page = SharedPage::alloc().map_err(SetupError::Page)?;
        match grant_front::grant(backend, page.mfn(), false) {
            Ok(gref) => {
                self.pages
                    .try_reserve(1)
                    .map_err(|_| SetupError::Page(PoolError::Full))?;
                self.pages.push((page, gref));
                Ok(())
            }
            Err(e) => {
                page.free();
                Err(SetupError::Grant(e))
            }
        }
    }

    /// Ends every grant (nothing was published yet, so the backend holds none) and frees.
    fn undo(self) {
        let _ = revoke(self.pages);
    }
}

/// Ends the grants of `pages` and frees the pages whose grants ended; how many pages could
/// not be taken back (the backend still uses them: they are never reused).
fn revoke(pages: Vec<(SharedPage, GrantRef)>) -> usize {
    let mut kept = 0;
    for (page, gref) in pages {
        if grant_front::end_access(gref) {
            page.free();
        } else {
            kept += 1;
        }
    }
    kept
}

impl Connection {
    /// Allocates and grants the ring page (initialised) and the data pool to `backend`, and
    /// allocates an unbound event channel for it. Device `handle` goes into every request.
    pub fn set_up(backend: DomId, handle: u16) -> Result<Connection, SetupError> {
        let mut partial = Partial { pages: Vec::new() };
        if let Err(e) = (0..=POOL_PAGES).try_for_each(|_| partial.share(backend)) {
            partial.undo();
            return Err(e);
        }
        let port = match toolstack_calls::evtchn_alloc_unbound(DOMID_SELF, backend) {
            Ok(p) => p,
            Err(e) => {
                partial.undo();
                return Err(SetupError::EventChannel(e));
            }
        };
        let mut pages = partial.pages.into_iter();
        let Some((mut ring, ring_ref)) = pages.next() else {
            return Err(SetupError::Pool);
        };
        let (pool, pool_refs): (Vec<_>, Vec<_>) = pages.unzip();
        let ring_state = FrontRing::init(&mut ring, RING);
        let link = Link {
            ring,
            ring_ref,
            pool,
            pool_refs,
            port,
            events: 0,
        };
        match BlkFront::new(ring_state, handle, link.pool_refs.clone()) {
            Ok(front) => Ok(Connection { front, link }),
            Err(_) => {
                Connection::tear_down_link(link);
                Err(SetupError::Pool)
            }
        }
    }

    /// The ring page's grant reference.
    pub fn ring_ref(&self) -> GrantRef {
        self.link.ring_ref
    }

    /// Closes the port and ends every grant; pages the backend still uses are never reused.
    /// Returns how many pages were kept back that way.
    pub fn tear_down(self) -> usize {
        Connection::tear_down_link(self.link)
    }

    fn tear_down_link(link: Link) -> usize {
        let _ = toolstack_calls::evtchn_close(link.port);
        let mut pages = Vec::new();
        if pages.try_reserve(link.pool.len() + 1).is_err() {
            // No memory to pair them up: keep every page (never reused), end what we can.
            let _ = grant_front::end_access(link.ring_ref);
            for gref in link.pool_refs {
                let _ = grant_front::end_access(gref);
            }
            return link.pool.len() + 1;
        }
        pages.push((link.ring, link.ring_ref));
        pages.extend(link.pool.into_iter().zip(link.pool_refs));
        revoke(pages)
    }
}
