//! A connected virtual disk's ring service: requests taken a ring's worth per kick, served in order, answered, with ring.h's notification hold-off.
// Per request (decode first, then act): a refused request is answered at once; a write copies
// the guest's data into staging with one batched GNTTABOP_copy and writes the disk only if
// every element succeeded; a read reads the disk into staging and copies it out in one batch;
// a flush (or barrier) flushes, writes what it carries, and flushes again. Every request is
// answered, in order, in its own slot. After the batch the responses are pushed once and the
// frontend notified only if it asked (rsp_event); before going idle the backend re-arms
// req_event and looks again (RING_FINAL_CHECK_FOR_REQUESTS). A ring whose indexes make no
// sense is `Corrupt`: the engine stops for good and the caller disconnects the device.

use hypercall_abi::blkif::{
    BLKIF_RSP_ERROR, BLKIF_RSP_OKAY, BLKIF_SECTOR_SIZE, BLKIF_SLOT_SIZE, BlkifResponse,
};
use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::GnttabCopy;

use super::copier::{self, Direction, MAX_COPY_OPS, StagedCopier};
use super::request::{IoRequest, Kind, VbdRegion, decode};
use crate::block_store::BlockStore;
use crate::shared_ring::{BackRing, Corrupt, RingGeometry, SharedRingMemory};

/// What the engine did so far (for bench figures and `xl block-list`-style reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests answered.
    pub requests: u64,
    /// Segments of the requests served.
    pub segments: u64,
    /// Requests answered with an error status.
    pub errors: u64,
    /// Times the frontend had to be notified.
    pub notifications: u64,
    /// Service calls (kicks).
    pub kicks: u64,
}

/// What one service call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Serviced {
    /// Requests answered.
    pub handled: u32,
    /// The frontend must be notified now (on its event channel).
    pub notify: bool,
    /// Requests are still waiting (the batch limit was reached): call again soon.
    pub more: bool,
}

/// The backend end of one virtual disk's ring.
pub struct BlkBack {
    ring: BackRing,
    frontend: DomId,
    vbd: VbdRegion,
    stats: Stats,
    broken: bool,
}

/// The geometry of a one-page blkif ring (32 slots of 112 bytes).
pub const BLKIF_GEOMETRY: RingGeometry = match RingGeometry::new(4096, BLKIF_SLOT_SIZE) {
    Some(g) => g,
    None => panic!("a blkif slot fits in a page"),
};

impl BlkBack {
    /// A backend for a freshly initialised ring of `frontend`, serving `vbd`.
    pub fn new(frontend: DomId, vbd: VbdRegion) -> Self {
        BlkBack {
            ring: BackRing::new(BLKIF_GEOMETRY),
            frontend,
            vbd,
            stats: Stats::default(),
            broken: false,
        }
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The region served.
    pub fn region(&self) -> VbdRegion {
        self.vbd
    }

    /// Whether the ring was found corrupt (nothing is served any more).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Serves up to a ring's worth of requests.
    pub fn service(
        &mut self,
        page: &mut dyn SharedRingMemory,
        store: &mut dyn BlockStore,
        copier: &mut dyn StagedCopier,
    ) -> Result<Serviced, Corrupt> {
        if self.broken {
            return Err(Corrupt { cons: 0, prod: 0 });
        }
        self.stats.kicks += 1;
        let result = self.serve_batch(page, store, copier);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn serve_batch(
        &mut self,
        page: &mut dyn SharedRingMemory,
        store: &mut dyn BlockStore,
        copier: &mut dyn StagedCopier,
    ) -> Result<Serviced, Corrupt> {
        let budget = self.ring.geometry().size();
        let mut out = Serviced::default();
        loop {
            while out.handled < budget {
                let mut slot = [0u8; BLKIF_SLOT_SIZE];
                if self.ring.take_request(page, &mut slot)?.is_none() {
                    break;
                }
                let rsp = self.handle(&slot, store, copier);
                // We consumed the request just now, so its slot is free for the answer.
                let _ = self.ring.write_response(page, &rsp.to_bytes());
                self.stats.requests += 1;
                if rsp.status != BLKIF_RSP_OKAY {
                    self.stats.errors += 1;
                }
                out.handled += 1;
            }
            out.notify |= self.ring.push_responses(page);
            if out.handled >= budget {
                // Re-arm req_event even when stopping for the budget: a frontend that posts
                // its next batch before we come back must still see that we want a kick.
                out.more = self.ring.final_check_for_requests(page)?;
                break;
            }
            if !self.ring.final_check_for_requests(page)? {
                break;
            }
        }
        if out.notify {
            self.stats.notifications += 1;
        }
        Ok(out)
    }

    /// Serves one request slot; the response to write.
    fn handle(
        &mut self,
        slot: &[u8; BLKIF_SLOT_SIZE],
        store: &mut dyn BlockStore,
        copier: &mut dyn StagedCopier,
    ) -> BlkifResponse {
        match decode(slot, &self.vbd) {
            Err(r) => BlkifResponse::new(r.id, r.operation, r.status),
            Ok(req) => {
                self.stats.segments += req.nr_segments as u64;
                let status = match self.execute(&req, store, copier) {
                    Ok(()) => BLKIF_RSP_OKAY,
                    Err(()) => BLKIF_RSP_ERROR,
                };
                BlkifResponse::new(req.id, req.operation, status)
            }
        }
    }

    /// Moves the data of a checked request.
    fn execute(
        &mut self,
        req: &IoRequest,
        store: &mut dyn BlockStore,
        copier: &mut dyn StagedCopier,
    ) -> Result<(), ()> {
        let bytes = req.bytes();
        // Checked by decode: inside the region, so no overflow.
        let sector = self.vbd.first + req.sector;
        let mut ops = [GnttabCopy::default(); MAX_COPY_OPS];
        debug_assert!(bytes.is_multiple_of(BLKIF_SECTOR_SIZE) && bytes <= copier::STAGING_BYTES);
        match req.kind {
            Kind::Read => {
                let buf = copier.staging().get_mut(..bytes).ok_or(())?;
                store.read(sector, buf).map_err(|_| ())?;
                let n = copier::build_ops(req, self.frontend, Direction::ToGuest, copier, &mut ops);
                copier::run(copier, &mut ops[..n]).then_some(()).ok_or(())
            }
            Kind::Write => self.write(req, sector, bytes, store, copier, &mut ops),
            Kind::FlushWrite => {
                store.flush().map_err(|_| ())?;
                if bytes > 0 {
                    self.write(req, sector, bytes, store, copier, &mut ops)?;
                    store.flush().map_err(|_| ())?;
                }
                Ok(())
            }
        }
    }

    fn write(
        &self,
        req: &IoRequest,
        sector: u64,
        bytes: usize,
        store: &mut dyn BlockStore,
        copier: &mut dyn StagedCopier,
        ops: &mut [GnttabCopy; MAX_COPY_OPS],
    ) -> Result<(), ()> {
        let n = copier::build_ops(req, self.frontend, Direction::FromGuest, copier, ops);
        if !copier::run(copier, &mut ops[..n]) {
            return Err(());
        }
        let buf = copier.staging().get(..bytes).ok_or(())?;
        store.write(sector, buf).map_err(|_| ())
    }
}
