//! Host tests of the blkif frontend engine against a fake backend sharing an in-memory ring page.

use super::*;
use crate::blk_data::{crc32, fill_pattern};
use crate::console_ring::RingMemory;
use crate::mem_page::Page;
use crate::shared_ring::BackRing;
use hypercall_abi::blkif::BLKIF_RING_SIZE;

/// The first grant reference of the pool.
const GREF0: GrantRef = 100;
/// Byte offset of rsp_prod in the shared header.
const RSP_PROD: usize = 8;

/// How the fake backend answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// In order, as soon as it runs.
    InOrder,
    /// Everything it took, last first.
    Reversed,
    /// Never.
    Silent,
}

/// A backend serving a disk in memory from the pool pages (standing for grant copies), and
/// the runtime side of a transfer (data source and sink).
struct Fake {
    page: Page,
    back: BackRing,
    disk: Vec<u8>,
    pool: Vec<Vec<u8>>,
    read_only: bool,
    mode: Mode,
    /// Requests the backend saw, as they were on the ring.
    seen: Vec<BlkifRequest>,
    notified: u64,
    /// Write data, taken from here in order.
    source: Vec<u8>,
    source_pos: usize,
    /// Read data, appended in order.
    sink: Vec<u8>,
}

impl Fake {
    fn new(disk_sectors: usize, segments: usize) -> (Fake, BlkFront) {
        let mut page = Page::new();
        let ring = FrontRing::init(&mut page, RING);
        let pages = RING.size() as usize * segments;
        let grefs = (0..pages as u32).map(|i| GREF0 + i).collect();
        let front = BlkFront::new(ring, 0xCA00, grefs).unwrap();
        let disk = (0..disk_sectors * SECTOR_BYTES)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let fake = Fake {
            page,
            back: BackRing::new(RING),
            disk,
            pool: vec![vec![0; 4096]; pages],
            read_only: false,
            mode: Mode::InOrder,
            seen: Vec::new(),
            notified: 0,
            source: Vec::new(),
            source_pos: 0,
            sink: Vec::new(),
        };
        (fake, front)
    }

    /// Does one request's work; its status.
    fn serve_one(&mut self, req: &BlkifRequest) -> i16 {
        let write = match req.operation {
            BLKIF_OP_READ => false,
            BLKIF_OP_WRITE if self.read_only => return BLKIF_RSP_ERROR,
            BLKIF_OP_WRITE => true,
            BLKIF_OP_FLUSH_DISKCACHE => return BLKIF_RSP_OKAY,
            _ => return BLKIF_RSP_EOPNOTSUPP,
        };
        let Some(segs) = req.segments() else {
            return BLKIF_RSP_ERROR;
        };
        let mut at = req.sector_number as usize * SECTOR_BYTES;
        for seg in segs {
            let Some(n) = seg.sectors() else {
                return BLKIF_RSP_ERROR;
            };
            let Some(page) = self.pool.get_mut((seg.gref - GREF0) as usize) else {
                return BLKIF_RSP_ERROR;
            };
            let off = seg.first_sect as usize * SECTOR_BYTES;
            let len = n * SECTOR_BYTES;
            if at + len > self.disk.len() {
                return BLKIF_RSP_ERROR;
            }
            if write {
                self.disk[at..at + len].copy_from_slice(&page[off..off + len]);
            } else {
                page[off..off + len].copy_from_slice(&self.disk[at..at + len]);
            }
            at += len;
        }
        BLKIF_RSP_OKAY
    }

    /// Runs the backend until it would sleep.
    fn serve(&mut self) {
        loop {
            let mut taken = Vec::new();
            let mut buf = [0u8; BlkifRequest::SIZE];
            while self
                .back
                .take_request(&mut self.page, &mut buf)
                .unwrap()
                .is_some()
            {
                taken.push(BlkifRequest::from_bytes(&buf));
            }
            if self.mode == Mode::Reversed {
                taken.reverse();
            }
            for req in taken {
                self.seen.push(req);
                let status = self.serve_one(&req);
                let rsp = BlkifResponse::new(req.id, req.operation, status);
                self.back
                    .write_response(&mut self.page, &rsp.to_bytes())
                    .unwrap();
            }
            self.back.push_responses(&mut self.page);
            if !self.back.final_check_for_requests(&mut self.page).unwrap() {
                return;
            }
        }
    }

