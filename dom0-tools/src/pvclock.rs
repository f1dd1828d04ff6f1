//! Xen system time from a vcpu_time_info snapshot and the TSC (the PV clock formula).

use hypercall_abi::shared_info::VcpuTimeInfo;

/// Nanoseconds of system time at TSC value `tsc`: the snapshot's `system_time` plus the TSC
/// ticks since `tsc_timestamp`, shifted by `tsc_shift` and scaled by `tsc_to_system_mul`
/// (a 32.32 fixed-point factor). The ticks are counted modulo 2^64, as Linux's pvclock does:
/// a domain whose TSC Xen virtualises gets a `tsc_timestamp` from before the domain's TSC
/// started, i.e. "negative" (seen on Xen 4.17 for a DomU). A TSC behind the snapshot (by less
/// than 2^63 ticks) counts as no time elapsed.
pub fn system_time_ns(t: &VcpuTimeInfo, tsc: u64) -> u64 {
    let delta = match tsc.wrapping_sub(t.tsc_timestamp) {
        d if d > i64::MAX as u64 => 0,
        d => d,
    };
    t.system_time.saturating_add(ticks_to_ns(t, delta))
}

/// Nanoseconds that `delta` TSC ticks make, by the snapshot's scale.
pub fn ticks_to_ns(t: &VcpuTimeInfo, delta: u64) -> u64 {
    let shift = i32::from(t.tsc_shift);
    let shifted = match shift {
        0..=63 => delta.checked_shl(shift as u32).unwrap_or(u64::MAX),
        -63..=-1 => delta >> (-shift) as u32,
        _ => 0,
    };
    let scaled = (u128::from(shifted) * u128::from(t.tsc_to_system_mul)) >> 32;
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(shift: i8, mul: u32) -> VcpuTimeInfo {
        VcpuTimeInfo {
            version: 2,
            tsc_timestamp: 1_000,
            system_time: 5_000_000,
            tsc_to_system_mul: mul,
            tsc_shift: shift,
            ..VcpuTimeInfo::default()
        }
    }

    #[test]
    fn scales_ticks_since_the_snapshot() {
        // 2 GHz: shift -1, mul (almost) 2^32, i.e. x1: 2 ticks make 1 ns.
        let t = info(-1, u32::MAX);
        assert_eq!(system_time_ns(&t, 1_000), 5_000_000);
        assert_eq!(system_time_ns(&t, 3_000), 5_000_999);
        // mul 2^31 is x0.5.
        let t = info(0, 1 << 31);
        assert_eq!(system_time_ns(&t, 3_000), 5_001_000);
        // 500 MHz: shift +1, mul 2^32: 1 tick is 2 ns.
        let t = info(1, u32::MAX);
        let ns = system_time_ns(&t, 1_000 + 500_000);
        assert!((5_999_999..=6_000_000).contains(&ns), "{ns}");
        // A TSC behind the snapshot does not go back in time.
        assert_eq!(system_time_ns(&t, 0), 5_000_000);
        // A snapshot from before the TSC's zero (a virtualised TSC) still counts the ticks.
        let before_zero = VcpuTimeInfo {
            tsc_timestamp: 1000u64.wrapping_neg(),
            ..info(0, 1 << 31)
        };
        assert_eq!(system_time_ns(&before_zero, 3_000), 5_002_000);
        // Absurd shifts give no garbage panics.
        assert_eq!(system_time_ns(&info(-100, 1), 9_999), 5_000_000);
        assert!(system_time_ns(&info(100, u32::MAX), 9_999) >= 5_000_000);
    }
}
