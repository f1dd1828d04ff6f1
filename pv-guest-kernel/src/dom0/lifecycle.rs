//! domains=lifecycle: build a DomU, see its console output, wait for its poweroff, destroy it.

use hypercall_abi::sched::ShutdownReason;

use dom0_tools::domain_info::shutdown_name;

use super::control;
use super::scenario::{
    DESTROY_TIMEOUT_MS, DOMU_PAGES, RUN_TIMEOUT_MS, ensure, session_with_domu, step,
};
use crate::console::kprintln;
use crate::selftest::report::{Detail, Report, Ret};

/// The line the hello DomU ends with.
const HELLO_DONE: &str = "hello: done";

/// The scenario's checks, in order; each runs only if the ones before passed.
pub fn checks(report: &mut Report) {
    let Some((mut session, mut domu)) = session_with_domu(report, "lifecycle", "domu=hello") else {
        return;
    };
    let domid = domu.domid;
    kprintln!("lifecycle: built d{} with {} pages", domid, domu.nr_pages);
    let paused = control::getdomaininfo(domid)
        .map_err(|e| Detail::new(format_args!("getdomaininfo: {}", Ret(e))))
        .and_then(|s| {
            ensure(
                s.paused && s.shutdown.is_none() && s.tot_pages == DOMU_PAGES,
                format_args!(
                    "paused {} shutdown {:?} tot_pages {} (want paused, running, {})",
                    s.paused, s.shutdown, s.tot_pages, DOMU_PAGES
                ),
            )
        });
    if step(report, "lifecycle.built_paused", paused).is_none() {
        return;
    }
    domu.console.watch(HELLO_DONE);
    // Counted from before the start: the notification may arrive while we wait for output.
    let seen_before = session.dom_exc_seen();
    let started = domu.start();
    let added = session.add(domu);
    let started = added.and_then(|()| {
        ensure(
            started == 0,
            format_args!("unpausedomain returned {started}"),
        )
    });
    if step(report, "lifecycle.unpause", started).is_none() {
        return;
    }
    let said_hello = session.wait_until(RUN_TIMEOUT_MS, |s| {
        s.domu(domid)
            .is_some_and(|d| d.console.count(HELLO_DONE) > 0)
    });
    let output = ensure(
        said_hello,
        format_args!("no `{HELLO_DONE}` line from d{domid} on its console"),
    );
    if step(report, "lifecycle.console_output", output).is_none() {
        return;
    }
    let Some(state) = step(
        report,
        "lifecycle.shutdown",
        session.wait_for_shutdown(domid, RUN_TIMEOUT_MS),
    ) else {
        return;
    };
    let code = state.shutdown.unwrap_or(u32::MAX);
    let reason = ensure(
        code == ShutdownReason::Poweroff as u32,
        format_args!("shutdown code {} ({})", code, shutdown_name(code)),
    );
    step(report, "lifecycle.shutdown_reason_poweroff", reason);
    let told = session.wait_until(RUN_TIMEOUT_MS, |s| s.dom_exc_seen() > seen_before);
    step(
        report,
        "lifecycle.virq_dom_exc",
        ensure(told, format_args!("VIRQ_DOM_EXC never fired")),
    );
    step(
        report,
        "lifecycle.destroy",
        session.destroy(domid, DESTROY_TIMEOUT_MS),
    );
}
