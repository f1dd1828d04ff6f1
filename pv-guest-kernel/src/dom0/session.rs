//! A toolstack session: the DomUs Dom0 runs, their consoles pumped while waiting for their news.

use alloc::vec::Vec;

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;

use dom0_tools::domain_info::DomainState;

use super::builder::Domu;
use super::control;
use super::events::Events;
use crate::arch::x86_64::shared_events;
use crate::selftest::report::{Detail, Ret};

/// Nanoseconds in a millisecond.
const MS: u64 = 1_000_000;
/// How long one wait lasts before the consoles are looked at again anyway.
const TICK_NS: u64 = 20 * MS;

/// The running DomUs and our event source.
pub struct Session {
    events: Events,
    domus: Vec<Domu>,
}

impl Session {
    /// Binds VIRQ_DOM_EXC (and maps our shared_info for waiting).
    pub fn start() -> Result<Session, Detail> {
        let events = Events::bind()
            .map_err(|(what, e)| Detail::new(format_args!("{}: {}", what, Ret(e))))?;
        Ok(Session {
            events,
            domus: Vec::new(),
        })
    }

    /// Takes `domu` into the session (its console is pumped from now on).
    pub fn add(&mut self, domu: Domu) -> Result<(), Detail> {
        self.domus
            .try_reserve(1)
            .map_err(|_| Detail::new(format_args!("no memory for another DomU")))?;
        self.domus.push(domu);
        Ok(())
    }

    /// The DomU `domid`, if the session holds it.
    pub fn domu(&mut self, domid: DomId) -> Option<&mut Domu> {
        self.domus.iter_mut().find(|d| d.domid == domid)
    }

    /// VIRQ_DOM_EXC notifications seen so far.
    pub fn dom_exc_seen(&self) -> u32 {
        self.events.dom_exc_seen
    }

    /// Prints what every DomU wrote since the last call.
    pub fn drain(&mut self) {
        for d in &mut self.domus {
            d.console.drain();
        }
    }

    fn ports(&self) -> heapless::Vec<EvtchnPort, 8> {
        self.domus
            .iter()
            .filter_map(|d| d.console.local_port())
            .take(8)
            .collect()
    }

    /// Pumps the consoles and waits for news until `done` holds (true) or `timeout_ms` of
    /// system time pass (false). `done` sees the session after each pump.
    pub fn wait_until(
        &mut self,
        timeout_ms: u64,
        mut done: impl FnMut(&mut Session) -> bool,
    ) -> bool {
        let start = shared_events::system_time_ns();
        // A missing or stuck clock must not wait forever: four waits count as a millisecond
        // at least (each is a poll of up to one tick, or a yield).
        let mut rounds = 0u64;
        loop {
            self.drain();
            if done(self) {
                return true;
            }
            let clock_ms = match (start, shared_events::system_time_ns()) {
                (Some(s), Some(now)) => now.saturating_sub(s) / MS,
                _ => 0,
            };
            let elapsed_ms = clock_ms.max(rounds / 4);
            rounds += 1;
            if elapsed_ms > timeout_ms {
                return false;
            }
            let ports = self.ports();
            self.events.wait(&ports, TICK_NS);
        }
    }

    /// Waits until `domid` has shut down; its state then, or why not.
    pub fn wait_for_shutdown(
        &mut self,
        domid: DomId,
        timeout_ms: u64,
    ) -> Result<DomainState, Detail> {
        let mut last = Err(Errno::Srch.to_ret());
        let shut = self.wait_until(timeout_ms, |_| {
            last = control::getdomaininfo(domid);
            matches!(
                last,
                Ok(DomainState {
                    shutdown: Some(_),
                    ..
                })
            )
        });
        match last {
            Ok(state) if shut => Ok(state),
            Ok(state) => Err(Detail::new(format_args!(
                "d{} did not shut down within {} ms (paused {}, blocked {}, running {})",
                domid, timeout_ms, state.paused, state.blocked, state.running
            ))),
            Err(e) => Err(Detail::new(format_args!(
                "getdomaininfo(d{}) returned {}",
                domid,
                Ret(e)
            ))),
        }
    }

    /// Destroys `domid` as the toolstack does: its last console output, our mapping of its
    /// ring and our port closed, destroydomain, and then it must vanish (getdomaininfo
    /// -ESRCH) within `timeout_ms`.
    pub fn destroy(&mut self, domid: DomId, timeout_ms: u64) -> Result<(), Detail> {
        if let Some(at) = self.domus.iter().position(|d| d.domid == domid) {
            let mut domu = self.domus.remove(at);
            domu.console.disconnect();
        }
        let ret = control::destroy(domid);
        if ret != 0 {
            return Err(Detail::new(format_args!(
                "destroydomain(d{}) returned {}",
                domid,
                Ret(ret)
            )));
        }
        let mut last = Ok(());
        let gone = self.wait_until(timeout_ms, |_| match control::getdomaininfo(domid) {
            Err(e) if e == Errno::Srch.to_ret() => true,
            Err(e) => {
                last = Err(e);
                false
            }
            Ok(_) => false,
        });
        match (gone, last) {
            (true, _) => Ok(()),
            (false, Err(e)) => Err(Detail::new(format_args!(
                "getdomaininfo(d{}) after destroy returned {}",
                domid,
                Ret(e)
            ))),
            (false, Ok(())) => Err(Detail::new(format_args!(
                "d{} still exists {} ms after destroydomain",
                domid, timeout_ms
            ))),
        }
    }
}
