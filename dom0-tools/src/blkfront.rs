//! A blkif frontend's request engine (io/blkif.h over io/ring.h): ids from a free list, segments in pre-granted pages, responses matched to their requests, transfers split and kept at a queue depth.
// Each request id owns a fixed run of pages of the pool the runtime granted to the backend
// once (id i uses pool pages i*S .. i*S+S for S segments per request), so building a request
// never touches the grant table. The backend copies with GNTTABOP_copy, so these long-lived
// grants are not "feature-persistent" (which is about the backend keeping them mapped).
//
// The backend may be hostile: a response with an id we never sent, one that is not in flight,
// or one whose operation is not the request's, leaves the ring with no way to resynchronise,
// as does a corrupt producer index. The engine then is `Broken`: it moves nothing more and
// the runtime disconnects the device. Nothing here panics on what the backend wrote.
//
// Ids are handed back only when the caller has read a request's data (`release`), so the
// pages of an id the caller still reads are never reused; a transfer retires its requests in
// disk order, so its reads are consumed in order whatever order the responses come in.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use hypercall_abi::blkif::{
    BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_READ, BLKIF_OP_WRITE,
    BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR, BLKIF_RSP_OKAY, BLKIF_SECTOR_SIZE,
    BLKIF_SECTORS_PER_PAGE, BLKIF_SLOT_SIZE, BlkifRequest, BlkifRequestSegment, BlkifResponse,
    BlkifVdev, VDISK_READONLY,
};
use hypercall_abi::grant_table::GrantRef;

use crate::shared_ring::{Corrupt, FrontRing, RingGeometry, SharedRingMemory};

/// Sectors (512 bytes) in one granted page.
pub const SECTORS_PER_PAGE: u32 = BLKIF_SECTORS_PER_PAGE as u32;
/// The most sectors one request carries: 11 segments of 8 sectors (44 KiB).
pub const MAX_SECTORS_PER_REQUEST: u32 = BLKIF_MAX_SEGMENTS_PER_REQUEST as u32 * SECTORS_PER_PAGE;
/// Bytes of a sector.
pub const SECTOR_BYTES: usize = BLKIF_SECTOR_SIZE;

/// The blkif ring in one 4096-byte page: 32 slots of 112 bytes.
pub const RING: RingGeometry = match RingGeometry::new(4096, BLKIF_SLOT_SIZE) {
    Some(g) => g,
    None => panic!("a blkif slot fits in a page"),
};

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read sectors into the request's pages.
    Read,
    /// Write sectors from the request's pages.
    Write,
    /// Flush the device's write cache (no data; needs `feature-flush-cache`).
    Flush,
}

impl Op {
    /// The `BLKIF_OP_*` code.
    pub const fn code(self) -> u8 {
        match self {
            Op::Read => BLKIF_OP_READ,
            Op::Write => BLKIF_OP_WRITE,
            Op::Flush => BLKIF_OP_FLUSH_DISKCACHE,
        }
    }
}

/// The name of a response status, as blkif.h spells it.
pub fn status_name(status: i16) -> &'static str {
    match status {
        BLKIF_RSP_OKAY => "BLKIF_RSP_OKAY",
        BLKIF_RSP_ERROR => "BLKIF_RSP_ERROR",
        BLKIF_RSP_EOPNOTSUPP => "BLKIF_RSP_EOPNOTSUPP",
        _ => "unknown status",
    }
}

/// What the backend published about the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// Size in 512-byte sectors (`sectors`).
    pub sectors: u64,
    /// Logical sector size in bytes (`sector-size`).
    pub sector_size: u32,
    /// `VDISK_*` bits (`info`).
    pub info: u32,
    /// `feature-flush-cache` is set.
    pub flush: bool,
}

impl DiskInfo {
    /// Whether the backend refuses writes.
    pub const fn read_only(&self) -> bool {
        self.info & VDISK_READONLY != 0
    }

    /// Size in bytes (saturating: a hostile `sectors` cannot overflow it).
    pub const fn bytes(&self) -> u64 {
        self.sectors.saturating_mul(SECTOR_BYTES as u64)
    }
}

