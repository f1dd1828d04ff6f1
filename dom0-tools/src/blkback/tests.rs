//! Host tests of the block backend: a fake frontend on an in-memory ring page, a fake grant table, a disk in memory.

use std::collections::HashMap;

use hypercall_abi::blkif::{
    BLKIF_OP_DISCARD, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_INDIRECT, BLKIF_OP_READ,
    BLKIF_OP_RESERVED_1, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER, BLKIF_RSP_EOPNOTSUPP,
    BLKIF_RSP_ERROR, BLKIF_RSP_OKAY, BLKIF_SLOT_SIZE, BlkifRequest, BlkifRequestSegment,
    BlkifResponse,
};
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::errno::Errno;
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTST_BAD_COPY_ARG, GNTST_BAD_DOMAIN, GNTST_BAD_GNTREF,
    GNTST_BAD_PAGE, GNTST_OKAY, GNTST_PERMISSION_DENIED, GnttabCopy,
};

use super::copier::{PAGE_SIZE, STAGING_BYTES, STAGING_PAGES, StagedCopier};
use super::engine::{BLKIF_GEOMETRY, BlkBack, Serviced};
use super::request::VbdRegion;
use crate::block_store::{BlockError, BlockStore};
use crate::console_ring::RingMemory;
use crate::grant_copier::GrantCopier;
use crate::mem_page::Page;
use crate::shared_ring::FrontRing;

const FRONT: DomId = 5;
const STAGE_BASE: u64 = 0x1000;
const SECTOR: usize = 512;

/// A disk in memory that counts flushes.
struct Disk {
    bytes: Vec<u8>,
    flushes: u32,
}

impl Disk {
    fn new(sectors: usize) -> Self {
        let bytes = (0..sectors * SECTOR).map(|i| (i * 7 + 3) as u8).collect();
        Disk { bytes, flushes: 0 }
    }
    fn sector(&self, s: usize) -> &[u8] {
        &self.bytes[s * SECTOR..(s + 1) * SECTOR]
    }
}

