//! What the weights and cap scenarios share: spinning DomUs with credit parameters, a quiet sleep, CPU time over a window.
//!
//! Dom0 measures without competing for the CPU: while the window runs it blocks in one
//! SCHEDOP_poll on the spinners' console ports with the window's end as timeout (the spinners
//! print nothing then), so its own share is a few wake-ups. The window's length is Xen system
//! time (our vcpu_time_info), each domain's share its getdomaininfo `cpu_time` delta.

use hypercall_abi::domctl::XenDomctlSchedCredit;
use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;

use super::builder::{self, DomuSpec};
use super::control;
use super::scenario::{DESTROY_TIMEOUT_MS, DOMU_PAGES, RUN_TIMEOUT_MS, ensure};
use super::session::Session;
use crate::arch::x86_64::{shared_events, toolstack_calls};
use crate::selftest::report::{Detail, Ret};

/// Nanoseconds in a millisecond.
pub const MS: u64 = 1_000_000;
/// Time the spinners run before the window opens: the boot of the second one, the wake boost
/// and the first accountings are over by then.
pub const WARMUP_MS: u64 = 600;
/// The measuring window: 100 accounting periods of 30 ms.
pub const WINDOW_MS: u64 = 3_000;
/// The spinner's first line.
const RUNNING: &str = "spin: running";
/// The spinner's last line.
const STOPPING: &str = "spin: stopping";
/// Most domains measured at once.
pub const MAX_MEASURED: usize = 4;
/// How long the free page count may take to come back after the destroys.
const SETTLE_TIMEOUT_MS: u64 = 10_000;

/// Credit parameters: `weight` (0: leave it) and `cap` (percent of a CPU, 0: none).
pub fn credit(weight: u16, cap: u16) -> XenDomctlSchedCredit {
    XenDomctlSchedCredit { weight, cap }
}

/// The free page count (XEN_SYSCTL_physinfo).
pub fn free_pages() -> Result<u64, Detail> {
    control::free_pages().map_err(|e| Detail::new(format_args!("physinfo returned {}", Ret(e))))
}

/// Builds a `domu=spin` DomU (paused) into the session and gives it `params` with
/// scheduler_op putinfo.
pub fn build_spinner(
    session: &mut Session,
    image: &[u8],
    serial: u32,
    params: XenDomctlSchedCredit,
) -> Result<DomId, Detail> {
    let spec = DomuSpec {
        nr_pages: DOMU_PAGES,
        cmdline: "domu=spin",
        ramdisk: &[],
        max_memkb: 0,
        xenstore: false,
        serial,
    };
    let mut domu =
        builder::build(image, &spec).map_err(|e| Detail::new(format_args!("build: {e}")))?;
    domu.console.watch(RUNNING);
    domu.console.watch(STOPPING);
    let domid = domu.domid;
    session.add(domu)?;
    let ret = control::sched_credit_put(domid, params);
    ensure(
        ret == 0,
        format_args!("scheduler_op putinfo(d{domid}) returned {}", Ret(ret)),
    )?;
    Ok(domid)
}

/// scheduler_op getinfo of `domid` must read `want` back.
pub fn expect_params(domid: DomId, want: XenDomctlSchedCredit) -> Result<(), Detail> {
    let got = control::sched_credit_get(domid).map_err(|e| {
        Detail::new(format_args!(
            "scheduler_op getinfo(d{domid}) returned {}",
            Ret(e)
        ))
    })?;
    ensure(
        got == want,
        format_args!(
            "d{domid}: weight {} cap {}, want {} {}",
            got.weight, got.cap, want.weight, want.cap
        ),
    )
}

fn said(session: &mut Session, domid: DomId, what: &str) -> u32 {
    session.domu(domid).map_or(0, |d| d.console.count(what))
}

/// Unpauses each of `domids` and waits until every one of them spins.
pub fn start(session: &mut Session, domids: &[DomId]) -> Result<(), Detail> {
    for &domid in domids {
        let ret = control::unpause(domid);
        ensure(
            ret == 0,
            format_args!("unpausedomain(d{domid}) returned {}", Ret(ret)),
        )?;
    }
    let spinning = session.wait_until(RUN_TIMEOUT_MS, |s| {
        domids.iter().all(|&d| said(s, d, RUNNING) > 0)
    });
    ensure(spinning, format_args!("not every spinner said `{RUNNING}`"))
}

/// Xen system time now, in ns.
pub fn now_ns() -> Result<u64, Detail> {
    shared_events::system_time_ns()
        .ok_or_else(|| Detail::new(format_args!("no stable system time in vcpu_time_info")))
}

