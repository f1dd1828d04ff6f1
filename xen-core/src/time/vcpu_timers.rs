//! A vCPU's timers as Xen 4.17 keeps them: the one-shot, the periodic tick and the poll timeout.
//!
//! - The one-shot timer (Xen's `singleshot_timer`) is set by set_timer_op and by
//!   VCPUOP_set_singleshot_timer; when it passes, the vCPU gets VIRQ_TIMER. Deadlines already
//!   past fire at once.
//! - The periodic timer ticks every `period` ns (a PV vCPU starts at 10 ms, 100 Hz, as in Xen)
//!   and also raises VIRQ_TIMER. Like Xen's, it only runs while the vCPU is on a CPU: a vCPU
//!   that comes back after a period or more gets one tick at once ([`VcpuTimers::schedule_in`]),
//!   not one per period missed.
//! - The poll timeout (Xen's `poll_timer`) ends a SCHEDOP_poll; it raises nothing.
//!
//! Times are system time in ns. A deadline here is a plain number; the caller programs the
//! hardware for [`VcpuTimers::next_deadline`] and calls [`VcpuTimers::expire`] when it fires.

use hypercall_abi::Errno;

/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// The periodic timer a PV vCPU starts with (Xen: "PV guests by default have a 100Hz ticker").
pub const DEFAULT_PERIOD_NS: u64 = 10 * NS_PER_MS;
/// The shortest period VCPUOP_set_periodic_timer accepts.
pub const MIN_PERIOD_NS: u64 = NS_PER_MS;
/// The longest (Xen's `STIME_DELTA_MAX`, so that now + period cannot overflow).
pub const MAX_PERIOD_NS: u64 = u64::MAX >> 2;
/// set_timer_op treats a timeout this far ahead or more (2^50 ns, about 13 days) as a wrapped
/// value from an old guest.
pub const HUGE_TIMEOUT_NS: u64 = 1 << 50;
/// What set_timer_op does instead with such a timeout, or a negative one: fire this much later.
pub const HUGE_TIMEOUT_FALLBACK_NS: u64 = 100 * NS_PER_MS;

/// What passed at one [`VcpuTimers::expire`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expiry {
    /// The one-shot or the periodic timer fired: send VIRQ_TIMER.
    pub timer_event: bool,
    /// The poll timeout passed: end the poll.
    pub poll_timed_out: bool,
}

/// One vCPU's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuTimers {
    /// The one-shot deadline, if armed.
    singleshot: Option<u64>,
    /// The periodic timer's period; 0 when stopped.
    period: u64,
    /// When the periodic timer last fired (Xen's `periodic_last_event`).
    periodic_last: u64,
    /// The running SCHEDOP_poll's timeout, if any.
    poll: Option<u64>,
}

impl Default for VcpuTimers {
    fn default() -> Self {
        VcpuTimers::new()
    }
}

impl VcpuTimers {
    /// A new PV vCPU's timers: no one-shot, the 100 Hz periodic tick (its first tick comes as
    /// soon as the vCPU runs, as in Xen, whose last event starts at 0), no poll.
    pub const fn new() -> Self {
        VcpuTimers {
            singleshot: None,
            period: DEFAULT_PERIOD_NS,
            periodic_last: 0,
            poll: None,
        }
    }

    /// set_timer_op(timeout) at system time `now`: 0 stops the one-shot timer; a negative
    /// timeout (as a signed 64-bit value) or one 2^50 ns or more ahead fires 100 ms from now
    /// instead (Xen's guard against old guests' wrapped timeouts); anything else is the
    /// deadline, past ones firing at once. Never fails.
    pub fn set_timer_op(&mut self, timeout: u64, now: u64) {
        if timeout == 0 {
            self.singleshot = None;
            return;
        }
        let huge = (timeout as i64) < 0 || timeout.saturating_sub(now) >= HUGE_TIMEOUT_NS;
        self.singleshot = Some(if huge {
            now.saturating_add(HUGE_TIMEOUT_FALLBACK_NS)
        } else {
            timeout
        });
    }

    /// VCPUOP_set_singleshot_timer: arms the one-shot at `timeout_abs_ns`. Xen 4.17 (since
    /// the stable fix that makes it ignore VCPU_SSHOTTMR_future, which the ABI allows) takes
    /// any flags and never answers -ETIME: a deadline already past fires at once, as observed
    /// on 4.17.7. A deadline of 2^63 or more is negative as Xen's signed time: past too.
    pub fn set_singleshot(&mut self, timeout_abs_ns: u64, _flags: u32) {
        self.singleshot = Some(if (timeout_abs_ns as i64) < 0 {
            0
        } else {
            timeout_abs_ns
        });
    }

