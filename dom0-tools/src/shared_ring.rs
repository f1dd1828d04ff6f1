//! Both ends of the split drivers' shared request/response ring (io/ring.h): the frontend's `FrontRing` and the backend's `BackRing`.
// The page starts with `SharedRingHeader` (req_prod, req_event, rsp_prod, rsp_event) and then
// holds `size` slots of `slot_size` bytes; a slot carries a request and later the response to
// it (ring.h's union), so slot sizes are the larger of the two. Each end keeps its own indexes
// privately and only publishes producer and event indexes in the page.
//
// The other end may be hostile. A call reads each index the other end owns once and checks it
// against what the ring can hold given our private indexes: a backend never counts more
// requests than the ring holds beyond the ones it has not yet answered, a frontend never counts
// more responses than it has requests outstanding. A value outside that is `Corrupt`: the call
// moves nothing and the caller should stop using the ring (disconnect the device), since there
// is nothing to resynchronise to. Indexes the other end may also scribble on but which only
// steer notifications (the event indexes, our own producer index's old value) are used as read.
// The final checks read the producer twice on purpose (before and after publishing the event);
// each read is checked on its own.
//
// Memory ordering (ring.h, and the drivers that use it): a producer makes its slot writes
// visible before the producer index (write barrier), and makes the new producer index visible
// before it reads the other end's event index (full barrier); a consumer reads the producer
// index before the slots it covers (read barrier); a final check makes its event index visible
// before it reads the producer index again (full barrier). The calls below invoke the hooks of
// `SharedRingMemory` at exactly those points.

use core::mem::offset_of;
use core::sync::atomic::{Ordering, compiler_fence, fence};

use hypercall_abi::ring::{RingIdx, SRING_HEADER_SIZE, SharedRingHeader, notify_needed, ring_size};

pub use crate::console_ring::{Corrupt, RingMemory};

const REQ_PROD: usize = offset_of!(SharedRingHeader, req_prod);
const REQ_EVENT: usize = offset_of!(SharedRingHeader, req_event);
const RSP_PROD: usize = offset_of!(SharedRingHeader, rsp_prod);
const RSP_EVENT: usize = offset_of!(SharedRingHeader, rsp_event);
const PAD: usize = offset_of!(SharedRingHeader, pad);

/// A shared ring page with the barriers ring.h places between its accesses.
///
/// The defaults suit x86_64 with volatile `RingMemory` accesses: x86 keeps stores in order and
/// loads in order, so the write and read barriers only have to stop the compiler; it may let a
/// load pass an earlier store to another address, so the full barrier is a real fence
/// (`mfence`). Override them for a weaker memory model, or to observe them in tests.
pub trait SharedRingMemory: RingMemory {
    /// Slot writes before it are visible to the other end before the index write after it.
    fn write_barrier(&mut self) {
        compiler_fence(Ordering::SeqCst);
    }
    /// The index read before it happens before the slot reads after it.
    fn read_barrier(&mut self) {
        compiler_fence(Ordering::SeqCst);
    }
    /// Every access before it (stores included) is visible before any access after it.
    fn full_barrier(&mut self) {
        fence(Ordering::SeqCst);
    }
}

/// Where a ring's slots are: how many (a power of two) and how large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingGeometry {
    slot_size: usize,
    slots: u32,
}

impl RingGeometry {
    /// The ring of `slot_size`-byte slots filling `area` bytes (header included; usually one
    /// 4096-byte page), as ring.h sizes it; `None` if not even one slot fits.
    pub const fn new(area: usize, slot_size: usize) -> Option<Self> {
        let slots = ring_size(area, slot_size);
        if slots == 0 || slots > 1 << 31 {
            return None;
        }
        Some(RingGeometry {
            slot_size,
            slots: slots as u32,
        })
    }

    /// Number of slots (RING_SIZE).
    pub const fn size(&self) -> u32 {
        self.slots
    }

    /// Bytes per slot.
    pub const fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Byte offset in the page of the slot index `idx` falls on.
    pub const fn slot_offset(&self, idx: RingIdx) -> usize {
        SRING_HEADER_SIZE + (idx & (self.slots - 1)) as usize * self.slot_size
    }

    fn write_slot(&self, page: &mut dyn SharedRingMemory, idx: RingIdx, bytes: &[u8]) {
        let base = self.slot_offset(idx);
        for (i, &b) in bytes.iter().enumerate() {
            page.write_u8(base + i, b);
        }
    }

