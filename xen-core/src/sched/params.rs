//! The credit scheduler's tunables: per-domain weight and cap, global time slice and rate limit.
//!
//! Numbers are Xen 4.17's (`common/sched/credit.c`, `public/sysctl.h`): weight 256 by default,
//! a 30 ms time slice cut into 3 ticks, 10 credits per millisecond of CPU, a 1 ms rate limit
//! (`sched_ratelimit_us`), slices of 1..=1000 ms and rate limits of 100..=500000 us (or 0 for
//! none) accepted by the sysctl.

use hypercall_abi::Errno;

/// Weight of a new domain (`CSCHED_DEFAULT_WEIGHT`).
pub const DEFAULT_WEIGHT: u32 = 256;
/// Smallest weight accepted.
pub const MIN_WEIGHT: u32 = 1;
/// Largest weight accepted (the domctl field is 16 bits).
pub const MAX_WEIGHT: u32 = 65535;
/// Largest cap accepted, in percent of one CPU; the domctl's 0xFFFF means "leave the cap".
pub const MAX_CAP: u32 = 65534;
/// Cap value of the domctl that leaves the cap as it is.
pub const DOMCTL_CAP_UNCHANGED: u16 = 0xFFFF;
/// Weight value of the domctl that leaves the weight as it is.
pub const DOMCTL_WEIGHT_UNCHANGED: u16 = 0;

/// Default time slice (`CSCHED_DEFAULT_TSLICE_MS`).
pub const DEFAULT_TSLICE_MS: u32 = 30;
/// Smallest time slice the sysctl accepts (`XEN_SYSCTL_CSCHED_TSLICE_MIN`).
pub const TSLICE_MIN_MS: u32 = 1;
/// Largest time slice the sysctl accepts (`XEN_SYSCTL_CSCHED_TSLICE_MAX`).
pub const TSLICE_MAX_MS: u32 = 1000;
/// Ticks per time slice (`CSCHED_TICKS_PER_TSLICE`).
pub const TICKS_PER_TSLICE: u32 = 3;
/// Credits burnt per millisecond of CPU (`CSCHED_CREDITS_PER_MSEC`).
pub const CREDITS_PER_MSEC: u64 = 10;
/// Default rate limit: the shortest run before preemption (`sched_ratelimit_us`).
pub const DEFAULT_RATELIMIT_US: u32 = 1000;
/// Smallest non-zero rate limit (`XEN_SYSCTL_SCHED_RATELIMIT_MIN`); also the shortest timer.
pub const RATELIMIT_MIN_US: u32 = 100;
/// Largest rate limit (`XEN_SYSCTL_SCHED_RATELIMIT_MAX`).
pub const RATELIMIT_MAX_US: u32 = 500_000;

/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// Nanoseconds per microsecond.
pub const NS_PER_US: u64 = 1_000;

/// A domain's scheduling parameters (`struct xen_domctl_sched_credit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomParams {
    /// Relative share of CPU against other domains, 1..=65535.
    pub weight: u32,
    /// Most CPU the domain may use, in percent of one CPU; 0 means no cap.
    pub cap: u32,
}

impl Default for DomParams {
    fn default() -> Self {
        DomParams {
            weight: DEFAULT_WEIGHT,
            cap: 0,
        }
    }
}

impl DomParams {
    /// Checked parameters: `Errno::Inval` for a weight outside 1..=65535 or a cap above 65534.
    pub fn new(weight: u32, cap: u32) -> Result<Self, Errno> {
        if !(MIN_WEIGHT..=MAX_WEIGHT).contains(&weight) || cap > MAX_CAP {
            return Err(Errno::Inval);
        }
        Ok(DomParams { weight, cap })
    }

    /// The parameters after a domctl `putinfo` with 16-bit fields: weight 0 and cap 0xFFFF
    /// leave that field as it is, as Xen does.
    pub fn with_domctl(self, weight: u16, cap: u16) -> Self {
        DomParams {
            weight: if weight == DOMCTL_WEIGHT_UNCHANGED {
                self.weight
            } else {
                u32::from(weight)
            },
            cap: if cap == DOMCTL_CAP_UNCHANGED {
                self.cap
            } else {
                u32::from(cap)
            },
        }
    }
}

/// The scheduler-wide settings (`struct xen_sysctl_credit_schedule`), with derived values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    tslice_ms: u32,
    ratelimit_us: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            tslice_ms: DEFAULT_TSLICE_MS,
            ratelimit_us: DEFAULT_RATELIMIT_US,
        }
    }
}