    /// VCPUOP_stop_singleshot_timer (and set_timer_op(0)).
    pub fn stop_singleshot(&mut self) {
        self.singleshot = None;
    }

    /// The one-shot deadline, if armed.
    pub fn singleshot(&self) -> Option<u64> {
        self.singleshot
    }

    /// VCPUOP_set_periodic_timer: `Errno::Inval` for a period under 1 ms or over
    /// [`MAX_PERIOD_NS`]. The caller then does what a reschedule does: [`Self::schedule_in`].
    pub fn set_periodic(&mut self, period_ns: u64) -> Result<(), Errno> {
        if !(MIN_PERIOD_NS..=MAX_PERIOD_NS).contains(&period_ns) {
            return Err(Errno::Inval);
        }
        self.period = period_ns;
        Ok(())
    }

    /// VCPUOP_stop_periodic_timer.
    pub fn stop_periodic(&mut self) {
        self.period = 0;
    }

    /// The periodic timer's period (0: stopped).
    pub fn period(&self) -> u64 {
        self.period
    }

    /// Arms (`Some`) or clears the poll timeout.
    pub fn set_poll_timeout(&mut self, deadline: Option<u64>) {
        self.poll = deadline;
    }

    /// The poll timeout, if armed.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.poll
    }

    /// The periodic timer's next tick, if it runs.
    fn periodic_next(&self) -> Option<u64> {
        (self.period != 0).then(|| self.periodic_last.saturating_add(self.period))
    }

    /// The periodic tick's work when it comes due or the vCPU comes onto a CPU: true (send
    /// VIRQ_TIMER, and the next tick is a period from now) when a period or more has passed
    /// since the last tick.
    fn periodic_work(&mut self, now: u64) -> bool {
        match self.periodic_next() {
            Some(next) if now >= next => {
                self.periodic_last = now;
                true
            }
            _ => false,
        }
    }

    /// The vCPU comes onto a CPU at `now` (a context switch, or after changing the period):
    /// true when the periodic timer owes it a tick, which the caller sends as VIRQ_TIMER.
    pub fn schedule_in(&mut self, now: u64) -> bool {
        self.periodic_work(now)
    }

    /// The earliest time at which something is due: the one-shot, the poll timeout and, while
    /// the vCPU runs on a CPU (`on_cpu`), the periodic tick.
    pub fn next_deadline(&self, on_cpu: bool) -> Option<u64> {
        let periodic = if on_cpu { self.periodic_next() } else { None };
        [self.singleshot, self.poll, periodic]
            .into_iter()
            .flatten()
            .min()
    }

    /// Everything due at `now`: a passed one-shot is disarmed, a due periodic tick (only while
    /// `on_cpu`) moves on, a passed poll timeout is cleared.
    pub fn expire(&mut self, now: u64, on_cpu: bool) -> Expiry {
        let mut out = Expiry::default();
        if self.singleshot.is_some_and(|d| d <= now) {
            self.singleshot = None;
            out.timer_event = true;
        }
        if on_cpu && self.periodic_work(now) {
            out.timer_event = true;
        }
        if self.poll.is_some_and(|d| d <= now) {
            self.poll = None;
            out.poll_timed_out = true;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypercall_abi::vcpu::VCPU_SSHOTTMR_FUTURE;

    const MS: u64 = NS_PER_MS;

    /// Timers with the periodic tick stopped, as a guest that stops it sees them.
    fn quiet() -> VcpuTimers {
        let mut t = VcpuTimers::new();
        t.stop_periodic();
        t
    }

    #[test]
    fn set_timer_op_arms_stops_and_guards_huge_values() {
        let now = 5_000 * MS;
        let mut t = quiet();
        t.set_timer_op(now + MS, now);
        assert_eq!(t.singleshot(), Some(now + MS));
        t.set_timer_op(0, now);
        assert_eq!(t.singleshot(), None);
        // A past deadline stays as it is: it fires at once.
        t.set_timer_op(now - MS, now);
        assert_eq!(t.singleshot(), Some(now - MS));
        // 2^50 ns ahead or more, or negative: 100 ms from now.
        t.set_timer_op(now + HUGE_TIMEOUT_NS, now);
        assert_eq!(t.singleshot(), Some(now + 100 * MS));
        t.set_timer_op(now + HUGE_TIMEOUT_NS - 1, now);
        assert_eq!(t.singleshot(), Some(now + HUGE_TIMEOUT_NS - 1));
        t.set_timer_op(u64::MAX, now);
        assert_eq!(t.singleshot(), Some(now + 100 * MS));
        t.set_timer_op(1 << 63, now);
        assert_eq!(t.singleshot(), Some(now + 100 * MS));
    }

    #[test]
    fn singleshot_takes_the_past_whatever_the_flags() {
        let now = 7 * MS;
        let mut t = quiet();
        // VCPU_SSHOTTMR_future is ignored: a past deadline is armed and fires at once.
        t.set_singleshot(now - 1, VCPU_SSHOTTMR_FUTURE);
        assert_eq!(t.singleshot(), Some(now - 1));
        assert!(t.expire(now, true).timer_event);
        t.set_singleshot(now + MS, 0xffff_ffff);
        assert_eq!(t.singleshot(), Some(now + MS));
        // Negative as signed time: due at once.
        t.set_singleshot(u64::MAX, VCPU_SSHOTTMR_FUTURE);
        assert_eq!(t.next_deadline(true), Some(0));
        t.stop_singleshot();
        assert_eq!(t.next_deadline(true), None);
    }

    #[test]
    fn singleshot_fires_once_when_due() {
        let mut t = quiet();
        t.set_timer_op(10 * MS, 0);
        assert_eq!(t.next_deadline(false), Some(10 * MS));
        assert_eq!(t.expire(10 * MS - 1, true), Expiry::default());
        let e = t.expire(10 * MS, true);
        assert!(e.timer_event && !e.poll_timed_out);
        assert_eq!(t.expire(11 * MS, true), Expiry::default());
        assert_eq!(t.next_deadline(true), None);
    }

    #[test]
    fn periodic_ticks_only_on_cpu_and_catches_up_once() {
        let mut t = VcpuTimers::new();
        assert_eq!(t.period(), DEFAULT_PERIOD_NS);
        // The first tick is due a period after time 0.
        assert_eq!(t.next_deadline(true), Some(10 * MS));
        assert_eq!(t.next_deadline(false), None);
        assert!(t.expire(10 * MS, true).timer_event);
        assert_eq!(t.next_deadline(true), Some(20 * MS));
        // Off the CPU nothing ticks, however long.
        assert!(!t.expire(95 * MS, false).timer_event);
        // Back on: one tick at once, the next a period later.
        assert!(t.schedule_in(95 * MS));
        assert!(!t.schedule_in(96 * MS));
        assert_eq!(t.next_deadline(true), Some(105 * MS));
        t.stop_periodic();
        assert_eq!(t.next_deadline(true), None);
        assert!(!t.expire(500 * MS, true).timer_event);
    }

    #[test]
    fn periodic_limits_are_xens() {
        let mut t = VcpuTimers::new();
        assert_eq!(t.set_periodic(MS - 1), Err(Errno::Inval));
        assert_eq!(t.set_periodic(MAX_PERIOD_NS + 1), Err(Errno::Inval));
        assert_eq!(t.period(), DEFAULT_PERIOD_NS);
        assert_eq!(t.set_periodic(MS), Ok(()));
        assert_eq!(t.set_periodic(MAX_PERIOD_NS), Ok(()));
        assert_eq!(t.next_deadline(true), Some(MAX_PERIOD_NS));
    }

    #[test]
    fn poll_timeout_wakes_without_an_event() {
        let mut t = quiet();
        t.set_poll_timeout(Some(3 * MS));
        t.set_timer_op(5 * MS, 0);
        assert_eq!(t.next_deadline(false), Some(3 * MS));
        let e = t.expire(4 * MS, false);
        assert!(e.poll_timed_out && !e.timer_event);
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.next_deadline(false), Some(5 * MS));
        let e = t.expire(6 * MS, false);
        assert!(e.timer_event && !e.poll_timed_out);
    }

    #[test]
    fn earliest_of_the_three() {
        let mut t = VcpuTimers::new(); // periodic next at 10 ms
        t.set_timer_op(12 * MS, 0);
        t.set_poll_timeout(Some(11 * MS));
        assert_eq!(t.next_deadline(true), Some(10 * MS));
        assert_eq!(t.next_deadline(false), Some(11 * MS));
        t.set_poll_timeout(None);
        assert_eq!(t.next_deadline(false), Some(12 * MS));
    }
}