impl BlockStore for Disk {
    fn sectors(&self) -> u64 {
        (self.bytes.len() / SECTOR) as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let start = sector as usize * SECTOR;
        let src = self
            .bytes
            .get(start..start + buf.len())
            .ok_or(BlockError::OutOfRange {
                sector,
                count: (buf.len() / SECTOR) as u64,
                sectors: self.sectors(),
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        let start = sector as usize * SECTOR;
        let sectors = self.sectors();
        let dst = self
            .bytes
            .get_mut(start..start + buf.len())
            .ok_or(BlockError::OutOfRange {
                sector,
                count: (buf.len() / SECTOR) as u64,
                sectors,
            })?;
        dst.copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.flushes += 1;
        Ok(())
    }
}

/// The frontend's grant table and Dom0's staging pages, with GNTTABOP_copy's checks.
struct Grants {
    pages: HashMap<u32, (Vec<u8>, bool)>,
    staging: Vec<u8>,
    calls: u32,
    ops: u32,
}

impl Grants {
    fn new() -> Self {
        Grants {
            pages: HashMap::new(),
            staging: vec![0; STAGING_BYTES],
            calls: 0,
            ops: 0,
        }
    }
    fn grant(&mut self, gref: u32, fill: u8, readonly: bool) {
        self.pages.insert(gref, (vec![fill; PAGE_SIZE], readonly));
    }
    fn page(&self, gref: u32) -> &[u8] {
        &self.pages[&gref].0
    }

    fn resolve(&self, gref_side: bool, u: u64, domid: DomId, write: bool) -> Result<Loc, i16> {
        if gref_side {
            if domid != FRONT {
                return Err(GNTST_BAD_DOMAIN);
            }
            let gref = u32::try_from(u).map_err(|_| GNTST_BAD_GNTREF)?;
            let (_, ro) = self.pages.get(&gref).ok_or(GNTST_BAD_GNTREF)?;
            if write && *ro {
                return Err(GNTST_PERMISSION_DENIED);
            }
            Ok(Loc::Gref(gref))
        } else {
            if domid != DOMID_SELF {
                return Err(GNTST_PERMISSION_DENIED);
            }
            let page = u.checked_sub(STAGE_BASE).ok_or(GNTST_BAD_PAGE)?;
            if page >= STAGING_PAGES as u64 {
                return Err(GNTST_BAD_PAGE);
            }
            Ok(Loc::Stage(page as usize))
        }
    }

    fn one(&mut self, op: &GnttabCopy) -> i16 {
        let src = self.resolve(
            op.flags & GNTCOPY_SOURCE_GREF != 0,
            op.source.u,
            op.source.domid,
            false,
        );
        let dst = self.resolve(
            op.flags & GNTCOPY_DEST_GREF != 0,
            op.dest.u,
            op.dest.domid,
            true,
        );
        let (src, dst) = match (src, dst) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let len = usize::from(op.len);
        let (so, doff) = (usize::from(op.source.offset), usize::from(op.dest.offset));
        if so + len > PAGE_SIZE || doff + len > PAGE_SIZE {
            return GNTST_BAD_COPY_ARG;
        }
        let bytes: Vec<u8> = self.bytes(src)[so..so + len].to_vec();
        self.bytes_mut(dst)[doff..doff + len].copy_from_slice(&bytes);
        GNTST_OKAY
    }

    fn bytes(&self, l: Loc) -> &[u8] {
        match l {
            Loc::Gref(g) => &self.pages[&g].0,
            Loc::Stage(p) => &self.staging[p * PAGE_SIZE..(p + 1) * PAGE_SIZE],
        }
    }
    fn bytes_mut(&mut self, l: Loc) -> &mut [u8] {
        match l {
            Loc::Gref(g) => &mut self.pages.get_mut(&g).unwrap().0,
            Loc::Stage(p) => &mut self.staging[p * PAGE_SIZE..(p + 1) * PAGE_SIZE],
        }
    }
}

#[derive(Clone, Copy)]
enum Loc {
    Gref(u32),
    Stage(usize),
}

impl GrantCopier for Grants {
    fn copy(&mut self, ops: &mut [GnttabCopy]) -> Result<(), Errno> {
        self.calls += 1;
        self.ops += ops.len() as u32;
        for op in ops.iter_mut() {
            op.status = self.one(op);
        }
        Ok(())
    }
}

impl StagedCopier for Grants {
    fn staging_frame(&self, page: usize) -> u64 {
        STAGE_BASE + page as u64
    }
    fn staging(&mut self) -> &mut [u8] {
        &mut self.staging
    }
}

/// Both ends and the world around them.
struct Rig {
    page: Page,
    front: FrontRing,
    back: BlkBack,
    disk: Disk,
    grants: Grants,
}

/// The region: sectors 100..200 of a 300-sector disk.
const REGION: VbdRegion = VbdRegion {
    first: 100,
    sectors: 100,
    readonly: false,
};

impl Rig {
    fn new(vbd: VbdRegion) -> Self {
        let mut page = Page::new();
        let front = FrontRing::init(&mut page, BLKIF_GEOMETRY);
        Rig {
            page,
            front,
            back: BlkBack::new(FRONT, vbd),
            disk: Disk::new(300),
            grants: Grants::new(),
        }
    }

    /// Queues a request; whether the backend must be kicked.
    fn send(&mut self, req: &BlkifRequest) -> bool {
        self.front
            .write_request(&mut self.page, &req.to_bytes())
            .unwrap();
        self.front.push_requests(&mut self.page)
    }

    fn serve(&mut self) -> Serviced {
        self.back
            .service(&mut self.page, &mut self.disk, &mut self.grants)
            .unwrap()
    }

    fn responses(&mut self) -> Vec<BlkifResponse> {
        let mut out = Vec::new();
        let mut buf = [0u8; BlkifResponse::SIZE];
        while let Some(n) = self.front.take_response(&mut self.page, &mut buf).unwrap() {
            assert_eq!(n, BlkifResponse::SIZE);
            out.push(BlkifResponse::from_bytes(&buf));
        }
        out
    }

    /// Sends one request, serves it, returns its status.
    fn one(&mut self, req: &BlkifRequest) -> i16 {
        self.send(req);
        self.serve();
        let r = self.responses();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].id, r[0].operation), (req.id, req.operation));
        r[0].status
    }
}