    /// Writes a raw response straight into the ring (a hostile backend).
    fn inject(&mut self, rsp: BlkifResponse) {
        let mut buf = [0u8; BlkifRequest::SIZE];
        while self
            .back
            .take_request(&mut self.page, &mut buf)
            .unwrap()
            .is_some()
        {}
        self.back
            .write_response(&mut self.page, &rsp.to_bytes())
            .unwrap();
        self.back.push_responses(&mut self.page);
    }
}

impl TransferIo for Fake {
    fn ring(&mut self) -> &mut dyn SharedRingMemory {
        &mut self.page
    }
    fn notify(&mut self) {
        self.notified += 1;
    }
    fn wait(&mut self) -> Result<(), WaitError> {
        if self.mode == Mode::Silent {
            return Err(WaitError::Timeout);
        }
        self.serve();
        Ok(())
    }
    fn fill(&mut self, page: usize, len: usize) {
        let src = &self.source[self.source_pos..self.source_pos + len];
        self.pool[page][..len].copy_from_slice(src);
        self.source_pos += len;
    }
    fn consume(&mut self, page: usize, len: usize) {
        self.sink.extend_from_slice(&self.pool[page][..len]);
    }
}

fn disk_bytes(fake: &Fake, sector: u64, sectors: u64) -> &[u8] {
    let at = sector as usize * SECTOR_BYTES;
    &fake.disk[at..at + sectors as usize * SECTOR_BYTES]
}

#[test]
fn the_ring_has_32_slots_and_requests_carry_44_kib() {
    assert_eq!(RING.size() as usize, BLKIF_RING_SIZE);
    assert_eq!(MAX_SECTORS_PER_REQUEST, 88);
    let (_, front) = Fake::new(8, 11);
    assert_eq!(front.max_sectors(), 88);
    assert_eq!(front.depth(), 32);
    assert_eq!(front.free_ids(), 32);
}

#[test]
fn the_pool_must_give_every_slot_the_same_pages() {
    let mut page = Page::new();
    for pages in [0, 31, 33, 12 * 32, 11 * 32 + 1] {
        let ring = FrontRing::init(&mut page, RING);
        let err = BlkFront::new(ring, 1, (0..pages).collect()).unwrap_err();
        assert_eq!(
            err,
            PoolSizeError {
                pages: pages as usize,
                slots: 32
            }
        );
    }
    let ring = FrontRing::init(&mut page, RING);
    assert_eq!(
        BlkFront::new(ring, 1, (0..32).collect())
            .unwrap()
            .max_sectors(),
        8
    );
}

#[test]
fn a_request_names_its_pages_with_sector_bounds() {
    let (mut fake, mut front) = Fake::new(1024, 11);
    let id = front.submit(&mut fake.page, Op::Read, 40, 20).unwrap();
    assert_eq!(id, 0, "ids come from the free list, lowest first");
    let id2 = front.submit(&mut fake.page, Op::Write, 0, 88).unwrap();
    assert_eq!(id2, 1);
    assert!(
        front.push(&mut fake.page),
        "the backend waits for the first"
    );
    fake.serve();
    let r = fake.seen[0];
    assert_eq!(
        (r.operation, r.nr_segments, r.handle, r.id, r.sector_number),
        (BLKIF_OP_READ, 3, 0xCA00, 0, 40)
    );
    let segs: Vec<_> = r.seg[..3]
        .iter()
        .map(|s| (s.gref, s.first_sect, s.last_sect))
        .collect();
    assert_eq!(segs, [(GREF0, 0, 7), (GREF0 + 1, 0, 7), (GREF0 + 2, 0, 3)]);
    let w = fake.seen[1];
    assert_eq!((w.operation, w.nr_segments, w.id), (BLKIF_OP_WRITE, 11, 1));
    assert_eq!(w.seg[0].gref, GREF0 + 11, "id 1 owns pages 11..22");
    assert_eq!((w.seg[10].gref, w.seg[10].last_sect), (GREF0 + 21, 7));
    assert_eq!(front.collect(&mut fake.page), Ok(2));
    assert_eq!(front.status(0), Some(BLKIF_RSP_OKAY));
    assert_eq!(front.free_ids(), 30, "answered but not released");
    front.release(0);
    front.release(1);
    assert_eq!(front.free_ids(), 32);
    assert_eq!(
        front.counters(),
        Counters {
            requests: 2,
            notifications: 1,
            responses: 2,
            errors: 0
        }
    );
}

