//! Dom0 waiting for news: VIRQ_DOM_EXC and console notifications, with sched_op poll and a timeout.

use hypercall_abi::event_channel::{EvtchnPort, VIRQ_DOM_EXC};

use crate::arch::x86_64::{shared_events, toolstack_calls, xen};

/// Most ports waited on at once (VIRQ_DOM_EXC included).
const MAX_PORTS: usize = 64;

/// Our VIRQ_DOM_EXC binding, and how often it fired.
pub struct Events {
    dom_exc: EvtchnPort,
    /// VIRQ_DOM_EXC notifications seen (a domain shut down, or finished dying).
    pub dom_exc_seen: u32,
}

impl Events {
    /// Maps our shared_info (for the pending bits and the time) and binds VIRQ_DOM_EXC on
    /// vCPU 0. On failure, says which step.
    pub fn bind() -> Result<Events, (&'static str, i64)> {
        match shared_events::map() {
            0 => {}
            e => return Err(("map our shared_info", e)),
        }
        let dom_exc = toolstack_calls::evtchn_bind_virq(VIRQ_DOM_EXC, 0)
            .map_err(|e| ("bind_virq(VIRQ_DOM_EXC)", e))?;
        Ok(Events {
            dom_exc,
            dom_exc_seen: 0,
        })
    }

    /// Clears the pending bits of `ports` and VIRQ_DOM_EXC; whether any was set.
    fn take(&mut self, ports: &[EvtchnPort]) -> bool {
        let mut any = false;
        if shared_events::take_pending(self.dom_exc) {
            self.dom_exc_seen += 1;
            any = true;
        }
        for &port in ports {
            any |= shared_events::take_pending(port);
        }
        any
    }

    /// Returns once VIRQ_DOM_EXC or one of `ports` fired (or had fired since the last call),
    /// or after `max_ns` of system time. Where the hypervisor cannot poll (or we cannot read
    /// the time), a yield stands in for the wait.
    pub fn wait(&mut self, ports: &[EvtchnPort], max_ns: u64) {
        if self.take(ports) {
            return;
        }
        let mut all: heapless::Vec<EvtchnPort, MAX_PORTS> = heapless::Vec::new();
        let _ = all.push(self.dom_exc);
        for &port in ports {
            let _ = all.push(port);
        }
        let polled = match shared_events::system_time_ns() {
            Some(now) => toolstack_calls::sched_poll(&all, now.saturating_add(max_ns)) == 0,
            None => false,
        };
        if !polled {
            let _ = xen::sched_yield();
        }
        self.take(ports);
    }
}
