//! 2-level delivery: pending/mask bits, pending_sel and upcall_pending, through a trait over guest memory.

use hypercall_abi::event_channel::{EVTCHN_2L_NR_CHANNELS, EvtchnPort};

/// Ports per word of the pending and mask bitmaps (and bits of `evtchn_pending_sel`).
pub const PORTS_PER_WORD: u32 = 64;

/// The event bits a domain shares with Xen: `evtchn_pending`/`evtchn_mask` in
/// shared_info and `evtchn_pending_sel`/`evtchn_upcall_pending` in each
/// vcpu_info.
///
/// The memory is shared with a hostile guest that may flip any bit at any
/// moment: every method is one atomic access (a locked bit operation in the
/// real implementation), and callers use each answer once. Callers only pass
/// `port < EVTCHN_2L_NR_CHANNELS`, `word < PORTS_PER_WORD` and a vCPU the
/// domain has; an implementation whose vCPU has no vcpu_info mapped reports
/// the bit as already set so nothing is kicked.
pub trait EventBits {
    /// Atomically sets `port`'s pending bit; returns its old value.
    fn test_and_set_pending(&self, port: EvtchnPort) -> bool;
    /// Atomically clears `port`'s pending bit.
    fn clear_pending(&self, port: EvtchnPort);
    /// Reads `port`'s pending bit.
    fn is_pending(&self, port: EvtchnPort) -> bool;
    /// Reads `port`'s mask bit.
    fn is_masked(&self, port: EvtchnPort) -> bool;
    /// Atomically clears `port`'s mask bit; returns its old value.
    fn test_and_clear_mask(&self, port: EvtchnPort) -> bool;
    /// Atomically sets bit `word` of `vcpu`'s `evtchn_pending_sel`; returns its old value.
    fn test_and_set_pending_sel(&self, vcpu: u32, word: u32) -> bool;
    /// Atomically sets `vcpu`'s `evtchn_upcall_pending`; returns its old value.
    fn test_and_set_upcall_pending(&self, vcpu: u32) -> bool;
}

/// What the caller must do after a port may have become pending: kick a vCPU
/// (wake it if blocked, make it take the upcall) and wake the vCPUs polling
/// the port (SCHEDOP_poll). Both refer to the domain whose bits were used.
#[must_use = "kick the vCPU and wake pollers"]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The vCPU whose `evtchn_upcall_pending` went from 0 to 1.
    pub kick: Option<u32>,
    /// The port whose pending bit went from 0 to 1 (masked or not).
    pub newly_pending: Option<EvtchnPort>,
}

impl Delivery {
    /// Nothing to do.
    pub const NONE: Delivery = Delivery {
        kick: None,
        newly_pending: None,
    };
}

/// The pending-bitmap word (and `evtchn_pending_sel` bit) holding `port`.
pub const fn word_of(port: EvtchnPort) -> u32 {
    port / PORTS_PER_WORD
}

fn in_range(port: EvtchnPort) -> bool {
    port < EVTCHN_2L_NR_CHANNELS
}

/// Sets `vcpu`'s `evtchn_upcall_pending`; `Some(vcpu)` when it was clear, so
/// the vCPU must be kicked.
pub fn mark_events_pending<B: EventBits + ?Sized>(bits: &B, vcpu: u32) -> Option<u32> {
    if bits.test_and_set_upcall_pending(vcpu) {
        None
    } else {
        Some(vcpu)
    }
}

/// Marks `port` pending for `vcpu` as Xen's 2-level ABI does: if the port was
/// already pending nothing more happens; otherwise, when the port is not
/// masked and its selector bit was clear, upcall_pending is set and the vCPU
/// is kicked if that was clear too. Pollers are woken whenever the pending bit
/// was newly set. Out-of-range ports do nothing.
pub fn set_pending<B: EventBits + ?Sized>(bits: &B, vcpu: u32, port: EvtchnPort) -> Delivery {
    if !in_range(port) || bits.test_and_set_pending(port) {
        return Delivery::NONE;
    }
    let kick = if !bits.is_masked(port) && !bits.test_and_set_pending_sel(vcpu, word_of(port)) {
        mark_events_pending(bits, vcpu)
    } else {
        None
    };
    Delivery {
        kick,
        newly_pending: Some(port),
    }
}