#[test]
fn bad_lengths_and_a_full_queue_are_refused() {
    let (mut fake, mut front) = Fake::new(1024, 2);
    for (op, n) in [(Op::Read, 0), (Op::Write, 17), (Op::Flush, 1)] {
        assert_eq!(
            front.submit(&mut fake.page, op, 0, n),
            Err(SubmitError::BadLength(n))
        );
    }
    for i in 0..32 {
        assert_eq!(front.submit(&mut fake.page, Op::Read, 0, 16), Ok(i));
    }
    assert_eq!(
        front.submit(&mut fake.page, Op::Read, 0, 1),
        Err(SubmitError::Full)
    );
    assert_eq!(front.in_flight(), 32);
    assert_eq!(front.counters().requests, 32);
}

#[test]
fn reads_and_writes_of_any_size_round_trip_at_each_depth() {
    for depth in [1, 4, 32] {
        for (sector, sectors) in [(0u64, 1u64), (3, 13), (8, 88), (1, 89), (100, 500)] {
            let (mut fake, mut front) = Fake::new(1024, 11);
            let mut expected = vec![0u8; sectors as usize * SECTOR_BYTES];
            fill_pattern(depth as u64, sector * 512, &mut expected);
            fake.source = expected.clone();
            let w = transfer(&mut front, &mut fake, Op::Write, sector, sectors, depth).unwrap();
            assert_eq!(w.bytes, sectors * 512);
            assert_eq!(w.requests, sectors.div_ceil(88));
            assert_eq!(disk_bytes(&fake, sector, sectors), &expected[..]);
            let r = transfer(&mut front, &mut fake, Op::Read, sector, sectors, depth).unwrap();
            assert_eq!(r.requests, w.requests);
            assert_eq!(crc32(&fake.sink), crc32(&expected));
            assert_eq!(fake.sink, expected, "depth {depth} at {sector}+{sectors}");
            assert_eq!(front.free_ids(), 32, "every id back");
        }
    }
}

#[test]
fn out_of_order_responses_are_consumed_in_disk_order() {
    let (mut fake, mut front) = Fake::new(4096, 11);
    fake.mode = Mode::Reversed;
    let stats = transfer(&mut front, &mut fake, Op::Read, 5, 2000, 32).unwrap();
    assert_eq!(stats.requests, 2000u64.div_ceil(88));
    let expected = disk_bytes(&fake, 5, 2000).to_vec();
    assert_eq!(fake.sink, expected);
    let ids: Vec<u64> = fake.seen.iter().take(3).map(|r| r.id).collect();
    assert_eq!(ids, [22, 21, 20], "the fake answered the last first");
}

#[test]
fn a_full_queue_needs_one_notification_per_batch() {
    let (mut fake, mut front) = Fake::new(32 * 88 * 4, 11);
    let sectors = 32 * 88 * 4;
    let deep = transfer(&mut front, &mut fake, Op::Read, 0, sectors, 32).unwrap();
    assert_eq!(deep.requests, 128);
    // The backend sleeps after draining each batch: one event per batch it finds asleep.
    assert!(
        deep.notifications < deep.requests / 8,
        "{} notifications for {} requests",
        deep.notifications,
        deep.requests
    );
    assert_eq!(deep.notifications, fake.notified);
    let (mut fake, mut front) = Fake::new(32 * 88 * 4, 11);
    let shallow = transfer(&mut front, &mut fake, Op::Read, 0, sectors, 1).unwrap();
    assert_eq!(shallow.requests, 128);
    assert_eq!(
        shallow.notifications, 128,
        "one at a time: every request finds the backend asleep"
    );
    assert_eq!(shallow.waits, 128);
    assert!(deep.waits < shallow.waits);
}