/// Blocks until system time reaches `until_ns`, woken early only by console output of
/// `domids` (which is printed, and the sleep resumed).
pub fn sleep_until(session: &mut Session, domids: &[DomId], until_ns: u64) -> Result<(), Detail> {
    let mut ports: heapless::Vec<EvtchnPort, MAX_MEASURED> = heapless::Vec::new();
    for &d in domids {
        if let Some(port) = session.domu(d).and_then(|u| u.console.local_port()) {
            let _ = ports.push(port);
        }
    }
    // Each poll ends at the deadline or on console output; a hypervisor that returns at once
    // every time must not make us spin for the whole window.
    for _ in 0..10_000 {
        session.drain();
        if now_ns()? >= until_ns {
            return Ok(());
        }
        let ret = toolstack_calls::sched_poll(&ports, until_ns);
        for &port in &ports {
            shared_events::take_pending(port);
        }
        ensure(
            ret == 0,
            format_args!("SCHEDOP_poll with a timeout returned {}", Ret(ret)),
        )?;
    }
    Err(Detail::new(format_args!(
        "10000 polls ended before the deadline"
    )))
}

/// CPU time of some domains at one instant.
#[derive(Clone, Debug)]
pub struct Sample {
    /// System time when the reads began, in ns.
    pub at_ns: u64,
    /// `cpu_time` of each domain, in the order asked, in ns.
    pub cpu_ns: heapless::Vec<u64, MAX_MEASURED>,
}

/// Reads `cpu_time` of every one of `domids`, stamped with the system time.
pub fn sample(domids: &[DomId]) -> Result<Sample, Detail> {
    let at_ns = now_ns()?;
    let mut cpu_ns = heapless::Vec::new();
    for &d in domids {
        let t = control::cpu_time_ns(d)
            .map_err(|e| Detail::new(format_args!("getdomaininfo(d{d}) returned {}", Ret(e))))?;
        cpu_ns
            .push(t)
            .map_err(|_| Detail::new(format_args!("more than {MAX_MEASURED} domains")))?;
    }
    Ok(Sample { at_ns, cpu_ns })
}

/// What a window measured: its length and each domain's CPU time in it, in ns.
#[derive(Clone, Debug)]
pub struct Window {
    /// System time from the first sample to the last.
    pub len_ns: u64,
    /// CPU time each domain got in between, in the order asked.
    pub ran_ns: heapless::Vec<u64, MAX_MEASURED>,
}

/// Lets the spinners run `WARMUP_MS`, then measures `domids` over `WINDOW_MS` while Dom0
/// sleeps (Dom0 may be one of `domids`, to show its share).
pub fn measure(
    session: &mut Session,
    spinners: &[DomId],
    domids: &[DomId],
) -> Result<Window, Detail> {
    sleep_until(session, spinners, now_ns()? + WARMUP_MS * MS)?;
    let first = sample(domids)?;
    sleep_until(session, spinners, first.at_ns + WINDOW_MS * MS)?;
    let last = sample(domids)?;
    let ran_ns = first
        .cpu_ns
        .iter()
        .zip(last.cpu_ns.iter())
        .map(|(a, b)| b.saturating_sub(*a))
        .collect();
    Ok(Window {
        len_ns: last.at_ns.saturating_sub(first.at_ns),
        ran_ns,
    })
}

/// Dom0's own CPU time in the window (`dom0_ns`) must stay below 1% of it: it sleeps, and
/// a sleep that did not block would distort the shares measured.
pub fn dom0_quiet(window: &Window, dom0_ns: u64) -> Result<(), Detail> {
    ensure(
        milli(dom0_ns, window.len_ns) < 10,
        format_args!(
            "Dom0 ran {} us of the {} ms window (want < 1%)",
            dom0_ns / 1000,
            window.len_ns / MS
        ),
    )
}

/// `num / den` in thousandths (0 when `den` is 0).
pub fn milli(num: u64, den: u64) -> u64 {
    if den == 0 {
        0
    } else {
        (u128::from(num) * 1000 / u128::from(den)) as u64
    }
}

/// Tells each spinner to stop, waits for its poweroff and destroys it.
pub fn stop_and_destroy(session: &mut Session, domids: &[DomId]) -> Result<(), Detail> {
    for &domid in domids {
        let sent = session
            .domu(domid)
            .is_some_and(|d| d.console.send(b"stop\n"));
        ensure(
            sent,
            format_args!("could not write to d{domid}'s console input"),
        )?;
    }
    for &domid in domids {
        let state = session.wait_for_shutdown(domid, RUN_TIMEOUT_MS)?;
        let stopped = said(session, domid, STOPPING) > 0;
        ensure(
            state.shutdown == Some(0) && stopped,
            format_args!(
                "d{domid}: shutdown {:?}, `{STOPPING}` lines {}",
                state.shutdown,
                said(session, domid, STOPPING)
            ),
        )?;
        session.destroy(domid, DESTROY_TIMEOUT_MS)?;
    }
    Ok(())
}

/// Waits until the free page count is `before` again.
pub fn free_pages_back(session: &mut Session, before: u64) -> Result<(), Detail> {
    let mut after = free_pages();
    session.wait_until(SETTLE_TIMEOUT_MS, |_| {
        after = free_pages();
        matches!(after, Ok(n) if n == before)
    });
    let after = after?;
    ensure(
        after == before,
        format_args!("free pages before {before}, after {after}"),
    )
}
