//! The deadlines that share one CPU's timer: one entry per key, the earliest first.
//!
//! A CPU has one one-shot timer (the local APIC's) and several users: every vCPU's timer
//! (set_timer_op, singleshot, periodic, poll timeouts) and the scheduler's time slice. Each user
//! keeps at most one deadline here under its own key; the caller programs the hardware for
//! [`Timers::earliest`] and, when it fires, takes the due keys with [`Timers::pop_expired`].
//! Entries stay sorted by deadline (ties in the order they were set), so the earliest is the
//! first; setting and cancelling are linear in the number of entries, a few per domain.
//! Growth is fallible: [`Timers::reserve`] at domain creation makes later [`Timers::set`]s of
//! that domain's keys free of allocation.

use alloc::vec::Vec;

use hypercall_abi::Errno;

/// One deadline and its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry<K> {
    deadline: u64,
    key: K,
}

/// Deadlines in system time (ns), at most one per key, ordered earliest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timers<K> {
    entries: Vec<Entry<K>>,
}

impl<K: Copy + Eq> Timers<K> {
    /// No deadlines.
    pub const fn new() -> Self {
        Timers {
            entries: Vec::new(),
        }
    }

    /// Makes room for `additional` more keys than are set now, so that setting them cannot
    /// fail. `Errno::NoMem` when the memory is not there.
    pub fn reserve(&mut self, additional: usize) -> Result<(), Errno> {
        self.entries
            .try_reserve(additional)
            .map_err(|_| Errno::NoMem)
    }

    /// Sets `key`'s deadline to `deadline`, replacing the one it had. `Errno::NoMem` only for a
    /// key not set before when there is no room and none can be allocated (nothing changes).
    pub fn set(&mut self, key: K, deadline: u64) -> Result<(), Errno> {
        match self.position(key) {
            Some(i) => {
                self.entries.remove(i);
            }
            None => self.reserve(1)?,
        }
        // After the last entry with a deadline at or before this one: ties keep their order.
        let at = self.entries.partition_point(|e| e.deadline <= deadline);
        self.entries.insert(at, Entry { deadline, key });
        Ok(())
    }

    /// Removes `key`'s deadline; returns it if there was one.
    pub fn cancel(&mut self, key: K) -> Option<u64> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).deadline)
    }

    /// Removes every deadline whose key `doomed` picks (all of a dying domain's, say).
    pub fn cancel_where(&mut self, mut doomed: impl FnMut(&K) -> bool) {
        self.entries.retain(|e| !doomed(&e.key));
    }

    /// `key`'s deadline, if it has one.
    pub fn deadline(&self, key: K) -> Option<u64> {
        self.position(key).map(|i| self.entries[i].deadline)
    }

    /// The earliest deadline and its key: what the hardware timer should be set to.
    pub fn earliest(&self) -> Option<(u64, K)> {
        self.entries.first().map(|e| (e.deadline, e.key))
    }

    /// Removes and returns the earliest deadline if it is at or before `now`. Call it in a loop
    /// when the timer fires: the keys come out in deadline order.
    pub fn pop_expired(&mut self, now: u64) -> Option<(u64, K)> {
        match self.entries.first() {
            Some(e) if e.deadline <= now => {
                let e = self.entries.remove(0);
                Some((e.deadline, e.key))
            }
            _ => None,
        }
    }

    /// Number of deadlines set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No deadline is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: K) -> Option<usize> {
        self.entries.iter().position(|e| e.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys as the lead's scheduler would use them: a vCPU's timer, or the time slice.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Key {
        Vcpu(u16),
        Slice,
    }

    #[test]
    fn earliest_of_several_domains() {
        let mut t = Timers::new();
        assert_eq!(t.earliest(), None);
        t.set(Key::Vcpu(1), 5_000).unwrap();
        t.set(Key::Vcpu(2), 3_000).unwrap();
        t.set(Key::Slice, 30_000).unwrap();
        assert_eq!(t.earliest(), Some((3_000, Key::Vcpu(2))));
        assert_eq!(t.len(), 3);
        assert_eq!(t.deadline(Key::Vcpu(1)), Some(5_000));
        assert_eq!(t.deadline(Key::Vcpu(9)), None);
    }

    #[test]
    fn a_key_has_one_deadline() {
        let mut t = Timers::new();
        t.set(Key::Vcpu(1), 5_000).unwrap();
        t.set(Key::Vcpu(2), 6_000).unwrap();
        t.set(Key::Vcpu(1), 9_000).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.earliest(), Some((6_000, Key::Vcpu(2))));
        t.set(Key::Vcpu(1), 1_000).unwrap();
        assert_eq!(t.earliest(), Some((1_000, Key::Vcpu(1))));
        assert_eq!(t.cancel(Key::Vcpu(1)), Some(1_000));
        assert_eq!(t.cancel(Key::Vcpu(1)), None);
        assert_eq!(t.earliest(), Some((6_000, Key::Vcpu(2))));
    }

    #[test]
    fn expired_come_out_in_order_and_only_when_due() {
        let mut t = Timers::new();
        t.set(Key::Vcpu(3), 300).unwrap();
        t.set(Key::Vcpu(1), 100).unwrap();
        t.set(Key::Slice, 200).unwrap();
        t.set(Key::Vcpu(2), 200).unwrap();
        assert_eq!(t.pop_expired(99), None);
        assert_eq!(t.pop_expired(250), Some((100, Key::Vcpu(1))));
        // Equal deadlines in the order they were set.
        assert_eq!(t.pop_expired(250), Some((200, Key::Slice)));
        assert_eq!(t.pop_expired(250), Some((200, Key::Vcpu(2))));
        assert_eq!(t.pop_expired(250), None);
        assert_eq!(t.earliest(), Some((300, Key::Vcpu(3))));
        // A deadline of exactly now is due.
        assert_eq!(t.pop_expired(300), Some((300, Key::Vcpu(3))));
        assert!(t.is_empty());
    }

    #[test]
    fn extremes_sort_correctly() {
        let mut t = Timers::new();
        t.set(Key::Vcpu(1), u64::MAX).unwrap();
        t.set(Key::Vcpu(2), 0).unwrap();
        assert_eq!(t.pop_expired(0), Some((0, Key::Vcpu(2))));
        assert_eq!(t.pop_expired(u64::MAX - 1), None);
        assert_eq!(t.pop_expired(u64::MAX), Some((u64::MAX, Key::Vcpu(1))));
    }

    #[test]
    fn a_dying_domain_loses_its_deadlines() {
        let mut t = Timers::new();
        for d in 1..=4 {
            t.set(Key::Vcpu(d), u64::from(d) * 10).unwrap();
        }
        t.set(Key::Slice, 15).unwrap();
        t.cancel_where(|k| matches!(k, Key::Vcpu(d) if d % 2 == 0));
        let mut left = Vec::new();
        while let Some((_, k)) = t.pop_expired(u64::MAX) {
            left.push(k);
        }
        assert_eq!(left, [Key::Vcpu(1), Key::Slice, Key::Vcpu(3)]);
    }

    #[test]
    fn reserved_room_makes_set_allocation_free() {
        let mut t: Timers<Key> = Timers::new();
        t.reserve(3).unwrap();
        let cap = t.entries.capacity();
        for d in 0..3 {
            t.set(Key::Vcpu(d), 1).unwrap();
        }
        t.set(Key::Vcpu(1), 7).unwrap();
        assert_eq!(t.entries.capacity(), cap);
        assert_eq!(t.reserve(usize::MAX), Err(Errno::NoMem));
        assert_eq!(t.len(), 3);
    }
}