    /// Copies the slot into `buf` (as much as fits); returns how many bytes.
    fn read_slot(&self, page: &mut dyn SharedRingMemory, idx: RingIdx, buf: &mut [u8]) -> usize {
        let base = self.slot_offset(idx);
        let n = buf.len().min(self.slot_size);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = page.read_u8(base + i);
        }
        n
    }

    fn check_len(&self, len: usize) -> Result<(), SlotError> {
        if len > self.slot_size {
            Err(SlotError::TooLong {
                len,
                slot_size: self.slot_size,
            })
        } else {
            Ok(())
        }
    }
}

/// Why a request or response could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// No slot to write: the ring is full of outstanding requests (frontend), or every
    /// consumed request has its response already (backend).
    NoSlot,
    /// The bytes do not fit in a slot.
    TooLong {
        /// Bytes offered.
        len: usize,
        /// Bytes per slot.
        slot_size: usize,
    },
}

/// Initialises the shared header (SHARED_RING_INIT): producers 0, events 1, the rest zero.
pub fn init_shared(page: &mut dyn SharedRingMemory) {
    let h = SharedRingHeader::new();
    page.write_u32(REQ_PROD, h.req_prod);
    page.write_u32(REQ_EVENT, h.req_event);
    page.write_u32(RSP_PROD, h.rsp_prod);
    page.write_u32(RSP_EVENT, h.rsp_event);
    for (i, &b) in h.pad.iter().enumerate() {
        page.write_u8(PAD + i, b);
    }
}

/// The frontend's end: it produces requests and consumes responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontRing {
    geometry: RingGeometry,
    /// Requests written, pushed or not.
    req_prod_pvt: RingIdx,
    /// Responses consumed.
    rsp_cons: RingIdx,
}

impl FrontRing {
    /// Initialises the shared header and a frontend for it (SHARED_RING_INIT, FRONT_RING_INIT).
    pub fn init(page: &mut dyn SharedRingMemory, geometry: RingGeometry) -> Self {
        init_shared(page);
        Self::attach(geometry, 0)
    }

    /// A frontend for a ring whose producers are both at `start` (FRONT_RING_ATTACH).
    pub const fn attach(geometry: RingGeometry, start: RingIdx) -> Self {
        FrontRing {
            geometry,
            req_prod_pvt: start,
            rsp_cons: start,
        }
    }

    /// The ring's geometry.
    pub const fn geometry(&self) -> RingGeometry {
        self.geometry
    }

    /// Requests written so far (the private producer index).
    pub const fn req_prod_pvt(&self) -> RingIdx {
        self.req_prod_pvt
    }

    /// Responses consumed so far.
    pub const fn rsp_cons(&self) -> RingIdx {
        self.rsp_cons
    }

    /// Requests written whose responses are not consumed yet.
    const fn outstanding(&self) -> u32 {
        self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// Slots free for new requests (RING_FREE_REQUESTS).
    pub const fn free_requests(&self) -> u32 {
        self.geometry.slots - self.outstanding()
    }

    /// Whether no request slot is free (RING_FULL).
    pub const fn is_full(&self) -> bool {
        self.free_requests() == 0
    }

    /// Writes `bytes` into the next request slot (the rest of the slot is left as it was).
    /// The backend sees it after [`push_requests`](Self::push_requests).
    pub fn write_request(
        &mut self,
        page: &mut dyn SharedRingMemory,
        bytes: &[u8],
    ) -> Result<(), SlotError> {
        self.geometry.check_len(bytes.len())?;
        if self.is_full() {
            return Err(SlotError::NoSlot);
        }
        self.geometry.write_slot(page, self.req_prod_pvt, bytes);
        self.req_prod_pvt = self.req_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Publishes the written requests; returns whether the backend must be notified
    /// (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: write barrier, req_prod, full barrier, req_event).
    pub fn push_requests(&mut self, page: &mut dyn SharedRingMemory) -> bool {
        push(page, REQ_PROD, REQ_EVENT, self.req_prod_pvt)
    }

    /// Responses the backend produced that are not consumed yet (RING_HAS_UNCONSUMED_RESPONSES),
    /// or `Corrupt` if it claims more than there are requests outstanding.
    pub fn unconsumed_responses(&self, page: &mut dyn SharedRingMemory) -> Result<u32, Corrupt> {
        let rsp_prod = page.read_u32(RSP_PROD);
        self.responses_up_to(rsp_prod)
    }

    fn responses_up_to(&self, rsp_prod: RingIdx) -> Result<u32, Corrupt> {
        let n = rsp_prod.wrapping_sub(self.rsp_cons);
        if n > self.outstanding() {
            Err(Corrupt {
                cons: self.rsp_cons,
                prod: rsp_prod,
            })
        } else {
            Ok(n)
        }
    }

    /// Copies the next response into `buf` (as much of the slot as fits) and consumes it;
    /// returns how many bytes, or `None` if there is no response.
    pub fn take_response(
        &mut self,
        page: &mut dyn SharedRingMemory,
        buf: &mut [u8],
    ) -> Result<Option<usize>, Corrupt> {
        if self.unconsumed_responses(page)? == 0 {
            return Ok(None);
        }
        page.read_barrier();
        let n = self.geometry.read_slot(page, self.rsp_cons, buf);
        self.rsp_cons = self.rsp_cons.wrapping_add(1);
        Ok(Some(n))
    }

    /// Before sleeping (RING_FINAL_CHECK_FOR_RESPONSES): whether responses are waiting; if
    /// none, asks to be notified of the next one (rsp_event) and checks again after a full
    /// barrier, so a response pushed meanwhile is not missed.
    pub fn final_check_for_responses(
        &mut self,
        page: &mut dyn SharedRingMemory,
    ) -> Result<bool, Corrupt> {
        if self.unconsumed_responses(page)? > 0 {
            return Ok(true);
        }
        page.write_u32(RSP_EVENT, self.rsp_cons.wrapping_add(1));
        page.full_barrier();
        Ok(self.unconsumed_responses(page)? > 0)
    }
}

/// The backend's end: it consumes requests and produces responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackRing {
    geometry: RingGeometry,
    /// Responses written, pushed or not.
    rsp_prod_pvt: RingIdx,
    /// Requests consumed.
    req_cons: RingIdx,
}

impl BackRing {
    /// A backend for a freshly initialised ring (BACK_RING_INIT).
    pub const fn new(geometry: RingGeometry) -> Self {
        Self::attach(geometry, 0)
    }