fn seg(gref: u32, first_sect: u8, last_sect: u8) -> BlkifRequestSegment {
    BlkifRequestSegment {
        gref,
        first_sect,
        last_sect,
        pad: [0; 2],
    }
}

fn request(operation: u8, id: u64, sector: u64, segs: &[BlkifRequestSegment]) -> BlkifRequest {
    let mut r = BlkifRequest {
        operation,
        nr_segments: segs.len() as u8,
        handle: 51712,
        id,
        sector_number: sector,
        ..Default::default()
    };
    r.seg[..segs.len()].copy_from_slice(segs);
    r
}

#[test]
fn writes_land_in_the_region_and_read_back() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(10, 0xA1, true);
    rig.grants.grant(11, 0xB2, true);
    // Segment 1: sectors 1..=3 of gref 10 (3 sectors); segment 2: all 8 of gref 11.
    let w = request(BLKIF_OP_WRITE, 77, 20, &[seg(10, 1, 3), seg(11, 0, 7)]);
    assert_eq!(rig.one(&w), BLKIF_RSP_OKAY);
    for s in 120..123 {
        assert!(rig.disk.sector(s).iter().all(|&b| b == 0xA1), "sector {s}");
    }
    for s in 123..131 {
        assert!(rig.disk.sector(s).iter().all(|&b| b == 0xB2), "sector {s}");
    }
    assert_ne!(rig.disk.sector(119)[0], 0xA1);
    assert_ne!(rig.disk.sector(131)[0], 0xB2);
    // One copy call for the request.
    assert_eq!(rig.grants.calls, 1);

    rig.grants.grant(20, 0, false);
    rig.grants.grant(21, 0, false);
    let r = request(BLKIF_OP_READ, 78, 21, &[seg(20, 4, 7), seg(21, 0, 0)]);
    assert_eq!(rig.one(&r), BLKIF_RSP_OKAY);
    let p = rig.grants.page(20);
    assert!(p[..4 * SECTOR].iter().all(|&b| b == 0), "untouched head");
    assert!(p[4 * SECTOR..6 * SECTOR].iter().all(|&b| b == 0xA1));
    assert!(p[6 * SECTOR..].iter().all(|&b| b == 0xB2));
    assert!(rig.grants.page(21)[..SECTOR].iter().all(|&b| b == 0xB2));
    assert!(rig.grants.page(21)[SECTOR..].iter().all(|&b| b == 0));
    let st = rig.back.stats();
    assert_eq!((st.requests, st.segments, st.errors), (2, 4, 0));
}

#[test]
fn full_requests_straddle_staging_pages_in_one_batch() {
    let mut rig = Rig::new(REGION);
    let mut segs = Vec::new();
    for g in 0..11u32 {
        rig.grants.grant(g, g as u8 + 1, true);
        // Odd lengths so segments straddle staging pages.
        segs.push(seg(g, (g % 3) as u8, 7));
    }
    let w = request(BLKIF_OP_WRITE, 1, 0, &segs);
    assert_eq!(rig.one(&w), BLKIF_RSP_OKAY);
    assert_eq!(rig.grants.calls, 1);
    assert!(rig.grants.ops > 11 && rig.grants.ops <= 22);
    let mut s = 100;
    for g in 0..11u32 {
        for _ in (g % 3)..8 {
            assert!(rig.disk.sector(s).iter().all(|&b| b == g as u8 + 1), "{s}");
            s += 1;
        }
    }
}

