//! domu=pong, the mapper's part: binds to the granter's port, maps and copies the granted page, keeps reading it after the granter gave it back, unmaps; holds a second page past the granter's destruction.

use dom0_tools::pingpong_params::PeerLink;
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTMAP_HOST_MAP, GNTMAP_READONLY, GNTST_BAD_PAGE,
    GnttabCopy, GnttabCopyPtr, GrantHandle, GrantRef,
};

use super::pong::{
    Aborted, ROUND_TRIPS, SEED_ANSWER, SEED_COPY_BACK, SEED_COPY_OUT, SEED_HELD, SEED_OFFER, Tally,
    must,
};
use super::pong_link::EventLink;
use crate::arch::x86_64::frames::FreeFrame;
use crate::arch::x86_64::{grant_calls, shared_events, toolstack_calls};
use crate::conform_gnt::grants::{
    M, N, R, W, clear_slot, expect_status, expect_unmapped, map_one, map_op, unmap_at,
};
use crate::conform_mm::guest::{declined, take_frames};
use crate::conform_mm::pattern;
use crate::selftest::report::{Detail, Outcome, Ret, expect_eq, expect_ret, fail};

/// Bytes in a page.
const PAGE: u16 = 4096;
/// A word written through the mapping after the granter gave the frame back.
const MARK: u64 = 0x504F_4E47_0000_0001;

/// Plays the mapper of the granter's `gref`, over the link Dom0 sent.
pub fn run(tally: &mut Tally, gref: GrantRef, link: PeerLink) -> Result<(), Aborted> {
    let port = must(tally, "mapper.bind", bind(link))?;
    let events = EventLink { port };
    // The bind left our new port pending (the peer may have notified the unbound port before);
    // that is no ping.
    let notified = if shared_events::take_pending(port) {
        Ok(())
    } else {
        Err(Detail::new(format_args!(
            "port {port} not pending after bind_interdomain"
        )))
    };
    tally.check("mapper.bind_notifies", notified);
    let [own] = must(tally, "mapper.frames", take_frames::<1>())?;
    must(tally, "mapper.hello", events.send())?;
    let trips = round_trips(events);
    let trips_ok = trips.is_ok();
    tally.check("mapper.round_trips", trips);
    if !trips_ok {
        return Err(Aborted);
    }
    must(tally, "mapper.sync", events.wait("our turn to map"))?;

    let peer = link.peer;
    let mapped = map_granted(gref, peer);
    let handle = mapped.as_ref().ok().copied();
    tally.check("mapper.map", mapped.and_then(|_| answer()));
    must(tally, "mapper.sync", events.send())?;

    must(tally, "mapper.sync", events.wait("the copy-out pattern"))?;
    tally.check(
        "mapper.copy_both_ways",
        copy_both_ways(gref, peer, own, handle),
    );
    must(tally, "mapper.sync", events.send())?;

    must(tally, "mapper.sync", events.wait("the frame given back"))?;
    tally.check("mapper.mapped_after_free", read_after_free(handle));
    tally.check(
        "mapper.unmap_then_bad_page",
        unmap_then_bad_page(gref, peer, handle),
    );
    must(tally, "mapper.sync", events.send())?;

    must(tally, "mapper.sync", events.wait("the second grant"))?;
    let held = must(tally, "mapper.map_held", map_held(gref + 1, peer))?;
    // The granter's last notification: it powers off, and Dom0 destroys it.
    must(tally, "mapper.sync", events.send())?;
    must(tally, "mapper.release", super::pong_link::read_release())?;
    tally.check("mapper.held_past_granter_destroy", let_go(held));
    Ok(())
}

/// Our local port, bound to the granter's.
fn bind(link: PeerLink) -> Result<u32, Detail> {
    toolstack_calls::evtchn_bind_interdomain(link.peer, link.port).map_err(|e| {
        Detail::new(format_args!(
            "bind_interdomain(d{}, port {}) returned {}",
            link.peer,
            link.port,
            Ret(e)
        ))
    })
}

/// `ROUND_TRIPS` round trips, answering each ping.
fn round_trips(events: EventLink) -> Outcome {
    let mut received = 0u32;
    for _ in 0..ROUND_TRIPS {
        events.wait("a ping")?;
        received += 1;
        events.send()?;
    }
    expect_eq(
        "pings received",
        u64::from(received),
        u64::from(ROUND_TRIPS),
    )
}

/// Maps the granter's `gref` writable at window page M; the handle.
fn map_granted(gref: GrantRef, peer: DomId) -> Result<GrantHandle, Detail> {
    clear_slot(M)?;
    let op = map_one(map_op(M.va(), GNTMAP_HOST_MAP, gref, peer))?;
    expect_status("map_grant_ref", op.status, 0)?;
    Ok(op.handle)
}