    /// A backend for a ring whose producers are both at `start` (BACK_RING_ATTACH).
    pub const fn attach(geometry: RingGeometry, start: RingIdx) -> Self {
        BackRing {
            geometry,
            rsp_prod_pvt: start,
            req_cons: start,
        }
    }

    /// The ring's geometry.
    pub const fn geometry(&self) -> RingGeometry {
        self.geometry
    }

    /// Responses written so far (the private producer index).
    pub const fn rsp_prod_pvt(&self) -> RingIdx {
        self.rsp_prod_pvt
    }

    /// Requests consumed so far.
    pub const fn req_cons(&self) -> RingIdx {
        self.req_cons
    }

    /// Requests consumed but not answered yet.
    const fn unanswered(&self) -> u32 {
        self.req_cons.wrapping_sub(self.rsp_prod_pvt)
    }

    /// Requests the frontend produced that are not consumed yet (RING_HAS_UNCONSUMED_REQUESTS),
    /// or `Corrupt` if req_prod is behind what we consumed or further ahead of our responses
    /// than the ring holds (RING_REQUEST_PROD_OVERFLOW). The count never exceeds the ring size
    /// minus the requests not yet answered, so consuming it never overflows the ring
    /// (RING_REQUEST_CONS_OVERFLOW).
    pub fn unconsumed_requests(&self, page: &mut dyn SharedRingMemory) -> Result<u32, Corrupt> {
        let req_prod = page.read_u32(REQ_PROD);
        self.requests_up_to(req_prod)
    }

    fn requests_up_to(&self, req_prod: RingIdx) -> Result<u32, Corrupt> {
        // Requests the frontend claims since our last response: those we hold plus new ones.
        let since_answered = req_prod.wrapping_sub(self.rsp_prod_pvt);
        if since_answered > self.geometry.slots || since_answered < self.unanswered() {
            Err(Corrupt {
                cons: self.req_cons,
                prod: req_prod,
            })
        } else {
            Ok(since_answered - self.unanswered())
        }
    }

    /// Copies the next request into `buf` (as much of the slot as fits) and consumes it;
    /// returns how many bytes, or `None` if there is no request. The copy is ours: the
    /// frontend may rewrite the slot afterwards (RING_COPY_REQUEST).
    pub fn take_request(
        &mut self,
        page: &mut dyn SharedRingMemory,
        buf: &mut [u8],
    ) -> Result<Option<usize>, Corrupt> {
        if self.unconsumed_requests(page)? == 0 {
            return Ok(None);
        }
        page.read_barrier();
        let n = self.geometry.read_slot(page, self.req_cons, buf);
        self.req_cons = self.req_cons.wrapping_add(1);
        Ok(Some(n))
    }

