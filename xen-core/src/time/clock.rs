//! System time: nanoseconds since boot, read from the TSC through its scale.

use hypercall_abi::Errno;
use hypercall_abi::shared_info::XEN_PVCLOCK_TSC_STABLE_BIT;

use super::tsc_scale::TscScale;
use super::vcpu_time::VcpuTimeBody;

/// Turns TSC readings into system time, 0 at the TSC value `tsc_at_zero`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemClock {
    tsc_at_zero: u64,
    tsc_hz: u64,
    scale: TscScale,
    tsc_stable: bool,
}

impl SystemClock {
    /// A clock for a TSC of `tsc_hz` that read `tsc_at_zero` at system time 0. `tsc_stable`
    /// says the TSC is invariant and synchronised across CPUs (published as
    /// `XEN_PVCLOCK_TSC_STABLE_BIT`). `Errno::Inval` for a zero frequency.
    pub fn new(tsc_hz: u64, tsc_at_zero: u64, tsc_stable: bool) -> Result<Self, Errno> {
        Ok(SystemClock {
            tsc_at_zero,
            tsc_hz,
            scale: TscScale::from_hz(tsc_hz)?,
            tsc_stable,
        })
    }

    /// A clock from the parts of one made by [`SystemClock::new`] (no division: cheap enough to
    /// rebuild on every use from values kept elsewhere).
    pub const fn from_parts(
        tsc_hz: u64,
        tsc_at_zero: u64,
        scale: TscScale,
        tsc_stable: bool,
    ) -> Self {
        SystemClock {
            tsc_at_zero,
            tsc_hz,
            scale,
            tsc_stable,
        }
    }

    /// The TSC value at system time 0.
    pub fn tsc_at_zero(&self) -> u64 {
        self.tsc_at_zero
    }

    /// Whether the TSC is published as stable.
    pub fn tsc_stable(&self) -> bool {
        self.tsc_stable
    }

    /// The TSC frequency in Hz.
    pub fn tsc_hz(&self) -> u64 {
        self.tsc_hz
    }

    /// The TSC-to-ns scale guests get.
    pub fn scale(&self) -> TscScale {
        self.scale
    }

    /// System time in ns at TSC value `tsc` (0 before `tsc_at_zero`).
    pub fn now_ns(&self, tsc: u64) -> u64 {
        self.scale.ticks_to_ns(tsc.saturating_sub(self.tsc_at_zero))
    }

    /// The `vcpu_time_info` contents for TSC value `tsc`.
    pub fn time_info(&self, tsc: u64) -> VcpuTimeBody {
        VcpuTimeBody {
            tsc_timestamp: tsc,
            system_time: self.now_ns(tsc),
            scale: self.scale,
            flags: if self.tsc_stable {
                XEN_PVCLOCK_TSC_STABLE_BIT
            } else {
                0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_its_zero() {
        let c = SystemClock::new(2_500_000_000, 1_000_000, true).unwrap();
        assert_eq!(c.now_ns(0), 0);
        assert_eq!(c.now_ns(1_000_000), 0);
        let one_sec = c.now_ns(1_000_000 + 2_500_000_000);
        assert!(one_sec.abs_diff(1_000_000_000) <= 1, "{one_sec}");
        assert_eq!(c.tsc_hz(), 2_500_000_000);
        assert_eq!(SystemClock::new(0, 0, false), Err(Errno::Inval));
    }

    #[test]
    fn time_info_lets_the_guest_extrapolate() {
        let c = SystemClock::new(3_700_000_000, 0, true).unwrap();
        let info = c.time_info(37_000_000_000); // at 10 s
        assert_eq!(info.flags, XEN_PVCLOCK_TSC_STABLE_BIT);
        assert!(info.system_time.abs_diff(10_000_000_000) <= 10);
        // 50 ms later, the guest's extrapolation agrees with the clock to a few ns.
        let tsc = 37_000_000_000 + 185_000_000;
        assert!(info.guest_time_at(tsc).abs_diff(c.now_ns(tsc)) <= 2);
        let unstable = SystemClock::new(1_000_000_000, 0, false).unwrap();
        assert_eq!(unstable.time_info(5).flags, 0);
        let rebuilt =
            SystemClock::from_parts(c.tsc_hz(), c.tsc_at_zero(), c.scale(), c.tsc_stable());
        assert_eq!(rebuilt, c);
    }
}