/// Reads the offer through the mapping and writes the answer over it.
fn answer() -> Outcome {
    pattern::compare(M, "granted page through the mapping", |i| {
        pattern::word(SEED_OFFER, i)
    })?;
    if !M.fill(|i| pattern::word(SEED_ANSWER, i)) {
        fail!("writing the answer through the mapping failed");
    }
    Ok(())
}

/// One side of a copy: the granter's reference.
fn granted(peer: DomId, gref: GrantRef) -> GnttabCopyPtr {
    GnttabCopyPtr {
        u: u64::from(gref),
        domid: peer,
        offset: 0,
        pad: 0,
    }
}

/// One side of a copy: a frame of ours.
fn ours(frame: FreeFrame) -> GnttabCopyPtr {
    GnttabCopyPtr {
        u: frame.mfn,
        domid: DOMID_SELF,
        offset: 0,
        pad: 0,
    }
}

/// A whole-page copy: its status.
fn copy_page(source: GnttabCopyPtr, dest: GnttabCopyPtr, flags: u16) -> Result<i16, Detail> {
    let mut ops = [GnttabCopy {
        source,
        dest,
        len: PAGE,
        flags,
        status: 1,
        pad: 0,
    }];
    let ret = grant_calls::copy(&mut ops).map_err(declined)?;
    expect_ret("grant copy", ret, 0)?;
    Ok(ops[0].status)
}

/// The granted page copied into a frame of ours, then a new pattern copied back into it; the
/// mapping sees both.
fn copy_both_ways(
    gref: GrantRef,
    peer: DomId,
    own: FreeFrame,
    handle: Option<GrantHandle>,
) -> Outcome {
    let status = copy_page(granted(peer, gref), ours(own), GNTCOPY_SOURCE_GREF)?;
    expect_status("copy from the grant", status, 0)?;
    pattern::check(R, own.mfn, "our frame after the copy in", |i| {
        pattern::word(SEED_COPY_OUT, i)
    })?;
    if handle.is_some() {
        pattern::compare(M, "mapping before the copy back", |i| {
            pattern::word(SEED_COPY_OUT, i)
        })?;
    }
    pattern::fill(W, own.mfn, SEED_COPY_BACK)?;
    let status = copy_page(ours(own), granted(peer, gref), GNTCOPY_DEST_GREF)?;
    expect_status("copy to the grant", status, 0)?;
    if handle.is_some() {
        pattern::compare(M, "mapping after the copy back", |i| {
            pattern::word(SEED_COPY_BACK, i)
        })?;
    }
    Ok(())
}

/// The granter gave the frame back: the mapping still reads (and writes) it.
fn read_after_free(handle: Option<GrantHandle>) -> Outcome {
    if handle.is_none() {
        fail!("no mapping");
    }
    pattern::compare(M, "mapping of a frame given back", |i| {
        pattern::word(SEED_COPY_BACK, i)
    })?;
    if !M.write(1, MARK) || M.read(1) != Some(MARK) {
        fail!("writing through the mapping of a frame given back failed");
    }
    Ok(())
}

/// Maps the granter's read-only `gref` read-only at window page N: the handle.
fn map_held(gref: GrantRef, peer: DomId) -> Result<GrantHandle, Detail> {
    clear_slot(N)?;
    let op = map_one(map_op(
        N.va(),
        GNTMAP_HOST_MAP | GNTMAP_READONLY,
        gref,
        peer,
    ))?;
    expect_status("read-only map_grant_ref", op.status, 0)?;
    let handle = op.handle;
    if let Err(d) = pattern::compare(N, "held page", |i| pattern::word(SEED_HELD, i)) {
        let _ = unmap_at(N, handle);
        return Err(d);
    }
    Ok(handle)
}

/// The granter is destroyed (dying): its page still holds what it wrote; then the unmap.
fn let_go(handle: GrantHandle) -> Outcome {
    let kept = pattern::compare(N, "held page after the granter's destruction", |i| {
        pattern::word(SEED_HELD, i)
    });
    unmap_at(N, handle)?;
    expect_unmapped(N)?;
    kept
}

/// Unmapping frees the frame: a new map of the grant finds no page.
fn unmap_then_bad_page(gref: GrantRef, peer: DomId, handle: Option<GrantHandle>) -> Outcome {
    let Some(handle) = handle else {
        fail!("no mapping");
    };
    unmap_at(M, handle)?;
    expect_unmapped(M)?;
    let op = map_one(map_op(M.va(), GNTMAP_HOST_MAP, gref, peer))?;
    if op.status == 0 {
        unmap_at(M, op.handle)?;
    }
    expect_status("map after the frame was freed", op.status, GNTST_BAD_PAGE)
}
