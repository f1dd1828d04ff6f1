//! TSC ticks to nanoseconds as `vcpu_time_info` describes it: a shift and a 32.32 multiplier.
//!
//! public/xen.h: `ns = ((delta << tsc_shift) * tsc_to_system_mul) >> 32`, a negative shift
//! shifting right, and the 64x32-bit product kept to 96 bits. The pair is chosen as Xen's
//! `set_time_scale` does: the rate is halved (shift - 1) while above 2 GHz, then doubled
//! (shift + 1) while at or below 1 GHz, so it ends in (1 GHz, 2 GHz]; the multiplier is
//! 10^9 * 2^32 / that rate, rounded down (< 2^32).

use hypercall_abi::Errno;

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// A TSC-to-ns scale (`tsc_to_system_mul`, `tsc_shift`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TscScale {
    /// The 32.32 fixed-point multiplier (always below 1.0, i.e. 2^32).
    pub mul_frac: u32,
    /// Left shift applied to the tick count first; negative shifts right.
    pub shift: i8,
}

impl TscScale {
    /// The scale for a counter running at `hz` ticks per second; `Errno::Inval` for 0.
    pub fn from_hz(hz: u64) -> Result<Self, Errno> {
        if hz == 0 {
            return Err(Errno::Inval);
        }
        let mut rate = hz;
        let mut shift: i8 = 0;
        while rate > 2 * NS_PER_SEC {
            rate >>= 1;
            shift -= 1;
        }
        while rate <= NS_PER_SEC {
            rate <<= 1;
            shift += 1;
        }
        // rate is in (10^9, 2*10^9]: the quotient is below 2^32.
        let mul = (u128::from(NS_PER_SEC) << 32) / u128::from(rate);
        let mul_frac = u32::try_from(mul).map_err(|_| Errno::Inval)?;
        Ok(TscScale { mul_frac, shift })
    }

    /// Nanoseconds for `delta` ticks, computed exactly as a guest does from the ABI fields
    /// (the shifted count is a 64-bit value, the product is taken to 96 bits).
    pub fn ticks_to_ns(&self, delta: u64) -> u64 {
        let shifted = if self.shift >= 0 {
            delta
                .checked_shl(u32::from(self.shift.unsigned_abs()))
                .unwrap_or(0)
        } else {
            delta
                .checked_shr(u32::from(self.shift.unsigned_abs()))
                .unwrap_or(0)
        };
        ((u128::from(shifted) * u128::from(self.mul_frac)) >> 32) as u64
    }

    /// The counter rate the scale stands for, as xen.h gives it:
    /// `((10^9 << 32) / tsc_to_system_mul) >> tsc_shift`. `None` for a zero multiplier.
    pub fn approx_hz(&self) -> Option<u64> {
        if self.mul_frac == 0 {
            return None;
        }
        let base = (u128::from(NS_PER_SEC) << 32) / u128::from(self.mul_frac);
        let hz = if self.shift >= 0 {
            base >> self.shift.unsigned_abs()
        } else {
            base << self.shift.unsigned_abs()
        };
        u64::try_from(hz).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error of `ticks_to_ns` over `secs` seconds of ticks at `hz`, in ppm.
    fn error_ppm(hz: u64, secs: u64) -> f64 {
        let s = TscScale::from_hz(hz).unwrap();
        let ns = s.ticks_to_ns(hz * secs) as f64;
        let want = (secs * NS_PER_SEC) as f64;
        (ns - want).abs() / want * 1e6
    }

    #[test]
    fn known_frequencies() {
        // Worked by hand from the rule: rate in (1 GHz, 2 GHz], mul = 10^9 * 2^32 / rate.
        assert_eq!(
            TscScale::from_hz(1_000_000_000),
            Ok(TscScale {
                mul_frac: 1 << 31,
                shift: 1
            })
        );
        assert_eq!(
            TscScale::from_hz(2_000_000_000),
            Ok(TscScale {
                mul_frac: 1 << 31,
                shift: 0
            })
        );
        assert_eq!(
            TscScale::from_hz(2_500_000_000),
            Ok(TscScale {
                mul_frac: 3_435_973_836,
                shift: -1
            })
        );
        assert_eq!(
            TscScale::from_hz(3_700_000_000),
            Ok(TscScale {
                mul_frac: 2_321_603_943,
                shift: -1
            })
        );
        assert_eq!(
            TscScale::from_hz(100_000_000),
            Ok(TscScale {
                mul_frac: 2_684_354_560,
                shift: 4
            })
        );
        assert_eq!(TscScale::from_hz(0), Err(Errno::Inval));
    }

    #[test]
    fn scaling_error_is_below_one_ppm() {
        for hz in [
            1_000_000_000,
            2_500_000_000,
            3_700_000_000,
            100_000_000,
            2_893_437_517,
            14_318_180,
            1_193_182,
            5_000_000_000,
        ] {
            for secs in [1, 10, 3600] {
                let e = error_ppm(hz, secs);
                assert!(e < 1.0, "{hz} Hz over {secs} s: {e} ppm");
            }
        }
        // Exact where the rate is a power of two times 1 GHz or a round fraction of it.
        let s = TscScale::from_hz(1_000_000_000).unwrap();
        assert_eq!(s.ticks_to_ns(123_456_789), 123_456_789);
        let s = TscScale::from_hz(100_000_000).unwrap();
        assert_eq!(s.ticks_to_ns(12_345), 123_450);
    }

    #[test]
    fn matches_the_xen_h_formula() {
        // The guest's computation, written out from public/xen.h with plain integer steps.
        fn guest(delta: u64, mul: u32, shift: i8) -> u64 {
            let d = if shift >= 0 {
                delta << shift
            } else {
                delta >> -shift
            };
            let lo = (d & 0xffff_ffff) * u64::from(mul);
            let hi = (d >> 32) * u64::from(mul);
            hi + (lo >> 32)
        }
        for hz in [1_000_000_000u64, 2_500_000_000, 3_700_000_000, 100_000_000] {
            let s = TscScale::from_hz(hz).unwrap();
            for delta in [0u64, 1, 999, 1 << 20, 123_456_789_012, 1 << 40] {
                assert_eq!(s.ticks_to_ns(delta), guest(delta, s.mul_frac, s.shift));
            }
        }
    }

    #[test]
    fn frequency_round_trips() {
        for hz in [1_000_000_000u64, 2_500_000_000, 3_700_000_000, 100_000_000] {
            let back = TscScale::from_hz(hz).unwrap().approx_hz().unwrap();
            let ppm = (back as f64 - hz as f64).abs() / hz as f64 * 1e6;
            assert!(ppm < 1.0, "{hz} -> {back}");
        }
        let zero = TscScale {
            mul_frac: 0,
            shift: 0,
        };
        assert_eq!(zero.approx_hz(), None);
    }

    #[test]
    fn extreme_rates_stay_in_range() {
        let slow = TscScale::from_hz(1).unwrap();
        assert_eq!(slow.shift, 30);
        assert_eq!(slow.ticks_to_ns(3), 3 * NS_PER_SEC);
        let fast = TscScale::from_hz(u64::MAX).unwrap();
        assert!(fast.shift < 0);
        assert!(fast.mul_frac > 1 << 31);
    }
}
