//! The two-domain benchmarks, Dom0's side: a partner DomU from the ramdisk, then grant copies and mappings of its page, event round trips and domain switches with it.
// Each figure is one `BENCH` line in TSC ticks (instructions under icount) per operation,
// including the guest loops around the calls. The partner (domu=bench) blocks unless told to
// yield, so it takes no CPU time while the grant figures run.

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::grant_table::{GNTMAP_HOST_MAP, GnttabMapGrantRef, GnttabUnmapGrantRef};

use super::builder::{self, Domu, DomuSpec};
use super::scenario::{DESTROY_TIMEOUT_MS, DOMU_PAGES, RUN_TIMEOUT_MS, domu_image};
use super::session::Session;
use crate::arch::x86_64::grant_bench::{self, PAGE};
use crate::arch::x86_64::mmu_bench::NotMeasured;
use crate::arch::x86_64::window::Slot;
use crate::arch::x86_64::{event_bench, frames, grant_calls, toolstack_calls, traps};
use crate::console::kprintln;
use crate::domu::bench_partner::{BENCH_GREF, pattern};
use crate::selftest::report::{Detail, Ret};

/// Operations timed per figure.
const N: u64 = 1000;
/// Operations run before each timed stretch, so it starts from a warm state.
const WARM_UP: u64 = 16;
/// Window page grants are mapped at.
const MAP_SLOT: usize = 2;
/// Window page results are checked through.
const CHECK_SLOT: usize = 3;
/// The partner's command line.
const PARTNER_CMDLINE: &str = "domu=bench";

fn detail(args: core::fmt::Arguments<'_>) -> Detail {
    Detail::new(args)
}

fn not_measured(what: &str, e: NotMeasured) -> Detail {
    detail(format_args!("{}: {}", what, e.0))
}

/// Builds the partner, prints the two-domain figures, destroys the partner. On failure says
/// what was not measured.
pub fn run() {
    if let Err(why) = measure() {
        kprintln!("bench: two-domain figures not measured: {}", why);
    }
}

fn measure() -> Result<(), Detail> {
    traps::install().map_err(|e| detail(format_args!("set_trap_table: {}", Ret(e))))?;
    let image = domu_image()?;
    let mut session = Session::start()?;
    let spec = DomuSpec {
        nr_pages: DOMU_PAGES,
        cmdline: PARTNER_CMDLINE,
        ramdisk: &[],
        max_memkb: 0,
        xenstore: false,
        serial: 1,
    };
    let domu = builder::build(image, &spec)
        .map_err(|e| detail(format_args!("building the partner: {e}")))?;
    let domid = domu.domid;
    let measured = with_partner(&mut session, domu);
    let destroyed = session.destroy(domid, DESTROY_TIMEOUT_MS);
    measured.and(destroyed)
}

/// Opens our two channels to the partner, starts it and waits for its ready event, then
/// measures.
fn with_partner(session: &mut Session, domu: Domu) -> Result<(), Detail> {
    let domid = domu.domid;
    let (echo, mode) = (open_channel(domid)?, open_channel(domid)?);
    event_bench::setup(&[echo, mode], false).map_err(|e| not_measured("event setup", e))?;
    let started = domu.start();
    session.add(domu)?;
    if started != 0 {
        return Err(detail(format_args!(
            "unpausedomain(d{domid}) returned {}",
            Ret(started)
        )));
    }
    event_bench::enable_events();
    let ready = session.wait_until(RUN_TIMEOUT_MS, |_| event_bench::count(echo) >= 1);
    if !ready {
        return Err(detail(format_args!("d{domid} never said it was ready")));
    }
    session.drain();
    grant_figures(domid)?;
    event_round_trips(echo)?;
    domain_switches(session, mode)?;
    session.drain();
    Ok(())
}

/// A port of the partner's for us (alloc_unbound in its name) and our port bound to it.
fn open_channel(domid: DomId) -> Result<EvtchnPort, Detail> {
    let remote = toolstack_calls::evtchn_alloc_unbound(domid, 0)
        .map_err(|e| detail(format_args!("alloc_unbound in d{domid}: {}", Ret(e))))?;
    toolstack_calls::evtchn_bind_interdomain(domid, remote)
        .map_err(|e| detail(format_args!("bind_interdomain to d{domid}: {}", Ret(e))))
}

fn slot(i: usize) -> Result<Slot, Detail> {
    Slot::get(i).ok_or_else(|| detail(format_args!("no window page {i}")))
}

/// Whether window page `slot` shows the partner's pattern (first and last word).
fn shows_pattern(slot: Slot) -> bool {
    let last = PAGE / 8 - 1;
    slot.read(0) == Some(pattern(0)) && slot.read(last) == Some(pattern(last))
}