/// Unmasks `port` as Xen's 2-level ABI does: if the mask bit was set and the
/// port is pending and its selector bit was clear, upcall_pending is set and
/// `vcpu` is kicked if that was clear too. Out-of-range ports do nothing.
pub fn unmask<B: EventBits + ?Sized>(bits: &B, vcpu: u32, port: EvtchnPort) -> Delivery {
    if in_range(port)
        && bits.test_and_clear_mask(port)
        && bits.is_pending(port)
        && !bits.test_and_set_pending_sel(vcpu, word_of(port))
    {
        Delivery {
            kick: mark_events_pending(bits, vcpu),
            newly_pending: None,
        }
    } else {
        Delivery::NONE
    }
}

/// Clears `port`'s pending bit (when a port is freed, so a re-bind starts clean).
pub fn clear_pending<B: EventBits + ?Sized>(bits: &B, port: EvtchnPort) {
    if in_range(port) {
        bits.clear_pending(port);
    }
}

/// Whether `port` is pending (false out of range).
pub fn is_pending<B: EventBits + ?Sized>(bits: &B, port: EvtchnPort) -> bool {
    in_range(port) && bits.is_pending(port)
}

/// Whether `port` is masked (false out of range).
pub fn is_masked<B: EventBits + ?Sized>(bits: &B, port: EvtchnPort) -> bool {
    in_range(port) && bits.is_masked(port)
}

/// An in-memory [`EventBits`] for host tests: a shared_info's bitmaps and up
/// to `vcpus` vcpu_infos, with a log of accesses.
#[cfg(test)]
pub mod mock {
    use super::{EventBits, PORTS_PER_WORD};
    use core::cell::{Cell, RefCell};
    use hypercall_abi::event_channel::EvtchnPort;
    use std::vec::Vec;

