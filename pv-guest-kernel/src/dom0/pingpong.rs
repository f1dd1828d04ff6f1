//! domains=pingpong: two DomUs ping-pong over an interdomain event channel and share pages by grant map and grant copy; a mapped grant's frame outlives its owner giving it back, and its owner's destruction.
// Dom0 builds the granter and the mapper (paused), allocates a port of the granter's that the
// mapper may bind (the control domain may), and tells each its peer and that port on its
// console (the command line, written at build time, cannot carry the other's id). The DomUs
// run the exchange (domu/pong.rs) and report each check on their consoles; Dom0 turns those
// lines and their shutdown codes into its own checks. The granter powers off while the mapper
// still maps a page of its: destroyed, it must stay (dying) until the mapper, told to, lets go.
// Then the mapper is destroyed, and the free page count must be the one Dom0 started with.

use alloc::format;
use alloc::string::ToString;

use dom0_tools::domain_info::shutdown_name;
use dom0_tools::pingpong_params::{CmdlineWords, PeerLink, RELEASE_LINE, Role};
use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::GrantRef;
use hypercall_abi::sched::ShutdownReason;

use super::builder::{self, DomuSpec};
use super::churn::SETTLE_TIMEOUT_MS;
use super::control;
use super::scenario::{DESTROY_TIMEOUT_MS, DOMU_PAGES, RUN_TIMEOUT_MS, domu_image, ensure, step};
use super::session::Session;
use crate::arch::x86_64::toolstack_calls;
use crate::console::kprintln;
use crate::domu::pong::{GRANTER_CHECKS, GRANTER_DONE, MAPPER_CHECKS, MAPPER_DONE};
use crate::selftest::report::{Detail, Report, Ret};

/// The granter's grant reference for the shared page (the next one is the held page's).
const GREF: GrantRef = 8;
/// How long a destroyed granter must stay while the mapper holds its page.
const LINGER_MS: u64 = 1_000;

fn free_pages() -> Result<u64, Detail> {
    control::free_pages().map_err(|e| Detail::new(format_args!("physinfo returned {}", Ret(e))))
}

/// Builds the DomU playing `role` (paused), watching for its check lines and `done`.
fn build(
    session: &mut Session,
    image: &[u8],
    role: Role,
    serial: u32,
    checks: &[(&'static str, &'static str)],
    done: &'static str,
) -> Result<DomId, Detail> {
    let cmdline = format!("domu=pong {}", CmdlineWords { role, gref: GREF });
    let spec = DomuSpec {
        nr_pages: DOMU_PAGES,
        cmdline: &cmdline,
        ramdisk: &[],
        max_memkb: 0,
        xenstore: false,
        serial,
    };
    let mut domu =
        builder::build(image, &spec).map_err(|e| Detail::new(format_args!("{cmdline}: {e}")))?;
    for &(_, needle) in checks {
        domu.console.watch(needle);
    }
    domu.console.watch(done);
    let domid = domu.domid;
    session.add(domu)?;
    kprintln!("pingpong: built d{} with `{}`", domid, cmdline);
    Ok(domid)
}

/// Sends `line` on `domid`'s console input.
fn tell(session: &mut Session, domid: DomId, line: &str) -> Result<(), Detail> {
    let sent = session
        .domu(domid)
        .is_some_and(|d| d.console.send(line.as_bytes()));
    ensure(
        sent,
        format_args!(
            "could not write `{}` to d{domid}'s console",
            line.trim_end()
        ),
    )
}

/// Destroys the granter (its console disconnected first, so that nothing of Dom0's maps it)
/// while the mapper holds a page of its: it must still be there, dying, `LINGER_MS` later.
fn destroy_while_mapped(
    session: &mut Session,
    granter: DomId,
    mapper: DomId,
) -> Result<(), Detail> {
    if session.destroy(granter, LINGER_MS).is_ok() {
        return Err(Detail::new(format_args!(
            "d{granter} vanished while d{mapper} still maps its page"
        )));
    }
    match control::getdomaininfo(granter) {
        Ok(s) => ensure(
            s.dying,
            format_args!("d{granter} is not dying after destroydomain"),
        ),
        Err(e) => Err(Detail::new(format_args!(
            "getdomaininfo(d{granter}) returned {}",
            Ret(e)
        ))),
    }
}

/// Waits until `domid` is gone (getdomaininfo says -ESRCH).
fn gone(session: &mut Session, domid: DomId) -> Result<(), Detail> {
    let vanished = session.wait_until(DESTROY_TIMEOUT_MS, |_| {
        control::getdomaininfo(domid) == Err(Errno::Srch.to_ret())
    });
    ensure(
        vanished,
        format_args!(
            "d{domid} still exists {DESTROY_TIMEOUT_MS} ms after its last page was unmapped"
        ),
    )
}