#[test]
fn a_read_only_disk_refuses_writes_but_reads_and_flushes() {
    let mut rig = Rig::new(VbdRegion {
        readonly: true,
        ..REGION
    });
    rig.grants.grant(1, 0xEE, true);
    let before = rig.disk.bytes.clone();
    for op in [
        BLKIF_OP_WRITE,
        BLKIF_OP_WRITE_BARRIER,
        BLKIF_OP_FLUSH_DISKCACHE,
    ] {
        let w = request(op, 5, 0, &[seg(1, 0, 7)]);
        assert_eq!(rig.one(&w), BLKIF_RSP_ERROR, "op {op}");
    }
    assert_eq!(rig.disk.bytes, before);
    assert_eq!(rig.grants.calls, 0, "nothing copied");
    rig.grants.grant(2, 0, false);
    assert_eq!(
        rig.one(&request(BLKIF_OP_READ, 6, 0, &[seg(2, 0, 7)])),
        BLKIF_RSP_OKAY
    );
    assert_eq!(rig.grants.page(2), &before[100 * SECTOR..108 * SECTOR]);
    assert_eq!(
        rig.one(&request(BLKIF_OP_FLUSH_DISKCACHE, 7, 0, &[])),
        BLKIF_RSP_OKAY
    );
    assert_eq!(rig.disk.flushes, 1);
}

#[test]
fn sectors_outside_the_region_are_refused() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(1, 0xCC, true);
    let before = rig.disk.bytes.clone();
    for sector in [99, 100, 1000, u64::MAX, u64::MAX - 1] {
        let w = request(BLKIF_OP_WRITE, sector, sector, &[seg(1, 0, 1)]);
        assert_eq!(rig.one(&w), BLKIF_RSP_ERROR, "sector {sector}");
    }
    assert_eq!(rig.disk.bytes, before);
    // The last two sectors exactly fit.
    let w = request(BLKIF_OP_WRITE, 1, 98, &[seg(1, 0, 1)]);
    assert_eq!(rig.one(&w), BLKIF_RSP_OKAY);
    assert!(rig.disk.sector(199).iter().all(|&b| b == 0xCC));
    assert_eq!(rig.disk.sector(200), &before[200 * SECTOR..201 * SECTOR]);
}

#[test]
fn a_bad_grant_fails_the_request_and_writes_nothing() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(1, 0x11, true);
    let before = rig.disk.bytes.clone();
    // Second segment names an ungranted reference.
    let w = request(BLKIF_OP_WRITE, 9, 0, &[seg(1, 0, 7), seg(999, 0, 7)]);
    assert_eq!(rig.one(&w), BLKIF_RSP_ERROR);
    assert_eq!(rig.disk.bytes, before);
    // A read into a read-only grant fails too.
    let r = request(BLKIF_OP_READ, 10, 0, &[seg(1, 0, 7)]);
    assert_eq!(rig.one(&r), BLKIF_RSP_ERROR);
    assert!(rig.grants.page(1).iter().all(|&b| b == 0x11));
    // The ring goes on.
    rig.grants.grant(2, 0, false);
    assert_eq!(
        rig.one(&request(BLKIF_OP_READ, 11, 0, &[seg(2, 0, 0)])),
        BLKIF_RSP_OKAY
    );
    assert_eq!(rig.back.stats().errors, 2);
}

