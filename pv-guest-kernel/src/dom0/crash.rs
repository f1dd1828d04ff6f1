//! domains=crash: a DomU faults with no handler while another runs; Dom0 is told, destroys it, the other runs on.

use hypercall_abi::domid::DomId;
use hypercall_abi::sched::ShutdownReason;

use dom0_tools::domain_info::shutdown_name;

use super::builder::{self, DomuSpec};
use super::control;
use super::scenario::{DESTROY_TIMEOUT_MS, DOMU_PAGES, RUN_TIMEOUT_MS, domu_image, ensure, step};
use super::session::Session;
use crate::console::kprintln;
use crate::selftest::report::{Detail, Report, Ret};

/// The healthy DomU's lines: once started, once per tick, once told to stop.
const RUNNING: &str = "ticker: running";
const TICK: &str = "ticker: tick";
const STOPPING: &str = "ticker: stopping";

fn build_and_start(
    session: &mut Session,
    image: &[u8],
    cmdline: &str,
    serial: u32,
    watch: &[&'static str],
) -> Result<DomId, Detail> {
    let spec = DomuSpec {
        nr_pages: DOMU_PAGES,
        cmdline,
        ramdisk: &[],
        max_memkb: 0,
        xenstore: false,
        serial,
    };
    let mut domu =
        builder::build(image, &spec).map_err(|e| Detail::new(format_args!("{cmdline}: {e}")))?;
    for w in watch {
        domu.console.watch(w);
    }
    let domid = domu.domid;
    let ret = domu.start();
    session.add(domu)?;
    ensure(
        ret == 0,
        format_args!("unpausedomain(d{domid}) returned {}", Ret(ret)),
    )?;
    kprintln!("crash: started d{} with `{}`", domid, cmdline);
    Ok(domid)
}

fn count(session: &mut Session, domid: DomId, what: &str) -> u32 {
    session.domu(domid).map_or(0, |d| d.console.count(what))
}

/// The scenario's checks, in order; each runs only if the ones before passed.
pub fn checks(report: &mut Report) {
    let Some(mut session) = step(report, "crash.session", Session::start()) else {
        return;
    };
    let Some(image) = step(report, "crash.image", domu_image()) else {
        return;
    };

    // The healthy DomU: ticks until told to stop.
    let healthy = build_and_start(
        &mut session,
        image,
        "domu=ticker",
        1,
        &[RUNNING, TICK, STOPPING],
    );
    let Some(healthy) = step(report, "crash.healthy_built", healthy) else {
        return;
    };
    let running = session.wait_until(RUN_TIMEOUT_MS, |s| count(s, healthy, RUNNING) > 0);
    let running = ensure(running, format_args!("d{healthy} never said `{RUNNING}`"));
    if step(report, "crash.healthy_running", running).is_none() {
        return;
    }

    // The faulty DomU: reads an unmapped address with no trap table.
    let seen_before = session.dom_exc_seen();
    let faulty = build_and_start(&mut session, image, "fault=nohandler", 2, &[]);
    let Some(faulty) = step(report, "crash.faulty_built", faulty) else {
        return;
    };
    let Some(state) = step(
        report,
        "crash.faulty_shut_down",
        session.wait_for_shutdown(faulty, RUN_TIMEOUT_MS),
    ) else {
        return;
    };
    let code = state.shutdown.unwrap_or(u32::MAX);
    let reason = ensure(
        code == ShutdownReason::Crash as u32,
        format_args!(
            "shutdown code {} ({}), want crash",
            code,
            shutdown_name(code)
        ),
    );
    step(report, "crash.reason_crash", reason);
    let told = session.wait_until(RUN_TIMEOUT_MS, |s| s.dom_exc_seen() > seen_before);
    step(
        report,
        "crash.virq_dom_exc",
        ensure(told, format_args!("VIRQ_DOM_EXC never fired")),
    );
    let alive = match control::getdomaininfo(healthy) {
        Ok(s) => ensure(
            s.shutdown.is_none() && !s.dying,
            format_args!("d{healthy}: shutdown {:?} dying {}", s.shutdown, s.dying),
        ),
        Err(e) => Err(Detail::new(format_args!(
            "getdomaininfo(d{healthy}) returned {}",
            Ret(e)
        ))),
    };
    if step(report, "crash.healthy_unaffected", alive).is_none() {
        return;
    }
    if step(
        report,
        "crash.faulty_destroyed",
        session.destroy(faulty, DESTROY_TIMEOUT_MS),
    )
    .is_none()
    {
        return;
    }

    // The healthy DomU still makes progress, and still answers.
    let ticks = count(&mut session, healthy, TICK);
    let progressed = session.wait_until(RUN_TIMEOUT_MS, |s| count(s, healthy, TICK) > ticks);
    let progressed = ensure(
        progressed,
        format_args!("d{healthy} printed no tick after d{faulty} was destroyed"),
    );
    if step(report, "crash.healthy_kept_running", progressed).is_none() {
        return;
    }
    let sent = session
        .domu(healthy)
        .is_some_and(|d| d.console.send(b"stop\n"));
    if step(
        report,
        "crash.healthy_told_to_stop",
        ensure(
            sent,
            format_args!("could not write to d{healthy}'s console input"),
        ),
    )
    .is_none()
    {
        return;
    }
    let Some(state) = step(
        report,
        "crash.healthy_shut_down",
        session.wait_for_shutdown(healthy, RUN_TIMEOUT_MS),
    ) else {
        return;
    };
    let code = state.shutdown.unwrap_or(u32::MAX);
    let stopped = ensure(
        code == ShutdownReason::Poweroff as u32 && count(&mut session, healthy, STOPPING) > 0,
        format_args!(
            "shutdown code {} ({}), `{}` lines {}",
            code,
            shutdown_name(code),
            STOPPING,
            count(&mut session, healthy, STOPPING)
        ),
    );
    step(report, "crash.healthy_poweroff", stopped);
    step(
        report,
        "crash.healthy_destroyed",
        session.destroy(healthy, DESTROY_TIMEOUT_MS),
    );
}
