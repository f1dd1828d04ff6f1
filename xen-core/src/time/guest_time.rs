//! What xen-core keeps about one vCPU's time: its timers, its runstate, its published records.

use super::poll::PollWait;
use super::runstate::{RunState, Runstate};
use super::seqlock::SeqWriter;
use super::vcpu_timers::VcpuTimers;

/// The time state of one vCPU (xen-core's domains have one: it lives in `Domain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestTime {
    /// The one-shot, periodic and poll timers.
    pub timers: VcpuTimers,
    /// Run state and time spent in each.
    pub runstate: Runstate,
    /// Guest virtual address of the runstate copy the guest registered
    /// (VCPUOP_register_runstate_memory_area), if any.
    pub runstate_area: Option<u64>,
    /// Version counter of `vcpu_info.time`.
    pub time_version: SeqWriter,
    /// Version counter of the shared_info wall clock (`wc_version`).
    pub wallclock_version: SeqWriter,
    /// What the vCPU waits for while it polls (SCHEDOP_poll), if it does.
    pub poll: Option<PollWait>,
}

impl GuestTime {
    /// A new vCPU at system time `now`: offline (as Xen creates it, until it first runs),
    /// with the default timers and nothing published yet.
    pub const fn new(now: u64) -> Self {
        GuestTime {
            poll: None,
            timers: VcpuTimers::new(),
            runstate: Runstate::new(RunState::Offline, now),
            runstate_area: None,
            time_version: SeqWriter::new(),
            wallclock_version: SeqWriter::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::vcpu_timers::DEFAULT_PERIOD_NS;

    #[test]
    fn a_new_vcpu_is_offline_with_the_default_tick() {
        let t = GuestTime::new(42);
        assert_eq!(t.runstate.state(), RunState::Offline);
        assert_eq!(t.runstate.record().state_entry_time, 42);
        assert_eq!(t.timers.period(), DEFAULT_PERIOD_NS);
        assert_eq!(t.timers.singleshot(), None);
        assert_eq!(t.runstate_area, None);
        assert_eq!(t.time_version.version(), 0);
        assert_eq!(t.wallclock_version.version(), 0);
    }
}