fn start(domid: DomId) -> Result<(), Detail> {
    let ret = control::unpause(domid);
    ensure(
        ret == 0,
        format_args!("unpausedomain(d{domid}) returned {}", Ret(ret)),
    )
}

fn count(session: &mut Session, domid: DomId, needle: &str) -> u32 {
    session.domu(domid).map_or(0, |d| d.console.count(needle))
}

/// Dom0's checks for one DomU: each of its check lines seen, its last line, a poweroff.
fn verdicts(
    report: &mut Report,
    session: &mut Session,
    domid: DomId,
    checks: &[(&'static str, &'static str)],
    done: &'static str,
) {
    let state = session.wait_for_shutdown(domid, RUN_TIMEOUT_MS);
    for &(name, needle) in checks {
        let seen = count(session, domid, needle) > 0;
        report.check(
            &format!("pingpong.{name}"),
            ensure(
                seen,
                format_args!("d{domid} did not report `{needle}` (its lines are above)"),
            ),
        );
    }
    let seen = count(session, domid, done) > 0;
    let role = checks
        .first()
        .map_or("", |(name, _)| name.split('.').next().unwrap_or_default());
    let outcome = state.and_then(|s| {
        let code = s.shutdown.unwrap_or(u32::MAX);
        ensure(
            code == ShutdownReason::Poweroff as u32 && seen,
            format_args!(
                "d{domid} shut down with {} ({}), `{done}` lines {}",
                code,
                shutdown_name(code),
                u32::from(seen)
            ),
        )
    });
    report.check(&format!("pingpong.{role}.poweroff"), outcome);
}

/// The scenario's checks, in order; each runs only if the ones it needs passed.
pub fn checks(report: &mut Report) {
    let Some(mut session) = step(report, "pingpong.session", Session::start()) else {
        return;
    };
    let Some(image) = step(report, "pingpong.image", domu_image()) else {
        return;
    };
    let Some(before) = step(report, "pingpong.free_pages_before", free_pages()) else {
        return;
    };
    let granter = build(
        &mut session,
        image,
        Role::Granter,
        1,
        &GRANTER_CHECKS,
        GRANTER_DONE,
    );
    let Some(granter) = step(report, "pingpong.granter_built", granter) else {
        return;
    };
    let mapper = build(
        &mut session,
        image,
        Role::Mapper,
        2,
        &MAPPER_CHECKS,
        MAPPER_DONE,
    );
    let Some(mapper) = step(report, "pingpong.mapper_built", mapper) else {
        return;
    };
    let port = toolstack_calls::evtchn_alloc_unbound(granter, mapper).map_err(|e| {
        Detail::new(format_args!(
            "alloc_unbound(dom d{granter}, remote d{mapper}) returned {}",
            Ret(e)
        ))
    });
    let Some(port) = step(report, "pingpong.alloc_unbound", port) else {
        return;
    };
    kprintln!("pingpong: port {} of d{} is for d{}", port, granter, mapper);
    let to_granter = PeerLink { peer: mapper, port }.to_string();
    let to_mapper = PeerLink {
        peer: granter,
        port,
    }
    .to_string();
    let told = tell(&mut session, granter, &to_granter)
        .and_then(|()| tell(&mut session, mapper, &to_mapper));
    if step(report, "pingpong.linked", told).is_none() {
        return;
    }
    let started = start(granter).and_then(|()| start(mapper));
    if step(report, "pingpong.started", started).is_none() {
        return;
    }

    verdicts(report, &mut session, granter, &GRANTER_CHECKS, GRANTER_DONE);
    let lingered = destroy_while_mapped(&mut session, granter, mapper);
    step(report, "pingpong.granter_stays_while_mapped", lingered);
    // Whatever happened, the mapper is waiting for this.
    let released = tell(&mut session, mapper, RELEASE_LINE);
    if step(report, "pingpong.released", released).is_none() {
        return;
    }
    verdicts(report, &mut session, mapper, &MAPPER_CHECKS, MAPPER_DONE);
    let granter_gone = gone(&mut session, granter);
    step(report, "pingpong.granter_gone_after_unmap", granter_gone);
    let destroyed = session.destroy(mapper, DESTROY_TIMEOUT_MS);
    if step(report, "pingpong.mapper_destroyed", destroyed).is_none() {
        return;
    }

    let mut after = Err(Detail::new(format_args!("not read")));
    session.wait_until(SETTLE_TIMEOUT_MS, |_| {
        after = free_pages();
        matches!(after, Ok(n) if n == before)
    });
    let Some(after) = step(report, "pingpong.free_pages_after", after) else {
        return;
    };
    kprintln!("pingpong: free pages before {}, after {}", before, after);
    step(
        report,
        "pingpong.free_pages_back",
        ensure(
            after == before,
            format_args!(
                "free pages before {before}, after {after}: {} missing",
                before as i64 - after as i64
            ),
        ),
    );
}