#[test]
fn bad_segment_counts_and_bounds_are_errors() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(1, 0, false);
    let mut too_many = request(BLKIF_OP_READ, 1, 0, &[seg(1, 0, 0)]);
    for n in [0u8, 12, 255] {
        too_many.nr_segments = n;
        assert_eq!(rig.one(&too_many), BLKIF_RSP_ERROR, "{n} segments");
    }
    let mut w = request(BLKIF_OP_WRITE, 2, 0, &[seg(1, 0, 0)]);
    w.nr_segments = 0;
    assert_eq!(rig.one(&w), BLKIF_RSP_ERROR);
    for (f, l) in [(4, 3), (0, 8), (8, 8), (255, 255)] {
        let r = request(BLKIF_OP_READ, 3, 0, &[seg(1, f, l)]);
        assert_eq!(rig.one(&r), BLKIF_RSP_ERROR, "{f}..={l}");
    }
    assert_eq!(rig.grants.calls, 0);
}

#[test]
fn unknown_operations_are_not_supported() {
    let mut rig = Rig::new(REGION);
    for op in [
        BLKIF_OP_RESERVED_1,
        BLKIF_OP_DISCARD,
        BLKIF_OP_INDIRECT,
        7,
        200,
        255,
    ] {
        let r = request(op, 0xdead_0000 + u64::from(op), 0, &[]);
        assert_eq!(rig.one(&r), BLKIF_RSP_EOPNOTSUPP, "op {op}");
    }
}

#[test]
fn flushes_and_barriers_flush_around_their_data() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(1, 0x5A, true);
    assert_eq!(
        rig.one(&request(BLKIF_OP_FLUSH_DISKCACHE, 1, 0, &[])),
        BLKIF_RSP_OKAY
    );
    assert_eq!(rig.disk.flushes, 1);
    assert_eq!(
        rig.one(&request(BLKIF_OP_WRITE_BARRIER, 2, 5, &[seg(1, 0, 0)])),
        BLKIF_RSP_OKAY
    );
    assert_eq!(rig.disk.flushes, 3);
    assert!(rig.disk.sector(105).iter().all(|&b| b == 0x5A));
    assert_eq!(
        rig.one(&request(BLKIF_OP_FLUSH_DISKCACHE, 3, 6, &[seg(1, 0, 0)])),
        BLKIF_RSP_OKAY
    );
    assert!(rig.disk.sector(106).iter().all(|&b| b == 0x5A));
}

#[test]
fn a_batch_is_answered_with_one_notification_and_hold_off_is_honoured() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(1, 0, false);
    let r = |id| request(BLKIF_OP_READ, id, 0, &[seg(1, 0, 0)]);
    // The first push after init wants a kick; later pushes of the batch do not.
    assert!(rig.send(&r(1)));
    for id in 2..=5 {
        assert!(!rig.send(&r(id)));
    }
    let s = rig.serve();
    assert_eq!((s.handled, s.notify, s.more), (5, true, false));
    let ids: Vec<u64> = rig.responses().iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    // The backend re-armed req_event: the next request kicks it.
    assert!(rig.send(&r(6)));
    // The frontend has not re-armed rsp_event: no notification for this batch.
    let s = rig.serve();
    assert_eq!((s.handled, s.notify), (1, false));
    assert_eq!(rig.responses().len(), 1);
    assert!(!rig.front.final_check_for_responses(&mut rig.page).unwrap());
    rig.send(&r(7));
    let s = rig.serve();
    assert_eq!((s.handled, s.notify), (1, true));
    let st = rig.back.stats();
    assert_eq!((st.requests, st.notifications, st.kicks), (7, 2, 3));
    // Nothing waiting: a kick does nothing.
    assert_eq!(rig.serve(), Serviced::default());
}

