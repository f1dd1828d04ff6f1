//! domu=pong, the granter's part: owns the port, grants a page, sees what the mapper did to it, gives the frame back while it is mapped, grants a second page to be held.

use dom0_tools::pingpong_params::PeerLink;
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::GrantRef;
use hypercall_abi::memory::{XENMEM_CURRENT_RESERVATION, XENMEM_DECREASE_RESERVATION};

use super::pong::{
    Aborted, ROUND_TRIPS, SEED_ANSWER, SEED_COPY_BACK, SEED_COPY_OUT, SEED_HELD, SEED_OFFER, Tally,
    must,
};
use super::pong_link::{EventLink, now_ns};
use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::arch::x86_64::grant_calls::{self, SharedTable};
use crate::arch::x86_64::memory_calls;
use crate::conform_gnt::grants::{PA, R, RD, RO, T, W, WR, expect_flags, grant};
use crate::conform_mm::guest::{declined, take_frames};
use crate::conform_mm::pattern;
use crate::console::kprintln;
use crate::selftest::report::{Detail, Outcome, Ret, expect_eq, expect_ret, fail};

/// The M2P entry of a frame once it is freed (observed on Xen 4.17).
const M2P_FREED: u64 = u64::MAX;

/// Plays the granter with grant reference `gref` and the link Dom0 sent.
pub fn run(tally: &mut Tally, gref: GrantRef, link: PeerLink) -> Result<(), Aborted> {
    let events = EventLink { port: link.port };
    let (table, page) = must(tally, "granter.setup", setup(gref, link.peer))?;
    must(tally, "granter.hello", events.wait("the mapper's hello"))?;
    let trips = round_trips(events);
    let trips_ok = trips.is_ok();
    tally.check("granter.round_trips", trips);
    if !trips_ok {
        return Err(Aborted);
    }
    // The mapper's turn: its last pong was its last word, so it waits for this one (two
    // notifications in a row would merge into one pending bit).
    must(tally, "granter.sync", events.send())?;

    must(tally, "granter.sync", events.wait("the mapper's answer"))?;
    tally.check("granter.answer_through_map", answer(table, gref, page));
    must(
        tally,
        "granter.copy_out",
        pattern::fill(W, page.mfn, SEED_COPY_OUT),
    )?;
    must(tally, "granter.sync", events.send())?;

    must(tally, "granter.sync", events.wait("the mapper's copies"))?;
    tally.check("granter.copy_seen", copy_seen(page));
    let before = reservation();
    tally.check(
        "granter.end_refused_while_mapped",
        give_back(table, gref, page, before),
    );
    must(tally, "granter.sync", events.send())?;

    must(tally, "granter.sync", events.wait("the mapper's unmap"))?;
    tally.check(
        "granter.freed_after_unmap",
        freed(table, gref, page, before),
    );

    let held = gref + 1;
    must(
        tally,
        "granter.second_grant",
        grant_held(table, held, link.peer),
    )?;
    must(tally, "granter.sync", events.send())?;
    must(tally, "granter.sync", events.wait("the mapper holding it"))?;
    tally.check(
        "granter.second_grant_held",
        expect_flags(table, held, PA | RO | RD),
    );
    tally.check(
        "granter.table_unmapped",
        expect_ret("unmapping the grant table", table.unmap(), 0),
    );
    Ok(())
}

/// Our grant table's first frame mapped, and a page of ours holding the offer, granted
/// writable to `peer` as `gref`.
fn setup(gref: GrantRef, peer: DomId) -> Result<(SharedTable, FreeFrame), Detail> {
    let mut list = [0u64; 1];
    let (ret, op) = grant_calls::setup_table(DOMID_SELF, 1, &mut list).map_err(declined)?;
    expect_ret("setup_table", ret, 0)?;
    if op.status != 0 {
        fail!("setup_table status {}", op.status);
    }
    let Some(table) = SharedTable::map(T, list[0]) else {
        fail!("mapping grant frame {:#x} failed", list[0]);
    };
    let [page] = take_frames::<1>()?;
    pattern::fill(W, page.mfn, SEED_OFFER)?;
    grant(table, gref, PA, peer, page.mfn)?;
    Ok((table, page))
}