/// A xenstore number: ASCII decimal digits only (at most 20), fitting in a u64.
pub fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// A xenstore boolean feature: `1` is set; anything else (or nothing) is not.
pub fn parse_feature(text: Option<&[u8]>) -> bool {
    text.and_then(parse_decimal) == Some(1)
}

/// Why the ring cannot be used any more: what the backend did wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// Its response producer index is impossible.
    Ring(Corrupt),
    /// A response carries an id no request has.
    UnknownId(u64),
    /// A response answers a request that is not in flight (answered already, or never sent).
    Duplicate(u64),
    /// A response's operation is not its request's.
    WrongOperation {
        /// The request's id.
        id: u64,
        /// The operation sent.
        sent: u8,
        /// The operation answered.
        answered: u8,
    },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Ring(c) => write!(
                f,
                "corrupt ring (rsp_prod {} with rsp_cons {})",
                c.prod, c.cons
            ),
            Broken::UnknownId(id) => write!(f, "response with unknown id {id}"),
            Broken::Duplicate(id) => write!(f, "response to id {id}, which is not in flight"),
            Broken::WrongOperation { id, sent, answered } => write!(
                f,
                "response to id {id} says operation {answered}, the request was {sent}"
            ),
        }
    }
}

/// Why a request was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The ring is broken (see [`Broken`]).
    Broken(Broken),
    /// Every id is in use (queue depth reached).
    Full,
    /// A read or write of 0 sectors, or of more than one request carries.
    BadLength(u32),
}

/// Why the engine cannot be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSizeError {
    /// Pages offered.
    pub pages: usize,
    /// Slots of the ring (the pool must hold 1 to 11 pages per slot).
    pub slots: usize,
}

/// What went through the ring so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests queued.
    pub requests: u64,
    /// Pushes after which the backend had to be notified.
    pub notifications: u64,
    /// Responses matched to their requests.
    pub responses: u64,
    /// Responses with a status other than BLKIF_RSP_OKAY.
    pub errors: u64,
}

/// One request id's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    /// Sent; `abandoned` ids are freed as soon as their response comes.
    InFlight {
        op: u8,
        abandoned: bool,
    },
    /// Answered with `status`; the caller has not released it yet.
    Done {
        status: i16,
    },
}

/// The frontend's side of one blkif ring.
#[derive(Debug)]
pub struct BlkFront {
    ring: FrontRing,
    handle: BlkifVdev,
    pool: Vec<GrantRef>,
    /// Pool pages (segments) per id.
    segments: usize,
    slots: Vec<Slot>,
    /// Free ids; the next one is at the end.
    free: Vec<u16>,
    counters: Counters,
    broken: Option<Broken>,
}

impl BlkFront {
    /// An engine for `ring` (initialised, nothing in flight) of device `handle`, whose ids
    /// use the pages granted as `pool` (1 to 11 per ring slot, the same number each).
    pub fn new(
        ring: FrontRing,
        handle: BlkifVdev,
        pool: Vec<GrantRef>,
    ) -> Result<Self, PoolSizeError> {
        let slots = ring.geometry().size() as usize;
        let segments = pool.len() / slots.max(1);
        let fits = slots <= usize::from(u16::MAX) + 1
            && segments * slots == pool.len()
            && (1..=BLKIF_MAX_SEGMENTS_PER_REQUEST).contains(&segments);
        if !fits {
            return Err(PoolSizeError {
                pages: pool.len(),
                slots,
            });
        }
        Ok(BlkFront {
            ring,
            handle,
            pool,
            segments,
            slots: vec![Slot::Free; slots],
            free: (0..slots as u32).rev().map(|i| i as u16).collect(),
            counters: Counters::default(),
            broken: None,
        })
    }

    /// Sectors one request carries at most.
    pub fn max_sectors(&self) -> u32 {
        self.segments as u32 * SECTORS_PER_PAGE
    }

    /// Request ids (ring slots).
    pub fn depth(&self) -> usize {
        self.slots.len()
    }

    /// Ids not in use.
    pub fn free_ids(&self) -> usize {
        self.free.len()
    }