#[test]
fn an_error_status_ends_the_transfer_after_its_requests_drain() {
    let (mut fake, mut front) = Fake::new(1024, 11);
    fake.read_only = true;
    fake.source = vec![0xAB; 300 * SECTOR_BYTES];
    let before = fake.disk.clone();
    let err = transfer(&mut front, &mut fake, Op::Write, 0, 300, 32).unwrap_err();
    assert_eq!(
        err,
        TransferError::Status {
            sector: 0,
            status: BLKIF_RSP_ERROR
        }
    );
    assert_eq!(fake.disk, before);
    assert_eq!(front.free_ids(), 32);
    assert_eq!(front.in_flight(), 0);
    assert_eq!(front.counters().errors, 4);
    assert_eq!(status_name(BLKIF_RSP_ERROR), "BLKIF_RSP_ERROR");
    // A read past the end fails at the backend too, and reads still work afterwards.
    let err = transfer(&mut front, &mut fake, Op::Read, 1000, 100, 8).unwrap_err();
    assert!(matches!(err, TransferError::Status { sector: 1000, .. }));
    fake.read_only = false;
    fake.sink.clear();
    transfer(&mut front, &mut fake, Op::Read, 0, 10, 8).unwrap();
    assert_eq!(fake.sink, disk_bytes(&fake, 0, 10));
}

#[test]
fn flush_waits_for_its_answer() {
    let (mut fake, mut front) = Fake::new(64, 11);
    assert_eq!(flush(&mut front, &mut fake), Ok(()));
    let r = fake.seen[0];
    assert_eq!((r.operation, r.nr_segments), (BLKIF_OP_FLUSH_DISKCACHE, 0));
    assert_eq!(front.free_ids(), 32);
}

#[test]
fn a_silent_backend_times_out_and_late_answers_free_the_ids() {
    let (mut fake, mut front) = Fake::new(1024, 11);
    fake.mode = Mode::Silent;
    let err = transfer(&mut front, &mut fake, Op::Read, 0, 200, 32).unwrap_err();
    assert_eq!(err, TransferError::Wait(WaitError::Timeout));
    assert_eq!(front.in_flight(), 3);
    assert_eq!(
        front.free_ids(),
        29,
        "pages the backend may still write stay out"
    );
    fake.mode = Mode::InOrder;
    fake.serve();
    assert_eq!(front.collect(&mut fake.page), Ok(3));
    assert_eq!(
        front.free_ids(),
        32,
        "abandoned ids come back with their answers"
    );
    assert_eq!(front.broken(), None);
}

#[test]
fn responses_to_no_request_break_the_ring() {
    let bad = [
        (
            BlkifResponse::new(32, BLKIF_OP_READ, 0),
            Broken::UnknownId(32),
        ),
        (
            BlkifResponse::new(u64::MAX, BLKIF_OP_READ, 0),
            Broken::UnknownId(u64::MAX),
        ),
        (
            BlkifResponse::new(5, BLKIF_OP_READ, 0),
            Broken::Duplicate(5),
        ),
        (
            BlkifResponse::new(0, BLKIF_OP_WRITE, 0),
            Broken::WrongOperation {
                id: 0,
                sent: BLKIF_OP_READ,
                answered: BLKIF_OP_WRITE,
            },
        ),
    ];
    for (rsp, why) in bad {
        let (mut fake, mut front) = Fake::new(64, 1);
        front.submit(&mut fake.page, Op::Read, 0, 1).unwrap();
        front.push(&mut fake.page);
        fake.inject(rsp);
        assert_eq!(front.collect(&mut fake.page), Err(why));
        assert_eq!(front.broken(), Some(why));
        assert_eq!(
            front.submit(&mut fake.page, Op::Read, 0, 1),
            Err(SubmitError::Broken(why))
        );
        assert_eq!(front.final_check(&mut fake.page), Err(why));
        assert!(!why.to_string().is_empty());
    }
}