    /// One access to the bits, in order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Access {
        SetPending(EvtchnPort),
        ClearPending(EvtchnPort),
        IsPending(EvtchnPort),
        IsMasked(EvtchnPort),
        ClearMask(EvtchnPort),
        SetSel(u32, u32),
        SetUpcall(u32),
    }

    /// Bitmaps and per-vCPU words, each behind a `Cell` like guest memory.
    pub struct MockBits {
        pub pending: [Cell<u64>; 64],
        pub mask: [Cell<u64>; 64],
        pub sel: Vec<Cell<u64>>,
        pub upcall: Vec<Cell<bool>>,
        pub log: RefCell<Vec<Access>>,
    }

    fn split(port: EvtchnPort) -> (usize, u64) {
        (
            (port / PORTS_PER_WORD) as usize,
            1 << (port % PORTS_PER_WORD),
        )
    }

    impl MockBits {
        pub fn new(vcpus: usize) -> Self {
            MockBits {
                pending: core::array::from_fn(|_| Cell::new(0)),
                mask: core::array::from_fn(|_| Cell::new(0)),
                sel: (0..vcpus).map(|_| Cell::new(0)).collect(),
                upcall: (0..vcpus).map(|_| Cell::new(false)).collect(),
                log: RefCell::new(Vec::new()),
            }
        }

        pub fn pending(&self, port: EvtchnPort) -> bool {
            let (w, b) = split(port);
            self.pending[w].get() & b != 0
        }

        pub fn set_mask(&self, port: EvtchnPort, masked: bool) {
            let (w, b) = split(port);
            let old = self.mask[w].get();
            self.mask[w].set(if masked { old | b } else { old & !b });
        }

        pub fn masked(&self, port: EvtchnPort) -> bool {
            let (w, b) = split(port);
            self.mask[w].get() & b != 0
        }

        pub fn sel(&self, vcpu: u32) -> u64 {
            self.sel[vcpu as usize].get()
        }

        pub fn upcall(&self, vcpu: u32) -> bool {
            self.upcall[vcpu as usize].get()
        }

        /// What the guest's upcall handler does: clear upcall_pending and the selector.
        pub fn guest_ack(&self, vcpu: u32) {
            self.upcall[vcpu as usize].set(false);
            self.sel[vcpu as usize].set(0);
        }

        /// What the guest does after handling a port: clear its pending bit.
        pub fn guest_clear(&self, port: EvtchnPort) {
            let (w, b) = split(port);
            self.pending[w].set(self.pending[w].get() & !b);
        }

        pub fn take_log(&self) -> Vec<Access> {
            self.log.take()
        }

        fn note(&self, a: Access) {
            self.log.borrow_mut().push(a);
        }
    }

    fn test_and_set(c: &Cell<u64>, b: u64) -> bool {
        let old = c.get();
        c.set(old | b);
        old & b != 0
    }

    impl EventBits for MockBits {
        fn test_and_set_pending(&self, port: EvtchnPort) -> bool {
            self.note(Access::SetPending(port));
            let (w, b) = split(port);
            test_and_set(&self.pending[w], b)
        }
        fn clear_pending(&self, port: EvtchnPort) {
            self.note(Access::ClearPending(port));
            self.guest_clear(port);
        }
        fn is_pending(&self, port: EvtchnPort) -> bool {
            self.note(Access::IsPending(port));
            self.pending(port)
        }
        fn is_masked(&self, port: EvtchnPort) -> bool {
            self.note(Access::IsMasked(port));
            self.masked(port)
        }
        fn test_and_clear_mask(&self, port: EvtchnPort) -> bool {
            self.note(Access::ClearMask(port));
            let (w, b) = split(port);
            let old = self.mask[w].get();
            self.mask[w].set(old & !b);
            old & b != 0
        }
        fn test_and_set_pending_sel(&self, vcpu: u32, word: u32) -> bool {
            self.note(Access::SetSel(vcpu, word));
            test_and_set(&self.sel[vcpu as usize], 1 << word)
        }
        fn test_and_set_upcall_pending(&self, vcpu: u32) -> bool {
            self.note(Access::SetUpcall(vcpu));
            self.upcall[vcpu as usize].replace(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mock::{Access, MockBits};
    use super::*;
    use core::cell::RefCell;
    use std::collections::VecDeque;
    use std::vec;

    #[test]
    fn first_event_sets_pending_sel_and_upcall_and_kicks() {
        let b = MockBits::new(2);
        let d = set_pending(&b, 1, 130);
        assert_eq!(d.kick, Some(1));
        assert_eq!(d.newly_pending, Some(130));
        assert!(b.pending(130));
        assert_eq!(b.sel(1), 1 << 2);
        assert!(b.upcall(1));
        assert_eq!(b.sel(0), 0);
        assert!(!b.upcall(0));
        assert_eq!(
            b.take_log(),
            vec![
                Access::SetPending(130),
                Access::IsMasked(130),
                Access::SetSel(1, 2),
                Access::SetUpcall(1),
            ]
        );
    }

    #[test]
    fn already_pending_port_does_nothing_more() {
        let b = MockBits::new(1);
        let _ = set_pending(&b, 0, 5);
        b.guest_ack(0);
        b.take_log();
        let d = set_pending(&b, 0, 5);
        assert_eq!(d, Delivery::NONE);
        assert_eq!(b.sel(0), 0);
        assert!(!b.upcall(0));
        assert_eq!(b.take_log(), vec![Access::SetPending(5)]);
    }

    #[test]
    fn second_port_in_same_word_does_not_kick_again() {
        let b = MockBits::new(1);
        assert_eq!(set_pending(&b, 0, 3).kick, Some(0));
        let d = set_pending(&b, 0, 4);
        assert_eq!(d.kick, None);
        assert_eq!(d.newly_pending, Some(4));
        assert!(b.pending(4));
        assert_eq!(b.sel(0), 1);
    }

    #[test]
    fn other_word_sets_sel_but_upcall_already_pending_means_no_kick() {
        let b = MockBits::new(1);
        assert_eq!(set_pending(&b, 0, 3).kick, Some(0));
        let d = set_pending(&b, 0, 64 * 7 + 1);
        assert_eq!(d.kick, None);
        assert_eq!(b.sel(0), 1 | 1 << 7);
        assert!(b.upcall(0));
    }

    #[test]
    fn masked_port_becomes_pending_without_notifying() {
        let b = MockBits::new(1);
        b.set_mask(9, true);
        let d = set_pending(&b, 0, 9);
        assert_eq!(d.kick, None);
        assert_eq!(d.newly_pending, Some(9), "pollers still see masked ports");
        assert!(b.pending(9));
        assert_eq!(b.sel(0), 0);
        assert!(!b.upcall(0));
    }

    #[test]
    fn unmask_delivers_a_pending_masked_event() {
        let b = MockBits::new(2);
        b.set_mask(70, true);
        let _ = set_pending(&b, 1, 70);
        assert!(!b.upcall(1));
        b.take_log();
        let d = unmask(&b, 1, 70);
        assert_eq!(d.kick, Some(1));
        assert_eq!(d.newly_pending, None);
        assert!(!b.masked(70));
        assert_eq!(b.sel(1), 1 << 1);
        assert!(b.upcall(1));
        assert_eq!(
            b.take_log(),
            vec![
                Access::ClearMask(70),
                Access::IsPending(70),
                Access::SetSel(1, 1),
                Access::SetUpcall(1),
            ]
        );
    }

    #[test]
    fn unmask_without_pending_or_mask_does_not_notify() {
        let b = MockBits::new(1);
        b.set_mask(2, true);
        assert_eq!(unmask(&b, 0, 2), Delivery::NONE);
        assert!(!b.masked(2));
        assert_eq!(b.sel(0), 0);
        // Not masked: nothing to redeliver even if pending.
        let _ = set_pending(&b, 0, 2);
        b.guest_ack(0);
        assert_eq!(unmask(&b, 0, 2), Delivery::NONE);
        assert!(!b.upcall(0));
    }

    #[test]
    fn unmask_with_selector_already_set_does_not_kick() {
        let b = MockBits::new(1);
        let _ = set_pending(&b, 0, 1);
        b.set_mask(2, true);
        let _ = set_pending(&b, 0, 2);
        assert_eq!(unmask(&b, 0, 2), Delivery::NONE);
    }

    #[test]
    fn clear_and_queries() {
        let b = MockBits::new(1);
        let _ = set_pending(&b, 0, 4095);
        assert!(is_pending(&b, 4095));
        clear_pending(&b, 4095);
        assert!(!is_pending(&b, 4095));
        b.set_mask(4095, true);
        assert!(is_masked(&b, 4095));
        assert_eq!(word_of(4095), 63);
    }

    #[test]
    fn out_of_range_ports_touch_nothing() {
        let b = MockBits::new(1);
        for port in [EVTCHN_2L_NR_CHANNELS, u32::MAX] {
            assert_eq!(set_pending(&b, 0, port), Delivery::NONE);
            assert_eq!(unmask(&b, 0, port), Delivery::NONE);
            clear_pending(&b, port);
            assert!(!is_pending(&b, port));
            assert!(!is_masked(&b, port));
        }
        assert!(b.take_log().is_empty());
    }

    /// Bits that answer from a script, as a guest racing with Xen could make them.
    struct Scripted(RefCell<VecDeque<bool>>, RefCell<Vec<&'static str>>);

    impl Scripted {
        fn new(answers: &[bool]) -> Self {
            Scripted(
                RefCell::new(answers.iter().copied().collect()),
                RefCell::new(Vec::new()),
            )
        }
        fn next(&self, what: &'static str) -> bool {
            self.1.borrow_mut().push(what);
            self.0
                .borrow_mut()
                .pop_front()
                .expect("read more often than scripted")
        }
    }

    impl EventBits for Scripted {
        fn test_and_set_pending(&self, _: EvtchnPort) -> bool {
            self.next("set_pending")
        }
        fn clear_pending(&self, _: EvtchnPort) {
            self.1.borrow_mut().push("clear_pending");
        }
        fn is_pending(&self, _: EvtchnPort) -> bool {
            self.next("is_pending")
        }
        fn is_masked(&self, _: EvtchnPort) -> bool {
            self.next("is_masked")
        }
        fn test_and_clear_mask(&self, _: EvtchnPort) -> bool {
            self.next("clear_mask")
        }
        fn test_and_set_pending_sel(&self, _: u32, _: u32) -> bool {
            self.next("set_sel")
        }
        fn test_and_set_upcall_pending(&self, _: u32) -> bool {
            self.next("set_upcall")
        }
    }

    /// Scripted answers, expected kick, expected newly_pending, reads.
    type SetPendingCase = (&'static [bool], Option<u32>, Option<EvtchnPort>, usize);

    #[test]
    fn hostile_bits_are_read_once_and_their_answers_obeyed() {
        let cases: [SetPendingCase; 5] = [
            (&[true], None, None, 1),
            (&[false, true], None, Some(8), 2),
            (&[false, false, true], None, Some(8), 3),
            (&[false, false, false, true], None, Some(8), 4),
            (&[false, false, false, false], Some(3), Some(8), 4),
        ];
        for (answers, kick, newly, reads) in cases {
            let s = Scripted::new(answers);
            let d = set_pending(&s, 3, 8);
            assert_eq!((d.kick, d.newly_pending), (kick, newly), "{answers:?}");
            assert_eq!(s.1.borrow().len(), reads, "{answers:?}");
        }
        let cases: [(&[bool], Option<u32>, usize); 4] = [
            (&[false], None, 1),
            (&[true, false], None, 2),
            (&[true, true, true], None, 3),
            (&[true, true, false, false], Some(3), 4),
        ];
        for (answers, kick, reads) in cases {
            let s = Scripted::new(answers);
            let d = unmask(&s, 3, 8);
            assert_eq!((d.kick, d.newly_pending), (kick, None), "{answers:?}");
            assert_eq!(s.1.borrow().len(), reads, "{answers:?}");
        }
    }
}