    /// What went through the ring so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// What broke the ring, if it is broken.
    pub fn broken(&self) -> Option<Broken> {
        self.broken
    }

    /// The pool pages of request `id` (indexes into the pool the engine was given).
    pub fn pages(&self, id: u16) -> Range<usize> {
        let start = usize::from(id) * self.segments;
        start..start + self.segments
    }

    /// Writes a request for `sectors` sectors at `sector` into the ring (the backend sees it
    /// after [`push`](Self::push)); returns its id. The data of a write goes into the id's
    /// pages (sector `i` of the request at page `pages(id).start + i / 8`, byte `i % 8 * 512`)
    /// before the push.
    pub fn submit(
        &mut self,
        page: &mut dyn SharedRingMemory,
        op: Op,
        sector: u64,
        sectors: u32,
    ) -> Result<u16, SubmitError> {
        if let Some(b) = self.broken {
            return Err(SubmitError::Broken(b));
        }
        let fits = match op {
            Op::Flush => sectors == 0,
            Op::Read | Op::Write => (1..=self.max_sectors()).contains(&sectors),
        };
        if !fits {
            return Err(SubmitError::BadLength(sectors));
        }
        let Some(&id) = self.free.last() else {
            return Err(SubmitError::Full);
        };
        let mut req = BlkifRequest {
            operation: op.code(),
            nr_segments: sectors.div_ceil(SECTORS_PER_PAGE) as u8,
            handle: self.handle,
            id: u64::from(id),
            sector_number: if op == Op::Flush { 0 } else { sector },
            ..BlkifRequest::default()
        };
        let first_page = self.pages(id).start;
        let mut left = sectors;
        for (i, seg) in req.seg[..usize::from(req.nr_segments)]
            .iter_mut()
            .enumerate()
        {
            let n = left.min(SECTORS_PER_PAGE);
            *seg = BlkifRequestSegment {
                gref: self.pool[first_page + i],
                first_sect: 0,
                last_sect: (n - 1) as u8,
                pad: [0; 2],
            };
            left -= n;
        }
        if self.ring.write_request(page, &req.to_bytes()).is_err() {
            return Err(SubmitError::Full);
        }
        self.free.pop();
        self.slots[usize::from(id)] = Slot::InFlight {
            op: op.code(),
            abandoned: false,
        };
        self.counters.requests += 1;
        Ok(id)
    }

    /// Publishes the written requests; true if the backend must be notified now (the caller
    /// sends the event), which the counters record.
    pub fn push(&mut self, page: &mut dyn SharedRingMemory) -> bool {
        let notify = self.ring.push_requests(page);
        if notify {
            self.counters.notifications += 1;
        }
        notify
    }

