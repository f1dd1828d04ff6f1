//! The scheduler's bookkeeping for one domain and one vCPU: credits, flags, CPU time used.

use alloc::vec::Vec;

use hypercall_abi::domid::DomId;

use super::params::{CREDITS_PER_MSEC, DomParams, NS_PER_MS};
use super::priority::Priority;

/// Names one vCPU: its domain and its number in the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VcpuRef {
    /// The domain.
    pub domid: DomId,
    /// The vCPU number within the domain.
    pub vcpu: u32,
}

impl VcpuRef {
    /// vCPU `vcpu` of domain `domid`.
    pub const fn new(domid: DomId, vcpu: u32) -> Self {
        VcpuRef { domid, vcpu }
    }
}

/// What the scheduler keeps about one vCPU (Xen's `struct csched_unit` plus run time).
#[derive(Clone, Debug)]
pub struct SchedVcpu {
    /// The vCPU number.
    pub id: u32,
    /// Credits left; negative once it has run more than it was given.
    pub credit: i64,
    /// Run time not yet turned into a whole credit, in units of 1/10 ns.
    pub residual: u64,
    /// Current priority.
    pub pri: Priority,
    /// The caller says it can run (woken, not blocked or paused).
    pub runnable: bool,
    /// Held back by its domain's cap until its credits come back to zero.
    pub parked: bool,
    /// `parked` changed in the last accounting: the run queues must catch up.
    pub park_changed: bool,
    /// Asked to yield; cleared at its next schedule.
    pub yielding: bool,
    /// On the active list: earns credits at each accounting.
    pub active: bool,
    /// The physical CPU whose run queue it belongs to.
    pub cpu: usize,
    /// Waiting in `cpu`'s run queue.
    pub on_runq: bool,
    /// Run time is counted (and credits burnt) up to this instant.
    pub charged_to: u64,
    /// When it last started running (for the rate limit).
    pub ran_since: u64,
    /// Total time it has run, in ns.
    pub runtime_ns: u64,
}

impl SchedVcpu {
    /// A new vCPU on `cpu`: not runnable, no credits, UNDER.
    pub fn new(id: u32, cpu: usize) -> Self {
        SchedVcpu {
            id,
            credit: 0,
            residual: 0,
            pri: Priority::Under,
            runnable: false,
            parked: false,
            park_changed: false,
            yielding: false,
            active: false,
            cpu,
            on_runq: false,
            charged_to: 0,
            ran_since: 0,
            runtime_ns: 0,
        }
    }

    /// May the scheduler pick it?
    pub fn eligible(&self) -> bool {
        self.runnable && !self.parked
    }

    /// Counts the time it has run up to `now` (it is running): run time grows and credits
    /// burn at 10 per ms, with the remainder kept for next time (Xen's `burn_credits`).
    pub fn charge(&mut self, now: u64) {
        let delta = now.saturating_sub(self.charged_to);
        self.charged_to = self.charged_to.max(now);
        self.runtime_ns = self.runtime_ns.saturating_add(delta);
        let val = delta
            .saturating_mul(CREDITS_PER_MSEC)
            .saturating_add(self.residual);
        self.residual = val % NS_PER_MS;
        let burnt = i64::try_from(val / NS_PER_MS).unwrap_or(i64::MAX);
        self.credit = self.credit.saturating_sub(burnt);
    }

    /// Starts a run at `now`.
    pub fn start_running(&mut self, now: u64) {
        self.ran_since = now;
        self.charged_to = now;
    }

    /// Run time up to `now`, counting the current run when `running`.
    pub fn runtime_at(&self, now: u64, running: bool) -> u64 {
        if running {
            self.runtime_ns
                .saturating_add(now.saturating_sub(self.charged_to))
        } else {
            self.runtime_ns
        }
    }
}

/// What the scheduler keeps about one domain (Xen's `struct csched_dom` plus run time).
#[derive(Clone, Debug)]
pub struct SchedDom {
    /// The domain id.
    pub domid: DomId,
    /// Weight and cap.
    pub params: DomParams,
    /// Its vCPUs, sorted by number.
    pub vcpus: Vec<SchedVcpu>,
    /// How many of its vCPUs are on the active list.
    pub active_count: u32,
    /// Run time of vCPUs already removed, in ns.
    pub retired_ns: u64,
}

impl SchedDom {
    /// A domain with no vCPUs.
    pub fn new(domid: DomId, params: DomParams) -> Self {
        SchedDom {
            domid,
            params,
            vcpus: Vec::new(),
            active_count: 0,
            retired_ns: 0,
        }
    }

    /// Index of vCPU `id` in `vcpus`, or where it would go.
    pub fn vcpu_slot(&self, id: u32) -> Result<usize, usize> {
        self.vcpus.binary_search_by_key(&id, |v| v.id)
    }

    /// vCPU `id`.
    pub fn vcpu(&self, id: u32) -> Option<&SchedVcpu> {
        self.vcpu_slot(id).ok().and_then(|i| self.vcpus.get(i))
    }

    /// vCPU `id`, to change.
    pub fn vcpu_mut(&mut self, id: u32) -> Option<&mut SchedVcpu> {
        let i = self.vcpu_slot(id).ok()?;
        self.vcpus.get_mut(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_burns_ten_credits_per_ms_and_keeps_the_remainder() {
        let mut v = SchedVcpu::new(0, 0);
        v.start_running(1_000);
        v.charge(1_000 + 150_000); // 1.5 credits
        assert_eq!(v.credit, -1);
        assert_eq!(v.runtime_ns, 150_000);
        v.charge(1_000 + 200_000); // 0.5 more: the halves add up
        assert_eq!(v.credit, -2);
        assert_eq!(v.residual, 0);
        v.charge(1_000 + 30_200_000); // 30 ms more
        assert_eq!(v.credit, -302);
        assert_eq!(v.runtime_ns, 30_200_000);
        // Time going backwards charges nothing.
        v.charge(5);
        assert_eq!(v.credit, -302);
        assert_eq!(v.runtime_at(30_201_000 + 500, true), 30_200_500);
        assert_eq!(v.runtime_at(30_201_000 + 500, false), 30_200_000);
    }

    #[test]
    fn new_vcpu_waits_for_a_wake() {
        let v = SchedVcpu::new(3, 1);
        assert!(!v.eligible());
        assert_eq!(v.pri, Priority::Under);
        let mut d = SchedDom::new(7, DomParams::default());
        d.vcpus.push(SchedVcpu::new(1, 0));
        d.vcpus.push(SchedVcpu::new(4, 0));
        assert_eq!(d.vcpu_slot(4), Ok(1));
        assert_eq!(d.vcpu_slot(2), Err(1));
        assert!(d.vcpu(5).is_none());
        assert_eq!(d.vcpu_mut(1).map(|v| v.id), Some(1));
    }
}