impl Timing {
    /// Checked settings, with the sysctl's rules: a slice of 1..=1000 ms, a rate limit of 0
    /// (off) or 100..=500000 us and not longer than the slice. Otherwise `Errno::Inval`.
    pub fn new(tslice_ms: u32, ratelimit_us: u32) -> Result<Self, Errno> {
        let slice_ok = (TSLICE_MIN_MS..=TSLICE_MAX_MS).contains(&tslice_ms);
        let rate_ok = ratelimit_us == 0
            || ((RATELIMIT_MIN_US..=RATELIMIT_MAX_US).contains(&ratelimit_us)
                && u64::from(ratelimit_us) * NS_PER_US <= u64::from(tslice_ms) * NS_PER_MS);
        if !slice_ok || !rate_ok {
            return Err(Errno::Inval);
        }
        Ok(Timing {
            tslice_ms,
            ratelimit_us,
        })
    }

    /// The time slice in milliseconds.
    pub fn tslice_ms(&self) -> u32 {
        self.tslice_ms
    }

    /// The rate limit in microseconds (0: off).
    pub fn ratelimit_us(&self) -> u32 {
        self.ratelimit_us
    }

    /// The time slice in nanoseconds; also the accounting period.
    pub fn tslice_ns(&self) -> u64 {
        u64::from(self.tslice_ms) * NS_PER_MS
    }

    /// The rate limit in nanoseconds (0: off).
    pub fn ratelimit_ns(&self) -> u64 {
        u64::from(self.ratelimit_us) * NS_PER_US
    }

    /// Ticks per slice: 3, or 1 for slices shorter than 3 ms.
    pub fn ticks_per_tslice(&self) -> u32 {
        if self.tslice_ms < TICKS_PER_TSLICE {
            1
        } else {
            TICKS_PER_TSLICE
        }
    }

    /// The per-CPU tick period in nanoseconds (whole microseconds, as Xen keeps it).
    pub fn tick_period_ns(&self) -> u64 {
        u64::from(self.tslice_ms) * 1000 / u64::from(self.ticks_per_tslice()) * NS_PER_US
    }

    /// Credits one CPU hands out per accounting period.
    pub fn credits_per_tslice(&self) -> i64 {
        // At most 10 * 1000: always fits.
        (CREDITS_PER_MSEC * u64::from(self.tslice_ms)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_and_cap_ranges() {
        assert_eq!(DomParams::new(0, 0), Err(Errno::Inval));
        assert_eq!(DomParams::new(65536, 0), Err(Errno::Inval));
        assert_eq!(DomParams::new(256, 65535), Err(Errno::Inval));
        assert_eq!(DomParams::new(1, 0), Ok(DomParams { weight: 1, cap: 0 }));
        assert_eq!(
            DomParams::new(65535, 400),
            Ok(DomParams {
                weight: 65535,
                cap: 400
            })
        );
        assert_eq!(DomParams::default().weight, 256);
    }

    #[test]
    fn domctl_sentinels_keep_fields() {
        let p = DomParams {
            weight: 512,
            cap: 25,
        };
        assert_eq!(p.with_domctl(0, 0xFFFF), p);
        assert_eq!(p.with_domctl(128, 0xFFFF).weight, 128);
        assert_eq!(p.with_domctl(0, 0).cap, 0);
        assert_eq!(p.with_domctl(0, 50).weight, 512);
    }

    #[test]
    fn default_timing_is_xens() {
        let t = Timing::default();
        assert_eq!(t.tslice_ns(), 30_000_000);
        assert_eq!(t.tick_period_ns(), 10_000_000);
        assert_eq!(t.credits_per_tslice(), 300);
        assert_eq!(t.ratelimit_ns(), 1_000_000);
    }

    #[test]
    fn timing_checks_follow_the_sysctl() {
        assert_eq!(Timing::new(0, 0), Err(Errno::Inval));
        assert_eq!(Timing::new(1001, 0), Err(Errno::Inval));
        assert_eq!(Timing::new(30, 99), Err(Errno::Inval));
        assert_eq!(Timing::new(30, 500_001), Err(Errno::Inval));
        // A rate limit longer than the slice.
        assert_eq!(Timing::new(1, 1001), Err(Errno::Inval));
        assert!(Timing::new(1, 1000).is_ok());
        let t = Timing::new(2, 0).unwrap();
        assert_eq!(t.ticks_per_tslice(), 1);
        assert_eq!(t.tick_period_ns(), 2_000_000);
        assert_eq!(t.ratelimit_ns(), 0);
        let t = Timing::new(10, 100).unwrap();
        assert_eq!(t.tick_period_ns(), 3_333_000);
        assert_eq!(t.credits_per_tslice(), 100);
    }
}