    /// Writes `bytes` as the response to the oldest unanswered request, into its slot (the
    /// rest of the slot is left as it was). The frontend sees it after
    /// [`push_responses`](Self::push_responses).
    pub fn write_response(
        &mut self,
        page: &mut dyn SharedRingMemory,
        bytes: &[u8],
    ) -> Result<(), SlotError> {
        self.geometry.check_len(bytes.len())?;
        if self.unanswered() == 0 {
            return Err(SlotError::NoSlot);
        }
        self.geometry.write_slot(page, self.rsp_prod_pvt, bytes);
        self.rsp_prod_pvt = self.rsp_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// Publishes the written responses; returns whether the frontend must be notified
    /// (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: write barrier, rsp_prod, full barrier, rsp_event).
    pub fn push_responses(&mut self, page: &mut dyn SharedRingMemory) -> bool {
        push(page, RSP_PROD, RSP_EVENT, self.rsp_prod_pvt)
    }

    /// Before sleeping (RING_FINAL_CHECK_FOR_REQUESTS): whether requests are waiting; if none,
    /// asks to be notified of the next one (req_event) and checks again after a full barrier,
    /// so a request pushed meanwhile is not missed.
    pub fn final_check_for_requests(
        &mut self,
        page: &mut dyn SharedRingMemory,
    ) -> Result<bool, Corrupt> {
        if self.unconsumed_requests(page)? > 0 {
            return Ok(true);
        }
        page.write_u32(REQ_EVENT, self.req_cons.wrapping_add(1));
        page.full_barrier();
        Ok(self.unconsumed_requests(page)? > 0)
    }
}

/// Publishes producer index `new` at `prod`; whether the consumer, waiting at `event`, must be
/// notified.
fn push(page: &mut dyn SharedRingMemory, prod: usize, event: usize, new: RingIdx) -> bool {
    let old = page.read_u32(prod);
    page.write_barrier();
    page.write_u32(prod, new);
    page.full_barrier();
    let event = page.read_u32(event);
    notify_needed(old, new, event)
}

#[cfg(test)]
mod tests {
    use core::cell::RefCell;

    use super::*;

    /// What a page saw, in order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Op {
        ReadU8(usize),
        WriteU8(usize),
        ReadU32(usize),
        WriteU32(usize),
        Wmb,
        Rmb,
        Mb,
    }

    /// A page in memory, as both ends would see it, logging accesses and barriers.
    struct Page {
        bytes: Vec<u8>,
        log: RefCell<Vec<Op>>,
    }

    impl Page {
        fn new() -> Self {
            Page {
                bytes: vec![0xAA; 4096],
                log: RefCell::new(Vec::new()),
            }
        }
        fn note(&self, op: Op) {
            self.log.borrow_mut().push(op);
        }
        fn take_log(&self) -> Vec<Op> {
            core::mem::take(&mut self.log.borrow_mut())
        }
        fn get(&self, offset: usize) -> u32 {
            u32::from_le_bytes(self.bytes[offset..offset + 4].try_into().unwrap())
        }
        fn set(&mut self, offset: usize, value: u32) {
            self.bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        }
    }

    impl RingMemory for Page {
        fn read_u8(&self, offset: usize) -> u8 {
            self.note(Op::ReadU8(offset));
            self.bytes[offset]
        }
        fn write_u8(&mut self, offset: usize, value: u8) {
            self.note(Op::WriteU8(offset));
            self.bytes[offset] = value;
        }
        fn read_u32(&self, offset: usize) -> u32 {
            self.note(Op::ReadU32(offset));
            self.get(offset)
        }
        fn write_u32(&mut self, offset: usize, value: u32) {
            self.note(Op::WriteU32(offset));
            self.set(offset, value);
        }
    }

    impl SharedRingMemory for Page {
        fn write_barrier(&mut self) {
            self.note(Op::Wmb);
        }
        fn read_barrier(&mut self) {
            self.note(Op::Rmb);
        }
        fn full_barrier(&mut self) {
            self.note(Op::Mb);
        }
    }

    /// A 4-slot ring of 24-byte slots (wraps slot positions quickly).
    fn small() -> RingGeometry {
        RingGeometry::new(64 + 4 * 24 + 10, 24).unwrap()
    }

    /// Sets the shared header as if both ends had exchanged `start` requests and responses.
    fn header_at(page: &mut Page, start: u32) {
        page.set(REQ_PROD, start);
        page.set(RSP_PROD, start);
        page.set(REQ_EVENT, start.wrapping_add(1));
        page.set(RSP_EVENT, start.wrapping_add(1));
    }

    fn position(log: &[Op], op: Op) -> usize {
        log.iter().position(|&o| o == op).unwrap()
    }

    #[test]
    fn geometry_follows_ring_h_sizes() {
        let blk = RingGeometry::new(4096, 112).unwrap();
        assert_eq!((blk.size(), blk.slot_size()), (32, 112));
        assert_eq!(blk.slot_offset(0), 64);
        assert_eq!(blk.slot_offset(33), 64 + 112);
        assert_eq!(small().size(), 4);
        assert_eq!(RingGeometry::new(64, 16), None);
        assert_eq!(RingGeometry::new(4096, 0), None);
    }

