//! `blk garbage VDEV`: a hostile frontend on a connected disk's real ring: requests the engine would never send, each answer checked, the disk checked unchanged, then a request index past the ring that the backend must answer by disconnecting.
// Each hostile request starts as a valid one the engine queues (so its id, slot and pages stay
// the engine's, and the engine's indexes stay in step with the shared ones), is rewritten in
// its slot before the push, and is answered alone (nothing else in flight). The backend echoes
// the operation it was sent; where that is not the engine's (an unknown operation), the
// response's operation is set back before the engine reads it, so the engine can still be used
// for the normal reads after. The disk's CRC-32, read through the normal path before and after,
// shows that no refused request moved a byte. Last, req_prod is put far past the ring and the
// backend notified: it must close the device, which we wait for. Every wait is bounded.

use alloc::format;
use alloc::string::String;
use core::mem::offset_of;

use hypercall_abi::blkif::{
    BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR, BLKIF_SLOT_SIZE, BlkifRequest, BlkifResponse,
};
use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::GrantRef;
use hypercall_abi::ring::SharedRingHeader;
use hypercall_abi::xenbus::{XENBUS_KEY_STATE, XenbusState};

use dom0_tools::blk_data::{Crc32, fill_pattern};
use dom0_tools::blkfront::{self, DiskInfo, Op, RING, SECTOR_BYTES, status_name};
use dom0_tools::shared_ring::RingMemory;

use super::connection::Connection;
use super::device::Device;
use super::ring_io::{Data, RingIo, WAIT_NS};
use crate::arch::x86_64::page_pool::{PAGE, SharedPage};
use crate::arch::x86_64::{grant_front, shared_events, toolstack_calls};
use crate::console::kprintln;
use crate::domu::xenbus::Xenbus;

/// A grant reference we never handed out.
const NEVER_GRANTED: GrantRef = 0xdead;
/// The seed of the data the hostile writes carry.
const SEED: u64 = 0x6a;
/// How far past the responses the corrupt request producer index is put.
const OVERRUN: u32 = 1000;
/// The byte every byte of the read-only granted page holds.
const MARK: u8 = 0xa5;
/// Where the requests that stay inside the disk start.
const BASE: u64 = 64;
/// Disks up to this many sectors are checksummed whole; larger ones at both ends.
const WHOLE: u64 = 32768;
/// Sectors checksummed at each end of a larger disk.
const WINDOW: u64 = 2048;
/// Sleep between looks at the backend's state (ns).
const LOOK_NS: u64 = 100_000_000;

const REQ_PROD: usize = offset_of!(SharedRingHeader, req_prod);
const RSP_PROD: usize = offset_of!(SharedRingHeader, rsp_prod);

/// What the rewrites need to know.
struct Ctx {
    /// The disk's size in sectors.
    sectors: u64,
    /// A page of ours granted to the backend read-only.
    ro_gref: GrantRef,
}

/// Where a case's valid request starts.
#[derive(Clone, Copy)]
enum At {
    /// At `BASE`.
    Base,
    /// Its last sector is the disk's last.
    End,
}

/// One hostile request: a valid one the engine builds, then rewritten.
struct Case {
    what: &'static str,
    op: Op,
    at: At,
    sectors: u32,
    rewrite: fn(&mut BlkifRequest, &Ctx),
    expect: i16,
}

const CASES: &[Case] = &[
    Case {
        what: "read into grant 0xdead (never granted)",
        op: Op::Read,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.seg[0].gref = NEVER_GRANTED,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "write from grant 0xdead (never granted)",
        op: Op::Write,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.seg[0].gref = NEVER_GRANTED,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "write whose 2nd segment is grant 0xdead",
        op: Op::Write,
        at: At::Base,
        sectors: 16,
        rewrite: |r, _| r.seg[1].gref = NEVER_GRANTED,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "read 4 sectors past the end of the disk",
        op: Op::Read,
        at: At::End,
        sectors: 8,
        rewrite: |r, c| r.sector_number = c.sectors - 4,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "write 4 sectors past the end of the disk",
        op: Op::Write,
        at: At::End,
        sectors: 8,
        rewrite: |r, c| r.sector_number = c.sectors - 4,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "write at sector 2^64-4",
        op: Op::Write,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.sector_number = u64::MAX - 3,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "read with nr_segments 0",
        op: Op::Read,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.nr_segments = 0,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "read with nr_segments 12",
        op: Op::Read,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.nr_segments = 12,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "read with first_sect 5 > last_sect 2",
        op: Op::Read,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| {
            r.seg[0].first_sect = 5;
            r.seg[0].last_sect = 2;
        },
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "read with last_sect 8",
        op: Op::Read,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.seg[0].last_sect = 8,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "write with last_sect 8",
        op: Op::Write,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.seg[0].last_sect = 8,
        expect: BLKIF_RSP_ERROR,
    },
    Case {
        what: "operation 0x7f",
        op: Op::Read,
        at: At::Base,
        sectors: 8,
        rewrite: |r, _| r.operation = 0x7f,
        expect: BLKIF_RSP_EOPNOTSUPP,
    },
    Case {
        what: "read into a page granted read-only",
        op: Op::Read,
        at: At::Base,
        sectors: 8,
        rewrite: |r, c| r.seg[0].gref = c.ro_gref,
        expect: BLKIF_RSP_ERROR,
    },
];