    /// Takes every response waiting and marks its request done; how many. A response that
    /// matches no request in flight breaks the engine.
    pub fn collect(&mut self, page: &mut dyn SharedRingMemory) -> Result<u32, Broken> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        let mut n = 0;
        loop {
            let mut buf = [0u8; BlkifResponse::SIZE];
            match self.ring.take_response(page, &mut buf) {
                Ok(None) => return Ok(n),
                Ok(Some(_)) => {
                    self.complete(BlkifResponse::from_bytes(&buf))?;
                    n += 1;
                }
                Err(c) => return Err(self.fail(Broken::Ring(c))),
            }
        }
    }

    fn complete(&mut self, rsp: BlkifResponse) -> Result<(), Broken> {
        let index = usize::try_from(rsp.id)
            .ok()
            .filter(|&i| i < self.slots.len());
        let Some(index) = index else {
            return Err(self.fail(Broken::UnknownId(rsp.id)));
        };
        let Slot::InFlight { op, abandoned } = self.slots[index] else {
            return Err(self.fail(Broken::Duplicate(rsp.id)));
        };
        if rsp.operation != op {
            return Err(self.fail(Broken::WrongOperation {
                id: rsp.id,
                sent: op,
                answered: rsp.operation,
            }));
        }
        self.counters.responses += 1;
        if rsp.status != BLKIF_RSP_OKAY {
            self.counters.errors += 1;
        }
        if abandoned {
            self.slots[index] = Slot::Free;
            self.free.push(index as u16);
        } else {
            self.slots[index] = Slot::Done { status: rsp.status };
        }
        Ok(())
    }

    /// Before sleeping: whether responses are waiting; if not, asks for an event at the next
    /// one (and looks again, so none is missed).
    pub fn final_check(&mut self, page: &mut dyn SharedRingMemory) -> Result<bool, Broken> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        self.ring
            .final_check_for_responses(page)
            .map_err(|c| self.fail(Broken::Ring(c)))
    }

    /// The status of request `id` once answered (`None` while in flight or free).
    pub fn status(&self, id: u16) -> Option<i16> {
        match self.slots.get(usize::from(id)) {
            Some(Slot::Done { status }) => Some(*status),
            _ => None,
        }
    }

    /// Gives id `id` back once the caller is done with its pages: at once if answered, as
    /// soon as its response comes if still in flight (the backend may still write its pages).
    pub fn release(&mut self, id: u16) {
        match self.slots.get(usize::from(id)).copied() {
            Some(Slot::Done { .. }) => {
                self.slots[usize::from(id)] = Slot::Free;
                self.free.push(id);
            }
            Some(Slot::InFlight { op, .. }) => {
                self.slots[usize::from(id)] = Slot::InFlight {
                    op,
                    abandoned: true,
                };
            }
            _ => {}
        }
    }

    /// Ids whose requests were sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::InFlight { .. }))
            .count()
    }

    /// Marks the engine broken by `why` (also for the runtime's own reasons, such as a
    /// backend that stopped answering) and returns it.
    pub fn fail(&mut self, why: Broken) -> Broken {
        *self.broken.get_or_insert(why)
    }
}

/// The parts of a transfer that touch hardware or memory: the runtime's, or a test's.
pub trait TransferIo {
    /// The shared ring page.
    fn ring(&mut self) -> &mut dyn SharedRingMemory;
    /// Sends the event to the backend.
    fn notify(&mut self);
    /// Sleeps until the backend sends an event (or a deadline passes: `Err`).
    fn wait(&mut self) -> Result<(), WaitError>;
    /// Writes the next `len` bytes of a write's data to pool page `page` (from byte 0).
    fn fill(&mut self, page: usize, len: usize);
    /// Reads the next `len` bytes of a read's data from pool page `page` (from byte 0).
    fn consume(&mut self, page: usize, len: usize);
}

/// Why waiting for the backend stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// No event came before the deadline.
    Timeout,
    /// The wait failed with this hypercall result.
    Failed(i64),
}

/// Why a transfer stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferError {
    /// The ring broke (the device must be disconnected).
    Broken(Broken),
    /// The backend answered a request with an error status; the requests after it were
    /// still waited for.
    Status {
        /// The request's first sector.
        sector: u64,
        /// Its status (`BLKIF_RSP_*`).
        status: i16,
    },
    /// Waiting for the backend failed; requests still in flight are abandoned.
    Wait(WaitError),
    /// The transfer leaves the disk or asks for nothing sensible.
    BadRequest(SubmitError),
}

/// What one transfer cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Requests sent.
    pub requests: u64,
    /// Notifications sent to the backend.
    pub notifications: u64,
    /// Times we slept waiting for the backend.
    pub waits: u64,
    /// Bytes moved.
    pub bytes: u64,
}

/// `sectors` sectors from `sector` on, cut into requests of at most `max` sectors.
pub fn split(sector: u64, sectors: u64, max: u32) -> impl Iterator<Item = (u64, u32)> {
    let max = u64::from(max.max(1));
    let mut done = 0u64;
    core::iter::from_fn(move || {
        if done >= sectors {
            return None;
        }
        let n = (sectors - done).min(max);
        let at = sector.wrapping_add(done);
        done += n;
        Some((at, n as u32))
    })
}

/// One request of a transfer, in disk order.
struct Pending {
    id: u16,
    sector: u64,
    sectors: u32,
}

