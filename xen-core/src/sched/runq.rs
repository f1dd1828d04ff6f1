//! A physical CPU's run queue: waiting vCPUs by priority, first come first served within one.
//!
//! The queue holds names only; priorities are looked up through the caller's function, since
//! accounting changes them while vCPUs wait (and `sort` then restores the order, as Xen's
//! `csched_runq_sort` does once per accounting period). The running vCPU is never queued and
//! the idle vCPU is implicit (an empty queue).

use alloc::vec::Vec;

use hypercall_abi::Errno;

use super::entity::VcpuRef;
use super::priority::Priority;

/// Waiting vCPUs, best first.
#[derive(Clone, Debug, Default)]
pub struct RunQueue {
    q: Vec<VcpuRef>,
}

impl RunQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        RunQueue { q: Vec::new() }
    }

    /// Makes room for `total` vCPUs so that `insert` never allocates.
    pub fn reserve_for(&mut self, total: usize) -> Result<(), Errno> {
        let more = total.saturating_sub(self.q.len());
        self.q.try_reserve(more).map_err(|_| Errno::NoMem)
    }

    /// Queues `v` of priority `pri` behind every vCPU of the same or a higher priority. A
    /// yielding vCPU goes one place further back when that place holds a lower-priority vCPU.
    /// Does not allocate when `reserve_for` covered every vCPU.
    pub fn insert(
        &mut self,
        v: VcpuRef,
        pri: Priority,
        yielding: bool,
        pri_of: impl Fn(VcpuRef) -> Priority,
    ) {
        let mut at = self
            .q
            .iter()
            .position(|&w| pri > pri_of(w))
            .unwrap_or(self.q.len());
        if yielding && at < self.q.len() {
            at += 1;
        }
        self.q.insert(at, v);
    }

    /// Takes `v` out; false when it was not queued.
    pub fn remove(&mut self, v: VcpuRef) -> bool {
        match self.q.iter().position(|&w| w == v) {
            Some(i) => {
                self.q.remove(i);
                true
            }
            None => false,
        }
    }

    /// The first vCPU.
    pub fn head(&self) -> Option<VcpuRef> {
        self.q.first().copied()
    }

    /// Takes the first vCPU that `movable` accepts among the leading ones whose priority is
    /// above `floor` (Xen's `csched_runq_steal`).
    pub fn steal_above(
        &mut self,
        floor: Priority,
        pri_of: impl Fn(VcpuRef) -> Priority,
        movable: impl Fn(VcpuRef) -> bool,
    ) -> Option<VcpuRef> {
        let i = self
            .q
            .iter()
            .take_while(|&&w| pri_of(w) > floor)
            .position(|&w| movable(w))?;
        Some(self.q.remove(i))
    }

    /// Moves every vCPU of priority UNDER or above ahead of the OVER ones, keeping the order
    /// within each group. In place, no allocation.
    pub fn sort(&mut self, pri_of: impl Fn(VcpuRef) -> Priority) {
        let mut next = 0;
        for i in 0..self.q.len() {
            if pri_of(self.q[i]) >= Priority::Under {
                self.q[next..=i].rotate_right(1);
                next += 1;
            }
        }
    }

    /// Number of vCPUs waiting.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Is nobody waiting?
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// The waiting vCPUs, first to run first.
    pub fn iter(&self) -> impl Iterator<Item = VcpuRef> + '_ {
        self.q.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn v(n: u32) -> VcpuRef {
        VcpuRef::new(1, n)
    }

    fn order(q: &RunQueue) -> Vec<u32> {
        q.iter().map(|r| r.vcpu).collect()
    }

    fn queue(entries: &[(u32, Priority)]) -> (RunQueue, HashMap<VcpuRef, Priority>) {
        let pris: HashMap<_, _> = entries.iter().map(|&(n, p)| (v(n), p)).collect();
        let mut q = RunQueue::new();
        q.reserve_for(entries.len() + 1).unwrap();
        for &(n, p) in entries {
            q.insert(v(n), p, false, |w| pris[&w]);
        }
        (q, pris)
    }

    #[test]
    fn priority_then_fifo() {
        use Priority::*;
        let (q, _) = queue(&[
            (1, Over),
            (2, Under),
            (3, Boost),
            (4, Under),
            (5, Over),
            (6, Boost),
        ]);
        assert_eq!(order(&q), [3, 6, 2, 4, 1, 5]);
        assert_eq!(q.head(), Some(v(3)));
        assert_eq!(q.len(), 6);
    }

    #[test]
    fn yield_goes_behind_one_lower_priority_vcpu() {
        use Priority::*;
        let (mut q, mut pris) = queue(&[(1, Under), (2, Over), (3, Over)]);
        pris.insert(v(9), Under);
        q.insert(v(9), Under, true, |w| pris[&w]);
        assert_eq!(order(&q), [1, 2, 9, 3]);
        // Nothing lower-priority queued: plain FIFO at the end.
        let (mut q, mut pris) = queue(&[(1, Under)]);
        pris.insert(v(9), Under);
        q.insert(v(9), Under, true, |w| pris[&w]);
        assert_eq!(order(&q), [1, 9]);
    }

    #[test]
    fn sort_moves_under_ahead_of_over_stably() {
        use Priority::*;
        let (mut q, mut pris) = queue(&[(1, Under), (2, Under), (3, Under), (4, Under)]);
        pris.insert(v(1), Over);
        pris.insert(v(3), Over);
        q.sort(|w| pris[&w]);
        assert_eq!(order(&q), [2, 4, 1, 3]);
    }

    #[test]
    fn remove_and_steal() {
        use Priority::*;
        let (mut q, pris) = queue(&[(1, Boost), (2, Under), (3, Over)]);
        assert!(q.remove(v(2)));
        assert!(!q.remove(v(2)));
        assert_eq!(order(&q), [1, 3]);
        // Only vCPUs above the floor can be taken, and only movable ones.
        assert_eq!(q.steal_above(Under, |w| pris[&w], |w| w != v(1)), None);
        assert_eq!(q.steal_above(Over, |w| pris[&w], |_| true), Some(v(1)));
        assert_eq!(q.steal_above(Over, |w| pris[&w], |_| true), None);
        assert_eq!(q.steal_above(Idle, |w| pris[&w], |_| true), Some(v(3)));
        assert!(q.is_empty());
    }
}