    #[test]
    fn init_writes_the_shared_ring_init_header() {
        let mut page = Page::new();
        let front = FrontRing::init(&mut page, small());
        assert_eq!(
            (
                page.get(REQ_PROD),
                page.get(REQ_EVENT),
                page.get(RSP_PROD),
                page.get(RSP_EVENT)
            ),
            (0, 1, 0, 1)
        );
        assert!(page.bytes[PAD..SRING_HEADER_SIZE].iter().all(|&b| b == 0));
        assert_eq!((front.req_prod_pvt(), front.rsp_cons()), (0, 0));
        assert_eq!(front.free_requests(), 4);
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let mut page = Page::new();
        let mut front = FrontRing::init(&mut page, small());
        let mut back = BackRing::new(small());
        front.write_request(&mut page, b"read 1").unwrap();
        front.write_request(&mut page, b"read 2").unwrap();
        assert_eq!(front.free_requests(), 2);
        assert_eq!(back.unconsumed_requests(&mut page), Ok(0), "not pushed yet");
        assert!(front.push_requests(&mut page), "backend waits at 1");
        assert_eq!(back.unconsumed_requests(&mut page), Ok(2));
        let mut buf = [0u8; 64];
        assert_eq!(back.take_request(&mut page, &mut buf), Ok(Some(24)));
        assert_eq!(&buf[..6], b"read 1");
        assert_eq!(back.take_request(&mut page, &mut buf), Ok(Some(24)));
        assert_eq!(&buf[..6], b"read 2");
        assert_eq!(back.take_request(&mut page, &mut buf), Ok(None));
        back.write_response(&mut page, b"ok 1").unwrap();
        back.write_response(&mut page, b"ok 2").unwrap();
        assert_eq!(
            back.write_response(&mut page, b"ok 3"),
            Err(SlotError::NoSlot)
        );
        assert_eq!(front.unconsumed_responses(&mut page), Ok(0));
        assert!(back.push_responses(&mut page), "frontend waits at 1");
        let mut small_buf = [0u8; 4];
        assert_eq!(front.take_response(&mut page, &mut small_buf), Ok(Some(4)));
        assert_eq!(&small_buf, b"ok 1");
        assert_eq!(front.take_response(&mut page, &mut small_buf), Ok(Some(4)));
        assert_eq!(&small_buf, b"ok 2");
        assert_eq!(front.take_response(&mut page, &mut small_buf), Ok(None));
        assert_eq!(front.free_requests(), 4);
    }

    #[test]
    fn a_full_ring_takes_no_more_requests_and_long_slots_are_refused() {
        let mut page = Page::new();
        let mut front = FrontRing::init(&mut page, small());
        for _ in 0..4 {
            front.write_request(&mut page, &[1; 24]).unwrap();
        }
        assert!(front.is_full());
        assert_eq!(front.write_request(&mut page, b"x"), Err(SlotError::NoSlot));
        let mut front = FrontRing::init(&mut page, small());
        assert_eq!(
            front.write_request(&mut page, &[0; 25]),
            Err(SlotError::TooLong {
                len: 25,
                slot_size: 24
            })
        );
        let mut back = BackRing::new(small());
        assert_eq!(
            back.write_response(&mut page, &[0; 25]),
            Err(SlotError::TooLong {
                len: 25,
                slot_size: 24
            })
        );
    }

    /// Runs `rounds` exchanges of random batches starting at index `start`, checking every
    /// byte that arrives.
    fn exchange(start: u32, rounds: u32, seed: u64) {
        let mut rng = Rng(seed);
        let mut page = Page::new();
        header_at(&mut page, start);
        let geometry = small();
        let mut front = FrontRing::attach(geometry, start);
        let mut back = BackRing::attach(geometry, start);
        let (mut sent, mut served, mut received) = (0u32, 0u32, 0u32);
        let mut buf = [0u8; 24];
        for _ in 0..rounds {
            for _ in 0..rng.below(front.free_requests() + 1) {
                front.write_request(&mut page, &sent.to_le_bytes()).unwrap();
                sent += 1;
            }
            front.push_requests(&mut page);
            // The backend answers some of what it took, and takes some more.
            let take = rng.below(back.unconsumed_requests(&mut page).unwrap() + 1);
            for _ in 0..take {
                assert_eq!(back.take_request(&mut page, &mut buf), Ok(Some(24)));
                assert_eq!(buf[..4], served.to_le_bytes());
                served += 1;
            }
            let answered = back.rsp_prod_pvt().wrapping_sub(start);
            for i in answered..answered + rng.below(back.unanswered() + 1) {
                back.write_response(&mut page, &(!i).to_le_bytes()).unwrap();
            }
            back.push_responses(&mut page);
            while let Some(n) = front.take_response(&mut page, &mut buf).unwrap() {
                assert_eq!(n, 24);
                assert_eq!(buf[..4], (!received).to_le_bytes());
                received += 1;
            }
            assert!(back.unanswered() <= geometry.size());
            assert!(front.outstanding() <= geometry.size());
        }
        assert!(received > 100, "the exchange made progress");
        assert!(
            front.req_prod_pvt().wrapping_sub(start) == sent,
            "indexes kept count across the wrap"
        );
    }