/// Runs `blk garbage` on `dev`, connected, with `info`.
pub fn run(dev: &mut Device, xb: &mut Xenbus, info: DiskInfo) {
    if info.sectors < BASE + 16 {
        kprintln!(
            "garbage: {} is too small ({} sectors)",
            dev.name,
            info.sectors
        );
        return;
    }
    let Some(conn) = dev.conn.as_mut() else {
        return;
    };
    let before = checksum(conn, info.sectors);
    if let Err(e) = &before {
        kprintln!("garbage: reading the disk before: {}", e);
    }
    let mut ro = ReadOnlyPage::grant(dev.backend_id);
    let ctx = Ctx {
        sectors: info.sectors,
        ro_gref: ro.as_ref().map_or(NEVER_GRANTED, |p| p.gref),
    };
    let mut unexpected = 0;
    for case in CASES {
        match post(conn, case, &ctx) {
            Ok(status) => {
                let ok = status == case.expect;
                if !ok {
                    unexpected += 1;
                }
                kprintln!(
                    "garbage: {}: response {}{}{}",
                    case.what,
                    status_name(status),
                    if ok { "" } else { ", expected " },
                    if ok { "" } else { status_name(case.expect) }
                );
            }
            Err(e) => {
                unexpected += 1;
                kprintln!("garbage: {}: {}", case.what, e);
                break;
            }
        }
    }
    if let Some(page) = ro.take() {
        let intact = page.release();
        kprintln!(
            "garbage: the read-only granted page is {}",
            if intact { "intact" } else { "CHANGED" }
        );
        if !intact {
            unexpected += 1;
        }
    }
    match (before, checksum(conn, info.sectors)) {
        (Ok(b), Ok(a)) if a == b => {
            kprintln!(
                "garbage: disk unchanged (crc32 {:#010x} before and after)",
                b
            )
        }
        (Ok(b), Ok(a)) => {
            unexpected += 1;
            kprintln!(
                "garbage: disk CHANGED (crc32 {:#010x} before, {:#010x} after)",
                b,
                a
            )
        }
        (_, Err(e)) => {
            unexpected += 1;
            kprintln!("garbage: reading the disk after: {}", e)
        }
        (Err(_), Ok(_)) => unexpected += 1,
    }
    kprintln!(
        "garbage: {} requests, {} unexpected outcomes",
        CASES.len(),
        unexpected
    );
    overrun(dev, xb);
}

/// The CRC-32 of the disk through the normal read path: all of it, or both ends of a large one.
fn checksum(conn: &mut Connection, sectors: u64) -> Result<u32, String> {
    let mut crc = Crc32::new();
    let windows = if sectors <= WHOLE {
        [(0, sectors), (0, 0)]
    } else {
        [(0, WINDOW), (sectors - WINDOW, WINDOW)]
    };
    for (start, count) in windows.into_iter().filter(|w| w.1 > 0) {
        let data = Data::Check {
            crc,
            first: [0; 16],
            first_len: 0,
        };
        let mut io = RingIo::new(&mut conn.link, data);
        blkfront::transfer(&mut conn.front, &mut io, Op::Read, start, count, 32)
            .map_err(|e| format!("{e:?}"))?;
        if let Data::Check { crc: c, .. } = io.data {
            crc = c;
        }
    }
    Ok(crc.value())
}

/// Queues the case's valid request, rewrites it, pushes it and waits for its answer alone;
/// the answer's status, or why there is none.
fn post(conn: &mut Connection, case: &Case, ctx: &Ctx) -> Result<i16, String> {
    if conn.front.in_flight() != 0 {
        return Err(String::from("requests are still in flight"));
    }
    let idx = conn.link.ring.read_u32(REQ_PROD);
    let rsp_prod = conn.link.ring.read_u32(RSP_PROD);
    if rsp_prod != idx {
        return Err(format!(
            "the ring is not idle (req_prod {idx}, rsp_prod {rsp_prod})"
        ));
    }
    let sector = match case.at {
        At::Base => BASE,
        At::End => ctx.sectors - u64::from(case.sectors),
    };
    let id = conn
        .front
        .submit(&mut conn.link.ring, case.op, sector, case.sectors)
        .map_err(|e| format!("the engine refused the base request ({e:?})"))?;
    if case.op == Op::Write {
        let mut buf = [0u8; PAGE];
        for (i, page) in conn.front.pages(id).enumerate() {
            let offset = (sector * SECTOR_BYTES as u64).wrapping_add((i * PAGE) as u64);
            fill_pattern(SEED, offset, &mut buf);
            if let Some(p) = conn.link.pool.get_mut(page) {
                p.write(0, &buf);
            }
        }
    }
    let at = RING.slot_offset(idx);
    let mut slot = [0u8; BLKIF_SLOT_SIZE];
    conn.link.ring.read(at, &mut slot);
    let mut req = BlkifRequest::from_bytes(&slot);
    if req.id != u64::from(id) {
        // Not pushed yet: a valid request the engine sends with its next push.
        conn.front.release(id);
        return Err(format!("the engine's request is not in slot {idx}"));
    }
    (case.rewrite)(&mut req, ctx);
    conn.link.ring.write(at, &req.to_bytes());
    if conn.front.push(&mut conn.link.ring) {
        let _ = toolstack_calls::evtchn_send(conn.link.port);
    }
    if let Err(e) = wait_for_answer(conn) {
        conn.front.release(id);
        return Err(e);
    }
    let mut buf = [0u8; BlkifResponse::SIZE];
    conn.link.ring.read(at, &mut buf);
    let mut rsp = BlkifResponse::from_bytes(&buf);
    if rsp.id == u64::from(id) && rsp.operation != case.op.code() {
        rsp.operation = case.op.code();
        conn.link.ring.write(at, &rsp.to_bytes());
    }
    let collected = conn.front.collect(&mut conn.link.ring);
    let status = conn.front.status(id);
    conn.front.release(id);
    match (collected, status) {
        (Err(b), _) => Err(format!("the answer broke the ring ({b})")),
        (Ok(_), Some(s)) => Ok(s),
        (Ok(_), None) => Err(String::from("no response to the request")),
    }
}