/// Reads or writes `sectors` sectors from `sector` on, with up to `depth` requests in flight
/// (at most the ring's size). Write data comes from `io.fill`, read data goes to
/// `io.consume`, both in disk order.
pub fn transfer(
    front: &mut BlkFront,
    io: &mut dyn TransferIo,
    op: Op,
    sector: u64,
    sectors: u64,
    depth: usize,
) -> Result<TransferStats, TransferError> {
    let depth = depth.clamp(1, front.depth());
    let before = front.counters();
    let mut stats = TransferStats::default();
    let mut chunks = split(sector, sectors, front.max_sectors()).peekable();
    let mut order: VecDeque<Pending> = VecDeque::new();
    let mut failure: Option<TransferError> = None;
    loop {
        // Queue what the depth allows (nothing more once something failed).
        let mut queued = false;
        while failure.is_none() && order.len() < depth {
            let Some(&(at, n)) = chunks.peek() else {
                break;
            };
            let id = match front.submit(io.ring(), op, at, n) {
                Ok(id) => id,
                Err(SubmitError::Full) => break,
                Err(SubmitError::Broken(b)) => return Err(TransferError::Broken(b)),
                Err(e) => {
                    failure = Some(TransferError::BadRequest(e));
                    break;
                }
            };
            chunks.next();
            if op == Op::Write {
                for_pages(front, id, n, |page, len| io.fill(page, len));
            }
            order.push_back(Pending {
                id,
                sector: at,
                sectors: n,
            });
            queued = true;
        }
        if queued && front.push(io.ring()) {
            io.notify();
        }
        // Retire answered requests in disk order.
        front.collect(io.ring()).map_err(TransferError::Broken)?;
        let mut retired = false;
        while let Some(p) = order.front() {
            let Some(status) = front.status(p.id) else {
                break;
            };
            if status != BLKIF_RSP_OKAY {
                failure.get_or_insert(TransferError::Status {
                    sector: p.sector,
                    status,
                });
            } else if failure.is_none() {
                if op == Op::Read {
                    for_pages(front, p.id, p.sectors, |page, len| io.consume(page, len));
                }
                stats.bytes += u64::from(p.sectors) * SECTOR_BYTES as u64;
            }
            front.release(p.id);
            order.pop_front();
            retired = true;
        }
        if order.is_empty() && (failure.is_some() || chunks.peek().is_none()) {
            break;
        }
        if retired {
            continue;
        }
        if !front
            .final_check(io.ring())
            .map_err(TransferError::Broken)?
        {
            stats.waits += 1;
            if let Err(e) = io.wait() {
                for p in order.drain(..) {
                    front.release(p.id);
                }
                return Err(TransferError::Wait(e));
            }
        }
    }
    let after = front.counters();
    stats.requests = after.requests - before.requests;
    stats.notifications = after.notifications - before.notifications;
    match failure {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

/// Calls `f(page, bytes)` for each pool page of request `id` carrying `sectors` sectors.
fn for_pages(front: &BlkFront, id: u16, sectors: u32, mut f: impl FnMut(usize, usize)) {
    let mut left = sectors;
    for page in front.pages(id) {
        if left == 0 {
            break;
        }
        let n = left.min(SECTORS_PER_PAGE);
        f(page, n as usize * SECTOR_BYTES);
        left -= n;
    }
}

/// Sends one flush request and waits for its answer.
pub fn flush(front: &mut BlkFront, io: &mut dyn TransferIo) -> Result<(), TransferError> {
    let id = front
        .submit(io.ring(), Op::Flush, 0, 0)
        .map_err(|e| match e {
            SubmitError::Broken(b) => TransferError::Broken(b),
            e => TransferError::BadRequest(e),
        })?;
    if front.push(io.ring()) {
        io.notify();
    }
    loop {
        front.collect(io.ring()).map_err(TransferError::Broken)?;
        if let Some(status) = front.status(id) {
            front.release(id);
            return if status == BLKIF_RSP_OKAY {
                Ok(())
            } else {
                Err(TransferError::Status { sector: 0, status })
            };
        }
        if !front
            .final_check(io.ring())
            .map_err(TransferError::Broken)?
            && let Err(e) = io.wait()
        {
            front.release(id);
            return Err(TransferError::Wait(e));
        }
    }
}

#[cfg(test)]
mod tests;