    #[test]
    fn exchange_wraps_around_u32() {
        exchange(u32::MAX - 5, 300, 1);
        exchange(u32::MAX - 100, 400, 2);
        exchange(0, 300, 3);
    }

    #[test]
    fn notifications_follow_the_event_indexes() {
        let mut page = Page::new();
        for start in [0, u32::MAX - 1, u32::MAX] {
            header_at(&mut page, start);
            let mut front = FrontRing::attach(small(), start);
            let mut back = BackRing::attach(small(), start);
            // The backend waits for the next request: notify.
            front.write_request(&mut page, b"a").unwrap();
            assert!(front.push_requests(&mut page));
            // Its event index is now behind: the next push needs none.
            front.write_request(&mut page, b"b").unwrap();
            assert!(!front.push_requests(&mut page));
            // The backend asked to be woken only after two more (batching): none yet.
            page.set(REQ_EVENT, start.wrapping_add(4));
            front.write_request(&mut page, b"c").unwrap();
            assert!(!front.push_requests(&mut page));
            front.write_request(&mut page, b"d").unwrap();
            assert!(front.push_requests(&mut page), "reached the event");
            // The responses, symmetrically; final checks re-arm the events.
            let mut buf = [0u8; 24];
            while back.take_request(&mut page, &mut buf).unwrap().is_some() {}
            assert_eq!(back.final_check_for_requests(&mut page), Ok(false));
            assert_eq!(page.get(REQ_EVENT), start.wrapping_add(5));
            back.write_response(&mut page, b"A").unwrap();
            assert!(
                back.push_responses(&mut page),
                "the frontend waits at its first"
            );
            assert_eq!(front.final_check_for_responses(&mut page), Ok(true));
            assert_eq!(page.get(RSP_EVENT), start.wrapping_add(1), "not re-armed");
            while front.take_response(&mut page, &mut buf).unwrap().is_some() {}
            assert_eq!(front.final_check_for_responses(&mut page), Ok(false));
            assert_eq!(page.get(RSP_EVENT), start.wrapping_add(2));
            back.write_response(&mut page, b"B").unwrap();
            back.write_response(&mut page, b"C").unwrap();
            assert!(back.push_responses(&mut page), "the frontend sleeps");
            // A push matches notify_needed for every event position around it.
            for delta in 0..8u32 {
                let event = start.wrapping_add(delta);
                page.set(RSP_EVENT, event);
                let old = page.get(RSP_PROD);
                back.write_response(&mut page, b"D").unwrap();
                let new = back.rsp_prod_pvt();
                assert_eq!(
                    back.push_responses(&mut page),
                    notify_needed(old, new, event)
                );
                // Give the backend another request to answer.
                while front.take_response(&mut page, &mut buf).unwrap().is_some() {}
                front.write_request(&mut page, b"e").unwrap();
                page.set(REQ_EVENT, front.req_prod_pvt().wrapping_add(9));
                assert!(!front.push_requests(&mut page));
                assert!(back.take_request(&mut page, &mut buf).unwrap().is_some());
            }
        }
    }

    #[test]
    fn a_push_racing_a_final_check_is_seen() {
        let mut page = Page::new();
        let mut front = FrontRing::init(&mut page, small());
        let mut back = BackRing::new(small());
        // The frontend pushed without notifying (the backend was awake), then the backend
        // makes its final check: it finds the request instead of sleeping.
        page.set(REQ_EVENT, 50);
        front.write_request(&mut page, b"late").unwrap();
        assert!(!front.push_requests(&mut page));
        assert_eq!(back.final_check_for_requests(&mut page), Ok(true));
    }