/// Waits (bounded) until a response is on the ring.
fn wait_for_answer(conn: &mut Connection) -> Result<(), String> {
    let port = conn.link.port;
    let deadline = shared_events::system_time_ns()
        .ok_or_else(|| String::from("no clock"))?
        .saturating_add(WAIT_NS);
    loop {
        match conn.front.final_check(&mut conn.link.ring) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(b) => return Err(format!("the backend broke the ring ({b})")),
        }
        let now = shared_events::system_time_ns().unwrap_or(u64::MAX);
        if now >= deadline {
            return Err(format!("no response within {} s", WAIT_NS / 1_000_000_000));
        }
        if !shared_events::take_pending(port) {
            let ret = toolstack_calls::sched_poll(&[port], deadline);
            if ret < 0 {
                return Err(format!("waiting failed ({ret})"));
            }
        }
    }
}

/// A page of ours, every byte `MARK`, granted to the backend read-only.
struct ReadOnlyPage {
    page: SharedPage,
    gref: GrantRef,
}

impl ReadOnlyPage {
    fn grant(backend: DomId) -> Option<ReadOnlyPage> {
        let mut page = SharedPage::alloc().ok()?;
        page.write(0, &[MARK; PAGE]);
        match grant_front::grant(backend, page.mfn(), true) {
            Ok(gref) => Some(ReadOnlyPage { page, gref }),
            Err(_) => {
                page.free();
                None
            }
        }
    }

    /// Ends the grant; whether the page still holds `MARK` everywhere. The page is reused
    /// only if the grant ended.
    fn release(self) -> bool {
        let mut buf = [0u8; PAGE];
        self.page.read(0, &mut buf);
        if grant_front::end_access(self.gref) {
            self.page.free();
        }
        buf.iter().all(|&b| b == MARK)
    }
}

/// Puts req_prod `OVERRUN` past rsp_prod and notifies; waits (bounded) for the backend to
/// close the device, then follows it down.
fn overrun(dev: &mut Device, xb: &mut Xenbus) {
    let Some(be) = dev.backend.clone() else {
        return;
    };
    let Some(conn) = dev.conn.as_mut() else {
        kprintln!("garbage: {} has no ring any more", dev.name);
        return;
    };
    let rsp_prod = conn.link.ring.read_u32(RSP_PROD);
    let bad = rsp_prod.wrapping_add(OVERRUN);
    conn.link.ring.write_u32(REQ_PROD, bad);
    let _ = toolstack_calls::evtchn_send(conn.link.port);
    kprintln!(
        "garbage: req_prod {} with rsp_prod {}: backend notified",
        bad,
        rsp_prod
    );
    let port = conn.link.port;
    let path = format!("{be}/{XENBUS_KEY_STATE}");
    let deadline = shared_events::system_time_ns()
        .unwrap_or(0)
        .saturating_add(WAIT_NS);
    let state = loop {
        let state = xb
            .read(&path)
            .ok()
            .and_then(|v| core::str::from_utf8(&v).ok()?.parse().ok())
            .unwrap_or(XenbusState::Unknown);
        let now = shared_events::system_time_ns().unwrap_or(u64::MAX);
        if matches!(state, XenbusState::Closing | XenbusState::Closed) || now >= deadline {
            break state;
        }
        shared_events::take_pending(port);
        let _ = toolstack_calls::sched_poll(&[port], now.saturating_add(LOOK_NS).min(deadline));
    };
    if matches!(state, XenbusState::Closing | XenbusState::Closed) {
        kprintln!("garbage: backend disconnected (backend {})", state.name());
        dev.backend_changed(xb);
    } else {
        kprintln!(
            "garbage: backend still {} after {} s; closing {} ourselves",
            state.name(),
            WAIT_NS / 1_000_000_000,
            dev.name
        );
        dev.problem = Some(String::from("ring left corrupt by blk garbage"));
        dev.close(xb);
    }
}
