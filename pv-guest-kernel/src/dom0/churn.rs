//! domains=churn: create and destroy 100 domains; afterwards the free page count is what it was.

use super::builder::{self, DomuSpec};
use super::control;
use super::scenario::{DESTROY_TIMEOUT_MS, RUN_TIMEOUT_MS, domu_image, ensure, step};
use super::session::Session;
use crate::arch::x86_64::shared_events;
use crate::console::kprintln;
use crate::selftest::report::{Detail, Report, Ret};

/// Domains created and destroyed.
pub const CYCLES: u32 = 100;
/// Pages of each (4 MiB: the smallest a 4 MiB-aligned initial mapping allows).
pub const CHURN_PAGES: u64 = 1024;
/// How long the free page count may take to come back (the hypervisor may free some memory
/// of a dead domain late, e.g. after an RCU grace period).
pub const SETTLE_TIMEOUT_MS: u64 = 10_000;

fn free_pages() -> Result<u64, Detail> {
    control::free_pages().map_err(|e| Detail::new(format_args!("physinfo returned {}", Ret(e))))
}

/// One domain built, run until it powers off, then destroyed.
fn cycle(session: &mut Session, image: &[u8], i: u32) -> Result<(), Detail> {
    let spec = DomuSpec {
        nr_pages: CHURN_PAGES,
        cmdline: "domu=hello",
        ramdisk: &[],
        max_memkb: 0,
        xenstore: false,
        serial: 100 + i,
    };
    let domu = builder::build(image, &spec)
        .map_err(|e| Detail::new(format_args!("domain #{i}: build: {e}")))?;
    let domid = domu.domid;
    let started = domu.start();
    session.add(domu)?;
    ensure(
        started == 0,
        format_args!(
            "domain #{i}: unpausedomain(d{domid}) returned {}",
            Ret(started)
        ),
    )?;
    let state = session
        .wait_for_shutdown(domid, RUN_TIMEOUT_MS)
        .map_err(|e| Detail::new(format_args!("domain #{i}: {e}")))?;
    ensure(
        state.shutdown == Some(0),
        format_args!("domain #{i}: d{domid} shut down with {:?}", state.shutdown),
    )?;
    session
        .destroy(domid, DESTROY_TIMEOUT_MS)
        .map_err(|e| Detail::new(format_args!("domain #{i}: {e}")))?;
    if (i + 1).is_multiple_of(10) {
        kprintln!(
            "churn: {} domains created and destroyed (last d{})",
            i + 1,
            domid
        );
    }
    Ok(())
}

/// The scenario's checks, in order; each runs only if the ones before passed.
pub fn checks(report: &mut Report) {
    let Some(mut session) = step(report, "churn.session", Session::start()) else {
        return;
    };
    let Some(image) = step(report, "churn.image", domu_image()) else {
        return;
    };
    let Some(before) = step(report, "churn.free_pages_before", free_pages()) else {
        return;
    };
    let cycles = (0..CYCLES).try_for_each(|i| cycle(&mut session, image, i));
    if step(report, "churn.create_destroy_100", cycles).is_none() {
        return;
    }
    let right_after = free_pages();
    let settle_start = shared_events::system_time_ns();
    let mut after = Err(Detail::new(format_args!("not read")));
    session.wait_until(SETTLE_TIMEOUT_MS, |_| {
        after = free_pages();
        matches!(after, Ok(n) if n == before)
    });
    let settled_ms = match (settle_start, shared_events::system_time_ns()) {
        (Some(s), Some(e)) => e.saturating_sub(s) / 1_000_000,
        _ => 0,
    };
    let Some(after) = step(report, "churn.free_pages_after", after) else {
        return;
    };
    kprintln!(
        "churn: free pages before {}, right after the last destroy {}, then {} ({} ms later); {} domains of {} pages",
        before,
        right_after.unwrap_or(0),
        after,
        settled_ms,
        CYCLES,
        CHURN_PAGES
    );
    step(
        report,
        "churn.free_pages_back",
        ensure(
            after == before,
            format_args!(
                "free pages before {before}, after {after}: {} missing",
                before as i64 - after as i64
            ),
        ),
    );
}