    #[test]
    fn barriers_sit_where_ring_h_puts_them() {
        let mut page = Page::new();
        let mut front = FrontRing::init(&mut page, small());
        let mut back = BackRing::new(small());
        front.write_request(&mut page, b"xy").unwrap();
        page.take_log();
        front.push_requests(&mut page);
        let log = page.take_log();
        assert_eq!(
            log,
            [
                Op::ReadU32(REQ_PROD),
                Op::Wmb,
                Op::WriteU32(REQ_PROD),
                Op::Mb,
                Op::ReadU32(REQ_EVENT)
            ]
        );
        let mut buf = [0u8; 2];
        back.take_request(&mut page, &mut buf).unwrap();
        let log = page.take_log();
        assert_eq!(log[..2], [Op::ReadU32(REQ_PROD), Op::Rmb]);
        assert!(log[2..].iter().all(|op| matches!(op, Op::ReadU8(_))));
        assert_eq!(log.len(), 4);
        back.final_check_for_requests(&mut page).unwrap();
        let log = page.take_log();
        let (ev, mb) = (
            position(&log, Op::WriteU32(REQ_EVENT)),
            position(&log, Op::Mb),
        );
        assert!(ev < mb && log[mb + 1] == Op::ReadU32(REQ_PROD));
        back.write_response(&mut page, b"z").unwrap();
        back.push_responses(&mut page);
        let log = page.take_log();
        let (slot, wmb, prod) = (
            position(&log, Op::WriteU8(64)),
            position(&log, Op::Wmb),
            position(&log, Op::WriteU32(RSP_PROD)),
        );
        assert!(slot < wmb && wmb < prod);
        assert_eq!(log[prod + 1..], [Op::Mb, Op::ReadU32(RSP_EVENT)]);
        front.take_response(&mut page, &mut buf).unwrap();
        let log = page.take_log();
        assert_eq!(log[..2], [Op::ReadU32(RSP_PROD), Op::Rmb]);
        front.final_check_for_responses(&mut page).unwrap();
        let log = page.take_log();
        let (ev, mb) = (
            position(&log, Op::WriteU32(RSP_EVENT)),
            position(&log, Op::Mb),
        );
        assert!(ev < mb && log[mb + 1] == Op::ReadU32(RSP_PROD));
    }

    #[test]
    fn each_call_reads_the_other_ends_producer_once() {
        let mut page = Page::new();
        let mut front = FrontRing::init(&mut page, small());
        let mut back = BackRing::new(small());
        front.write_request(&mut page, b"1").unwrap();
        front.push_requests(&mut page);
        page.take_log();
        let mut buf = [0u8; 24];
        back.take_request(&mut page, &mut buf).unwrap();
        let reads = |log: &[Op], off| log.iter().filter(|&&o| o == Op::ReadU32(off)).count();
        assert_eq!(reads(&page.take_log(), REQ_PROD), 1);
        back.write_response(&mut page, b"1").unwrap();
        back.push_responses(&mut page);
        page.take_log();
        front.take_response(&mut page, &mut buf).unwrap();
        assert_eq!(reads(&page.take_log(), RSP_PROD), 1);
    }

    #[test]
    fn a_request_producer_far_ahead_is_refused() {
        let mut page = Page::new();
        let mut front = FrontRing::init(&mut page, small());
        let mut back = BackRing::new(small());
        let mut buf = [0u8; 24];
        page.set(REQ_PROD, 5);
        let corrupt = Corrupt { cons: 0, prod: 5 };
        assert_eq!(back.unconsumed_requests(&mut page), Err(corrupt));
        assert_eq!(back.take_request(&mut page, &mut buf), Err(corrupt));
        assert_eq!(back.final_check_for_requests(&mut page), Err(corrupt));
        assert_eq!(back.req_cons(), 0, "nothing consumed");
        for prod in [u32::MAX, 1 << 31, 0x8000_0003] {
            page.set(REQ_PROD, prod);
            assert!(back.take_request(&mut page, &mut buf).is_err());
        }
        // With three requests taken and unanswered, only one more slot can hold a new one.
        for _ in 0..3 {
            front.write_request(&mut page, b"r").unwrap();
        }
        front.push_requests(&mut page);
        for _ in 0..3 {
            assert!(back.take_request(&mut page, &mut buf).unwrap().is_some());
        }
        page.set(REQ_PROD, 4);
        assert_eq!(back.unconsumed_requests(&mut page), Ok(1));
        page.set(REQ_PROD, 5);
        assert_eq!(
            back.unconsumed_requests(&mut page),
            Err(Corrupt { cons: 3, prod: 5 })
        );
        // Answering one frees a slot: the same value is now fine.
        back.write_response(&mut page, b"a").unwrap();
        assert_eq!(back.unconsumed_requests(&mut page), Ok(2));
    }