/// The in-guest page copy (the floor), grant copy of the partner's page into a frame of ours,
/// and grant map plus unmap of it.
fn grant_figures(domid: DomId) -> Result<(), Detail> {
    let _ = grant_bench::time_page_copies(WARM_UP);
    let ticks = grant_bench::time_page_copies(N);
    kprintln!("BENCH page_copy insns={} n={}", ticks / N, N);

    let dest = frames::take_free().ok_or_else(|| detail(format_args!("no free frame")))?;
    let copies = |n| grant_bench::time_grant_copies(domid, BENCH_GREF, dest, n);
    copies(WARM_UP).map_err(|e| not_measured("grant copy", e))?;
    let check = slot(CHECK_SLOT)?;
    let copied = check.map_frame(dest.mfn, false) == 0 && shows_pattern(check);
    let _ = check.unmap();
    if !copied {
        return Err(detail(format_args!(
            "the grant copy did not bring the page"
        )));
    }
    let ticks = copies(N).map_err(|e| not_measured("grant copy", e))?;
    kprintln!("BENCH grant_copy insns={} n={}", ticks / N, N);

    let map_slot = slot(MAP_SLOT)?;
    check_mapping(map_slot, domid)?;
    let map_unmap = |n| grant_bench::time_map_unmap(map_slot, domid, BENCH_GREF, n);
    map_unmap(WARM_UP).map_err(|e| not_measured("grant map", e))?;
    let ticks = map_unmap(N).map_err(|e| not_measured("grant map", e))?;
    kprintln!("BENCH grant_map_unmap insns={} n={}", ticks / N, N);
    Ok(())
}

/// Maps the partner's grant once through `grant_calls`, checks that the page shows its
/// pattern, and unmaps it.
fn check_mapping(slot: Slot, domid: DomId) -> Result<(), Detail> {
    if slot.unmap() != 0 {
        return Err(detail(format_args!("the map window did not unmap")));
    }
    let mut map = [GnttabMapGrantRef {
        host_addr: slot.va(),
        flags: GNTMAP_HOST_MAP,
        ref_: BENCH_GREF,
        dom: domid,
        ..GnttabMapGrantRef::default()
    }];
    let ret = grant_calls::map(&mut map).map_err(|d| detail(format_args!("{}", d.0)))?;
    if ret != 0 || map[0].status != 0 {
        return Err(detail(format_args!(
            "map_grant_ref returned {}, status {}",
            Ret(ret),
            map[0].status
        )));
    }
    let seen = shows_pattern(slot);
    let mut unmap = [GnttabUnmapGrantRef {
        host_addr: slot.va(),
        handle: map[0].handle,
        ..GnttabUnmapGrantRef::default()
    }];
    let ret = grant_calls::unmap(&mut unmap).map_err(|d| detail(format_args!("{}", d.0)))?;
    if ret != 0 || unmap[0].status != 0 {
        return Err(detail(format_args!(
            "unmap_grant_ref returned {}, status {}",
            Ret(ret),
            unmap[0].status
        )));
    }
    if !seen {
        return Err(detail(format_args!(
            "the mapped grant did not show the page"
        )));
    }
    Ok(())
}

/// Send on `echo`, the partner's upcall sends back, our upcall takes it: per round trip.
fn event_round_trips(echo: EvtchnPort) -> Result<(), Detail> {
    event_bench::time_round_trips(echo, WARM_UP).map_err(|e| not_measured("round trip", e))?;
    let ticks =
        event_bench::time_round_trips(echo, N).map_err(|e| not_measured("round trip", e))?;
    kprintln!("BENCH evtchn_round_trip insns={} n={}", ticks / N, N);
    Ok(())
}

/// Tells the partner to yield in a loop (an event on `mode`, acknowledged), yields to it `N`
/// times (each yield of ours switches to the partner, whose yield switches back: two domain
/// switches), then tells it to block again.
fn domain_switches(session: &mut Session, mode: EvtchnPort) -> Result<(), Detail> {
    let toggle = |session: &mut Session, what: &str| {
        let seen = event_bench::count(mode);
        let ret = event_bench::send(mode);
        if ret != 0 {
            return Err(detail(format_args!("send to the partner: {}", Ret(ret))));
        }
        if session.wait_until(RUN_TIMEOUT_MS, |_| event_bench::count(mode) > seen) {
            Ok(())
        } else {
            Err(detail(format_args!("the partner did not {what}")))
        }
    };
    toggle(session, "start yielding")?;
    let _ = event_bench::time_yields(WARM_UP);
    let ticks = event_bench::time_yields(N);
    toggle(session, "stop yielding")?;
    kprintln!("BENCH domain_switch insns={} n={}", ticks / (2 * N), 2 * N);
    Ok(())
}