/// A second page of ours holding the held pattern, granted read-only to `peer` as `gref`.
fn grant_held(table: SharedTable, gref: GrantRef, peer: DomId) -> Outcome {
    let [page] = take_frames::<1>()?;
    pattern::fill(W, page.mfn, SEED_HELD)?;
    grant(table, gref, PA | RO, peer, page.mfn)
}

/// `ROUND_TRIPS` round trips, sending first; prints how long they took.
fn round_trips(events: EventLink) -> Outcome {
    let start = now_ns()?;
    let mut received = 0u32;
    for _ in 0..ROUND_TRIPS {
        events.send()?;
        events.wait("a pong")?;
        received += 1;
    }
    let elapsed = now_ns()?.saturating_sub(start);
    kprintln!(
        "pong: granter: {} round trips ({} sent, {} received) in {} us, {} ns each",
        ROUND_TRIPS,
        ROUND_TRIPS,
        received,
        elapsed / 1000,
        elapsed / u64::from(ROUND_TRIPS)
    );
    expect_eq(
        "pongs received",
        u64::from(received),
        u64::from(ROUND_TRIPS),
    )
}

/// While mapped, the grant is in use (GTF_reading and GTF_writing) and the page holds the
/// mapper's answer.
fn answer(table: SharedTable, gref: GrantRef, page: FreeFrame) -> Outcome {
    expect_flags(table, gref, PA | RD | WR)?;
    pattern::check(R, page.mfn, "granted page", |i| {
        pattern::word(SEED_ANSWER, i)
    })
}

/// The mapper's copy back landed in our page.
fn copy_seen(page: FreeFrame) -> Outcome {
    pattern::check(R, page.mfn, "granted page after the copies", |i| {
        pattern::word(SEED_COPY_BACK, i)
    })
}

fn reservation() -> i64 {
    memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, DOMID_SELF).unwrap_or(i64::MIN)
}

/// Ends the grant as Linux's end_foreign_access does: refused (false) while the entry says
/// GTF_reading or GTF_writing, else the entry is cleared (true). The mapper is waiting for us
/// meanwhile, so nothing changes the flags between the read and the clear.
fn try_end(table: SharedTable, gref: GrantRef) -> Result<bool, Detail> {
    let Some(flags) = table.flags(gref) else {
        fail!("entry {} unreadable", gref);
    };
    if flags & (RD | WR) != 0 {
        return Ok(false);
    }
    if !table.clear(gref) {
        fail!("clearing entry {} failed", gref);
    }
    Ok(true)
}

/// Gives the mapped frame back: done, but it stays ours (counted, in the M2P) while the
/// mapper maps it, and the grant cannot be ended.
fn give_back(table: SharedTable, gref: GrantRef, page: FreeFrame, before: i64) -> Outcome {
    let entry = table.entry(gref);
    let mut ext = [page.mfn];
    let done = memory_calls::reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, 0, DOMID_SELF)
        .map_err(declined)?;
    let during = reservation();
    let m2p = frames::m2p(page.mfn);
    let ended = try_end(table, gref)?;
    expect_ret("decrease_reservation", done, 1)?;
    if ended {
        fail!("the grant ended while the mapper maps it");
    }
    expect_flags(table, gref, PA | RD | WR)?;
    if table.entry(gref) != entry {
        fail!("entry {} changed while mapped", gref);
    }
    if during != before {
        fail!(
            "current_reservation went from {} to {} while the frame is mapped",
            Ret(before),
            Ret(during)
        );
    }
    expect_eq("M2P entry while mapped", m2p.unwrap_or(0), page.pfn)
}

/// Once unmapped, the frame is freed: uncounted, out of the M2P; the grant is idle and ends.
fn freed(table: SharedTable, gref: GrantRef, page: FreeFrame, before: i64) -> Outcome {
    let after = reservation();
    let m2p = frames::m2p(page.mfn);
    expect_flags(table, gref, PA)?;
    if after != before - 1 {
        fail!(
            "current_reservation {} after the unmap, expected {}",
            Ret(after),
            Ret(before - 1)
        );
    }
    expect_eq("M2P entry once freed", m2p.unwrap_or(0), M2P_FREED)?;
    if !try_end(table, gref)? {
        fail!("the grant could not be ended after the unmap");
    }
    match table.entry(gref) {
        Some(0) => Ok(()),
        Some(e) => fail!("entry {} is {:#x} after ending it", gref, e),
        None => fail!("entry {} unreadable", gref),
    }
}
