//! domains=shell: Dom0 builds a `domu=shell` DomU, waits for it to be ready, types commands on its console (the balloon's among them), sees its heartbeat stop while paused, and sees it power off.

use hypercall_abi::domid::DomId;
use hypercall_abi::sched::ShutdownReason;

use dom0_tools::domain_info::shutdown_name;
use dom0_tools::domu_shell::READY;

use super::control;
use super::scenario::{
    DESTROY_TIMEOUT_MS, DOMU_PAGES, RUN_TIMEOUT_MS, ensure, session_with_domu, step,
};
use super::session::Session;
use crate::console::kprintln;
use crate::selftest::report::{Detail, Outcome, Report, Ret};

/// The line `uptime` answers with.
const UPTIME: &str = "uptime: ";
/// The line `mem` answers with.
const MEM: &str = "mem: now ";
/// The line `busy 1` ends with.
const BUSY: &str = "busy: 1 s done";
/// The line a `balloon KIB` command ends with (the pages are checked with getdomaininfo;
/// the console counts at most 8 needles, the builder's among them).
const BALLOON: &str = "balloon: now ";
/// How long in-flight console output may take to arrive after a pause.
const PAUSE_SETTLE_MS: u64 = 500;
/// How long the DomU stays paused while no `count` line may come.
const PAUSED_MS: u64 = 2500;
/// The heartbeat lines (`count N`).
const COUNT: &str = "count ";
/// The line before the shell's own poweroff.
const POWERING_OFF: &str = "domu: powering off";

/// Types `line` (and Enter) on `domid`'s console, then waits until `needle` has been seen
/// `times` times in all.
fn type_and_see(
    session: &mut Session,
    domid: DomId,
    line: &str,
    needle: &'static str,
    times: u32,
) -> Outcome {
    let sent = session
        .domu(domid)
        .is_some_and(|d| d.console.send(line.as_bytes()) && d.console.send(b"\r"));
    ensure(
        sent,
        format_args!("could not type `{line}` on d{domid}'s console"),
    )?;
    let seen = session.wait_until(RUN_TIMEOUT_MS, |s| {
        s.domu(domid)
            .is_some_and(|d| d.console.count(needle) >= times)
    });
    ensure(
        seen,
        format_args!("after `{line}`, no `{needle}` line (x{times}) from d{domid}"),
    )
}

/// `count` lines seen from `domid` so far.
fn counted(session: &mut Session, domid: DomId) -> u32 {
    session.domu(domid).map_or(0, |d| d.console.count(COUNT))
}

/// Pauses `domid` (whose heartbeat is on): no `count` line comes while it is paused (after
/// those already on their way), and they come again once it is unpaused.
fn count_stops_while_paused(session: &mut Session, domid: DomId) -> Outcome {
    let ret = control::pause(domid);
    ensure(ret == 0, format_args!("pausedomain returned {}", Ret(ret)))?;
    // Lines written just before the pause are still drained.
    session.wait_until(PAUSE_SETTLE_MS, |_| false);
    let before = counted(session, domid);
    session.wait_until(PAUSED_MS, |_| false);
    let after = counted(session, domid);
    let ret = control::unpause(domid);
    ensure(
        ret == 0,
        format_args!("unpausedomain returned {}", Ret(ret)),
    )?;
    ensure(
        before == after,
        format_args!(
            "{} count lines while paused for {PAUSED_MS} ms",
            after - before
        ),
    )?;
    let resumed = session.wait_until(RUN_TIMEOUT_MS, |s| counted(s, domid) >= after + 2);
    ensure(
        resumed,
        format_args!("no count lines after unpausing d{domid}"),
    )
}

/// The hypervisor counts `want` pages for `domid`.
fn tot_pages_are(domid: DomId, want: u64) -> Outcome {
    let state = control::getdomaininfo(domid)
        .map_err(|e| Detail::new(format_args!("getdomaininfo: {}", Ret(e))))?;
    ensure(
        state.tot_pages == want,
        format_args!("d{domid} has {} pages, want {want}", state.tot_pages),
    )
}

/// The scenario's checks, in order; each runs only if the ones before passed.
pub fn checks(report: &mut Report) {
    let Some((mut session, mut domu)) = session_with_domu(report, "shell", "domu=shell") else {
        return;
    };
    let domid = domu.domid;
    kprintln!("shell: built d{} with {} pages", domid, domu.nr_pages);
    for needle in [READY, UPTIME, MEM, BUSY, BALLOON, COUNT, POWERING_OFF] {
        domu.console.watch(needle);
    }
    let started = domu.start();
    let added = session.add(domu).and_then(|()| {
        ensure(
            started == 0,
            format_args!("unpausedomain returned {}", Ret(started)),
        )
    });
    if step(report, "shell.unpause", added).is_none() {
        return;
    }
    let ready = session.wait_until(RUN_TIMEOUT_MS, |s| {
        s.domu(domid).is_some_and(|d| d.console.count(READY) > 0)
    });
    let ready = ensure(ready, format_args!("no `{READY}` line from d{domid}"));
    if step(report, "shell.ready", ready).is_none() {
        return;
    }
    let typed = [
        ("shell.uptime", "uptime", UPTIME, 1, None),
        ("shell.mem", "mem", MEM, 1, None),
        ("shell.busy", "busy 1", BUSY, 1, None),
        ("shell.balloon_down", "balloon 4096", BALLOON, 1, Some(1024)),
        (
            "shell.balloon_up",
            "balloon 8192",
            BALLOON,
            2,
            Some(DOMU_PAGES),
        ),
        ("shell.count", "count", COUNT, 2, None),
    ];
    for (name, line, needle, times, tot_pages) in typed {
        let outcome = type_and_see(&mut session, domid, line, needle, times)
            .and_then(|()| tot_pages.map_or(Ok(()), |want| tot_pages_are(domid, want)));
        if step(report, name, outcome).is_none() {
            return;
        }
    }
    let paused = count_stops_while_paused(&mut session, domid);
    if step(report, "shell.count_stops_while_paused", paused).is_none() {
        return;
    }
    let outcome = type_and_see(&mut session, domid, "shutdown", POWERING_OFF, 1);
    if step(report, "shell.shutdown_command", outcome).is_none() {
        return;
    }
    let Some(state) = step(
        report,
        "shell.shutdown",
        session.wait_for_shutdown(domid, RUN_TIMEOUT_MS),
    ) else {
        return;
    };
    let code = state.shutdown.unwrap_or(u32::MAX);
    let reason = ensure(
        code == ShutdownReason::Poweroff as u32,
        format_args!("shutdown code {} ({})", code, shutdown_name(code)),
    );
    step(report, "shell.shutdown_reason_poweroff", reason);
    step(
        report,
        "shell.destroy",
        session.destroy(domid, DESTROY_TIMEOUT_MS),
    );
}