#[test]
fn a_full_ring_is_served_in_one_batch() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(1, 0, false);
    for id in 0..32 {
        rig.send(&request(BLKIF_OP_READ, id, id, &[seg(1, 0, 0)]));
    }
    assert!(rig.front.is_full());
    let s = rig.serve();
    assert_eq!((s.handled, s.more), (32, false));
    assert_eq!(rig.responses().len(), 32);
    // Stopping at the budget re-armed req_event: the next request kicks the backend.
    assert!(
        rig.send(&request(BLKIF_OP_READ, 99, 0, &[seg(1, 0, 0)])),
        "a request after a full batch must be notified"
    );
    assert_eq!(rig.serve().handled, 1);
    assert_eq!(rig.responses().len(), 1);
    // And again across the index wrap of the slots.
    for id in 32..60 {
        rig.send(&request(BLKIF_OP_READ, id, 0, &[seg(1, 0, 0)]));
    }
    assert_eq!(rig.serve().handled, 28);
    let ids: Vec<u64> = rig.responses().iter().map(|r| r.id).collect();
    assert_eq!(ids, (32..60).collect::<Vec<_>>());
}

#[test]
fn a_corrupt_ring_stops_the_engine() {
    let mut rig = Rig::new(REGION);
    rig.grants.grant(1, 0, false);
    rig.send(&request(BLKIF_OP_READ, 1, 0, &[seg(1, 0, 0)]));
    // The frontend claims far more requests than the ring holds.
    rig.page.write_u32(0, 1000);
    let r = rig
        .back
        .service(&mut rig.page, &mut rig.disk, &mut rig.grants);
    assert!(r.is_err());
    assert!(rig.back.is_broken());
    rig.page.write_u32(0, 1);
    assert!(
        rig.back
            .service(&mut rig.page, &mut rig.disk, &mut rig.grants)
            .is_err()
    );
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_requests_never_panic_nor_write_outside_the_region() {
    let mut rig = Rig::new(REGION);
    for g in 0..8 {
        rig.grants.grant(g, 0x77, g % 2 == 0);
    }
    let before = rig.disk.bytes.clone();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut answered = 0;
    for round in 0..3000 {
        let mut slot = [0u8; BLKIF_SLOT_SIZE];
        for b in slot.iter_mut() {
            *b = rng.next() as u8;
        }
        // Make some of them plausible: known ops, small counts, near sectors, granted refs.
        if round % 2 == 0 {
            slot[0] = (rng.next() % 4) as u8;
            slot[1] = (rng.next() % 13) as u8;
            slot[16..24].copy_from_slice(&(rng.next() % 120).to_le_bytes());
            for s in 0..11 {
                let at = 24 + s * 8;
                slot[at..at + 4].copy_from_slice(&((rng.next() % 10) as u32).to_le_bytes());
                slot[at + 4] = (rng.next() % 9) as u8;
                slot[at + 5] = (rng.next() % 9) as u8;
            }
        }
        rig.front.write_request(&mut rig.page, &slot).unwrap();
        rig.front.push_requests(&mut rig.page);
        rig.serve();
        answered += rig.responses().len();
    }
    assert_eq!(answered, 3000);
    assert_eq!(&rig.disk.bytes[..100 * SECTOR], &before[..100 * SECTOR]);
    assert_eq!(&rig.disk.bytes[200 * SECTOR..], &before[200 * SECTOR..]);
    let st = rig.back.stats();
    assert!(st.errors > 0 && st.errors < st.requests, "{st:?}");
}

#[test]
fn random_ring_indexes_never_panic() {
    let mut rng = Rng(99);
    let fresh = Disk::new(300).bytes;
    for _ in 0..500 {
        let mut rig = Rig::new(REGION);
        for off in [0usize, 4, 8, 12] {
            if rng.next().is_multiple_of(2) {
                rig.page.write_u32(off, rng.next() as u32);
            }
        }
        for i in 64..4096 {
            if rng.next().is_multiple_of(8) {
                rig.page.write_u8(i, rng.next() as u8);
            }
        }
        for _ in 0..3 {
            let _ = rig
                .back
                .service(&mut rig.page, &mut rig.disk, &mut rig.grants);
        }
        assert_eq!(&rig.disk.bytes[..100 * SECTOR], &fresh[..100 * SECTOR]);
        assert_eq!(&rig.disk.bytes[200 * SECTOR..], &fresh[200 * SECTOR..]);
    }
}