    #[test]
    fn a_request_producer_behind_the_consumer_is_refused() {
        let mut page = Page::new();
        header_at(&mut page, u32::MAX - 1);
        let mut front = FrontRing::attach(small(), u32::MAX - 1);
        let mut back = BackRing::attach(small(), u32::MAX - 1);
        for _ in 0..3 {
            front.write_request(&mut page, b"r").unwrap();
        }
        front.push_requests(&mut page);
        let mut buf = [0u8; 24];
        for _ in 0..3 {
            assert!(back.take_request(&mut page, &mut buf).unwrap().is_some());
        }
        assert_eq!(back.req_cons(), 1);
        page.set(REQ_PROD, 0);
        assert_eq!(
            back.take_request(&mut page, &mut buf),
            Err(Corrupt { cons: 1, prod: 0 })
        );
        assert!(back.final_check_for_requests(&mut page).is_err());
        assert_eq!(back.req_cons(), 1);
    }

    #[test]
    fn a_garbage_response_producer_is_refused() {
        let mut page = Page::new();
        let mut front = FrontRing::init(&mut page, small());
        let mut buf = [0u8; 24];
        // No request outstanding: any response is one too many.
        page.set(RSP_PROD, 1);
        assert_eq!(
            front.take_response(&mut page, &mut buf),
            Err(Corrupt { cons: 0, prod: 1 })
        );
        front.write_request(&mut page, b"q").unwrap();
        front.write_request(&mut page, b"q").unwrap();
        front.push_requests(&mut page);
        page.set(RSP_PROD, 2);
        assert_eq!(front.unconsumed_responses(&mut page), Ok(2));
        for prod in [3, 5, u32::MAX, 0x8000_0000] {
            page.set(RSP_PROD, prod);
            assert!(front.take_response(&mut page, &mut buf).is_err());
            assert!(front.final_check_for_responses(&mut page).is_err());
        }
        assert_eq!(front.rsp_cons(), 0, "nothing consumed");
        page.set(RSP_PROD, 1);
        assert_eq!(front.take_response(&mut page, &mut buf), Ok(Some(24)));
        page.set(RSP_PROD, 0);
        assert!(
            front.take_response(&mut page, &mut buf).is_err(),
            "behind rsp_cons"
        );
    }

    /// xorshift64: reproducible pseudo-random numbers.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as u32
        }
        fn below(&mut self, n: u32) -> u32 {
            self.next() % n
        }
        /// Mostly values near `base`, sometimes anything.
        fn index_near(&mut self, base: u32) -> u32 {
            match self.below(3) {
                0 => self.next(),
                _ => base.wrapping_add(self.below(16)).wrapping_sub(8),
            }
        }
    }

    #[test]
    fn fuzzed_indexes_never_break_the_ring_invariants() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let geometry = small();
        let mut buf = [0u8; 24];
        for _ in 0..20_000 {
            let mut page = Page::new();
            let start = rng.next();
            let mut front = FrontRing::attach(geometry, start);
            let mut back = BackRing::attach(geometry, start);
            header_at(&mut page, start);
            for _ in 0..12 {
                // The hostile other end rewrites any shared index.
                let field = [REQ_PROD, REQ_EVENT, RSP_PROD, RSP_EVENT][rng.below(4) as usize];
                let near = page.get(field);
                let value = rng.index_near(near);
                page.set(field, value);
                match rng.below(8) {
                    0 => {
                        let _ = front.write_request(&mut page, b"req");
                    }
                    1 => {
                        front.push_requests(&mut page);
                    }
                    2 => {
                        let before = front.rsp_cons();
                        match front.take_response(&mut page, &mut buf) {
                            Ok(Some(_)) => assert_eq!(front.rsp_cons(), before.wrapping_add(1)),
                            _ => assert_eq!(front.rsp_cons(), before),
                        }
                    }
                    3 => {
                        let _ = front.final_check_for_responses(&mut page);
                    }
                    4 => {
                        let before = back.req_cons();
                        match back.take_request(&mut page, &mut buf) {
                            Ok(Some(_)) => assert_eq!(back.req_cons(), before.wrapping_add(1)),
                            _ => assert_eq!(back.req_cons(), before),
                        }
                    }
                    5 => {
                        let _ = back.write_response(&mut page, b"rsp");
                    }
                    6 => {
                        back.push_responses(&mut page);
                    }
                    _ => {
                        let _ = back.final_check_for_requests(&mut page);
                    }
                }
                // The backend never holds more requests than the ring, never answers more
                // than it took; the frontend never has more outstanding than the ring.
                assert!(back.unanswered() <= geometry.size());
                assert!(front.outstanding() <= geometry.size());
                if let Ok(n) = back.unconsumed_requests(&mut page) {
                    assert!(n + back.unanswered() <= geometry.size());
                }
                if let Ok(n) = front.unconsumed_responses(&mut page) {
                    assert!(n <= front.outstanding());
                }
            }
        }
    }
}