#[test]
fn a_second_answer_to_one_request_is_a_duplicate() {
    let (mut fake, mut front) = Fake::new(64, 1);
    front.submit(&mut fake.page, Op::Read, 0, 1).unwrap();
    front.submit(&mut fake.page, Op::Read, 1, 1).unwrap();
    front.push(&mut fake.page);
    fake.inject(BlkifResponse::new(0, BLKIF_OP_READ, 0));
    assert_eq!(front.collect(&mut fake.page), Ok(1));
    fake.back
        .write_response(
            &mut fake.page,
            &BlkifResponse::new(0, BLKIF_OP_READ, 0).to_bytes(),
        )
        .unwrap();
    fake.back.push_responses(&mut fake.page);
    assert_eq!(front.collect(&mut fake.page), Err(Broken::Duplicate(0)));
}

#[test]
fn a_corrupt_response_producer_breaks_the_ring_mid_transfer() {
    let (mut fake, mut front) = Fake::new(64, 1);
    front.submit(&mut fake.page, Op::Read, 0, 1).unwrap();
    front.push(&mut fake.page);
    fake.page.write_u32(RSP_PROD, 7);
    let err = transfer(&mut front, &mut fake, Op::Read, 0, 8, 4).unwrap_err();
    assert!(
        matches!(err, TransferError::Broken(Broken::Ring(_))),
        "{err:?}"
    );
}

#[test]
fn transfers_split_into_requests_of_at_most_the_maximum() {
    let parts: Vec<_> = split(10, 200, 88).collect();
    assert_eq!(parts, [(10, 88), (98, 88), (186, 24)]);
    assert_eq!(split(0, 0, 88).count(), 0);
    assert_eq!(split(0, 3, 0).collect::<Vec<_>>(), [(0, 1), (1, 1), (2, 1)]);
    assert_eq!(split(u64::MAX, 1, 88).collect::<Vec<_>>(), [(u64::MAX, 1)]);
}

#[test]
fn xenstore_numbers_are_plain_decimal() {
    assert_eq!(parse_decimal(b"32768"), Some(32768));
    assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
    for bad in [
        &b""[..],
        b"18446744073709551616",
        b"-1",
        b" 1",
        b"1k",
        b"0x10",
    ] {
        assert_eq!(parse_decimal(bad), None, "{bad:?}");
    }
    assert!(parse_feature(Some(b"1")));
    assert!(!parse_feature(Some(b"0")));
    assert!(!parse_feature(Some(b"yes")));
    assert!(!parse_feature(None));
    let info = DiskInfo {
        sectors: u64::MAX,
        sector_size: 512,
        info: VDISK_READONLY,
        flush: false,
    };
    assert!(info.read_only());
    assert_eq!(info.bytes(), u64::MAX);
}

/// xorshift64: reproducible pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn a_hostile_backend_never_panics_the_engine() {
    let mut rng = Rng(0x0b1c_f00d_1234_5678);
    for _ in 0..2000 {
        let (mut fake, mut front) = Fake::new(64, 2);
        for _ in 0..20 {
            match rng.next() % 5 {
                0 => {
                    let _ = front.submit(&mut fake.page, Op::Read, rng.next() % 64, 1);
                }
                1 => {
                    front.push(&mut fake.page);
                }
                2 => {
                    // Any bytes in any response slot, any producer index near the truth.
                    let slot = RING.slot_offset(rng.next() as u32);
                    for i in 0..16 {
                        fake.page.write_u8(slot + i, rng.next() as u8);
                    }
                    let prod = fake.page.read_u32(RSP_PROD);
                    let delta = (rng.next() % 5) as u32;
                    fake.page.write_u32(RSP_PROD, prod.wrapping_add(delta));
                }
                3 => {
                    let _ = front.collect(&mut fake.page);
                }
                _ => {
                    let id = (rng.next() % 40) as u16;
                    front.release(id);
                }
            }
            assert!(front.free_ids() + front.in_flight() <= front.depth());
        }
    }
}
