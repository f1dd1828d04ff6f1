//! A vCPU's runstate: which `RUNSTATE_*` it is in since when, and the time spent in each.
//!
//! Xen adds the time spent in the old state at every change (`vcpu_runstate_change`);
//! VCPUOP_get_runstate_info also counts the time since the last change (`vcpu_runstate_get`),
//! while a copy kept in guest memory (VCPUOP_register_runstate_memory_area) is the record as of
//! the last change.

use hypercall_abi::vcpu::{
    RUNSTATE_BLOCKED, RUNSTATE_OFFLINE, RUNSTATE_RUNNABLE, RUNSTATE_RUNNING, VcpuRunstateInfo,
};

/// A vCPU's run state, one of the four the ABI names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// On a CPU.
    Running,
    /// Ready, waiting for a CPU.
    Runnable,
    /// Waiting for an event (SCHEDOP_block, SCHEDOP_poll).
    Blocked,
    /// Down or paused.
    Offline,
}

impl RunState {
    /// The `RUNSTATE_*` value.
    pub const fn abi(self) -> i32 {
        match self {
            RunState::Running => RUNSTATE_RUNNING,
            RunState::Runnable => RUNSTATE_RUNNABLE,
            RunState::Blocked => RUNSTATE_BLOCKED,
            RunState::Offline => RUNSTATE_OFFLINE,
        }
    }

    fn index(self) -> usize {
        self.abi() as usize
    }
}

/// The record Xen keeps per vCPU (`struct vcpu_runstate_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Runstate {
    state: RunState,
    entry_time: u64,
    time: [u64; 4],
}

impl Runstate {
    /// A vCPU in `state` since `now`, with no time accounted yet.
    pub const fn new(state: RunState, now: u64) -> Self {
        Runstate {
            state,
            entry_time: now,
            time: [0; 4],
        }
    }

    /// The current state.
    pub fn state(&self) -> RunState {
        self.state
    }

    /// Moves to `state` at `now`, adding the time spent in the old one (none if the clock
    /// appears to go back). Changing to the same state just restarts its period, as in Xen.
    pub fn change(&mut self, state: RunState, now: u64) {
        let spent = now.saturating_sub(self.entry_time);
        let slot = &mut self.time[self.state.index()];
        *slot = slot.saturating_add(spent);
        self.state = state;
        self.entry_time = now;
    }

    /// The record as of the last change (what a registered runstate area holds).
    pub fn record(&self) -> VcpuRunstateInfo {
        VcpuRunstateInfo {
            state: self.state.abi(),
            pad: 0,
            state_entry_time: self.entry_time,
            time: self.time,
        }
    }

    /// The record at `now`: the current state's time includes the period since it began
    /// (VCPUOP_get_runstate_info).
    pub fn at(&self, now: u64) -> VcpuRunstateInfo {
        let mut info = self.record();
        let slot = &mut info.time[self.state.index()];
        *slot = slot.saturating_add(now.saturating_sub(self.entry_time));
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_values() {
        assert_eq!(RunState::Running.abi(), 0);
        assert_eq!(RunState::Runnable.abi(), 1);
        assert_eq!(RunState::Blocked.abi(), 2);
        assert_eq!(RunState::Offline.abi(), 3);
    }

    #[test]
    fn time_accumulates_per_state() {
        let mut r = Runstate::new(RunState::Offline, 100);
        r.change(RunState::Running, 150);
        r.change(RunState::Blocked, 400);
        r.change(RunState::Running, 1_400);
        let rec = r.record();
        assert_eq!(rec.state, 0);
        assert_eq!(rec.state_entry_time, 1_400);
        assert_eq!(rec.time, [250, 0, 1_000, 50]);
        // get_runstate_info counts the running period so far.
        let now = r.at(1_500);
        assert_eq!(now.time, [350, 0, 1_000, 50]);
        assert_eq!(now.state_entry_time, 1_400);
        // The record itself did not move.
        assert_eq!(r.record().time[0], 250);
        // Time totals equal the time since creation.
        assert_eq!(now.time.iter().sum::<u64>(), 1_500 - 100);
    }

    #[test]
    fn a_clock_going_back_adds_nothing() {
        let mut r = Runstate::new(RunState::Running, 1_000);
        r.change(RunState::Blocked, 900);
        assert_eq!(r.record().time, [0; 4]);
        assert_eq!(r.at(800).time, [0; 4]);
        r.change(RunState::Blocked, 1_000);
        assert_eq!(r.record().time[2], 100);
    }
}
