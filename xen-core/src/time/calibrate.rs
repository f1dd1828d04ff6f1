//! Frequency arithmetic for calibrating the TSC (and the local APIC timer) against the PIT.
//!
//! The binary gates PIT channel 2 for a known count (at 1193182 Hz) and counts TSC ticks
//! until its output goes high; the frequency is the ticks scaled by the PIT's rate over the
//! count. Xen loads 1/20 s (`CALIBRATE_LATCH`) and multiplies by 20; here the exact count is
//! used, which removes the 1.7 ppm that the rounded latch costs.

/// The PIT's input clock (`CLOCK_TICK_RATE`).
pub const PIT_HZ: u64 = 1_193_182;
/// PIT channel 2 data port.
pub const PIT_CH2_PORT: u16 = 0x42;
/// PIT mode/command port.
pub const PIT_MODE_PORT: u16 = 0x43;
/// Mode byte: channel 2, low then high byte, mode 0 (interrupt on terminal count), binary.
pub const PIT_MODE_CH2_ONESHOT: u8 = 0xB0;
/// The system control port B (NMI status and control).
pub const PORT_B: u16 = 0x61;
/// Port B: PIT channel 2 gate.
pub const PORT_B_CH2_GATE: u8 = 0x01;
/// Port B: speaker data enable (kept off while calibrating).
pub const PORT_B_SPEAKER: u8 = 0x02;
/// Port B: PIT channel 2 output.
pub const PORT_B_CH2_OUT: u8 = 0x20;
/// Calibration interval as a fraction of a second (Xen's `CALIBRATE_FRAC`: 50 ms).
pub const CALIBRATE_FRAC: u64 = 20;
/// PIT count for the calibration interval (Xen's `CALIBRATE_LATCH`).
pub const CALIBRATE_LATCH: u16 = ((PIT_HZ + CALIBRATE_FRAC / 2) / CALIBRATE_FRAC) as u16;

/// Frequency of a counter that advanced `counted` while a reference clock of `ref_hz`
/// advanced `ref_ticks`, rounded to the nearest Hz. `None` when either count is 0 or the
/// result does not fit.
pub fn hz_from_reference(counted: u64, ref_ticks: u64, ref_hz: u64) -> Option<u64> {
    if counted == 0 || ref_ticks == 0 || ref_hz == 0 {
        return None;
    }
    let num = u128::from(counted) * u128::from(ref_hz) + u128::from(ref_ticks / 2);
    u64::try_from(num / u128::from(ref_ticks)).ok()
}

/// TSC frequency from `tsc_ticks` counted over `pit_ticks` of the PIT.
pub fn tsc_hz_from_pit(tsc_ticks: u64, pit_ticks: u16) -> Option<u64> {
    hz_from_reference(tsc_ticks, u64::from(pit_ticks), PIT_HZ)
}

/// Ticks of a counter at `hz` in `ns` nanoseconds, rounded up (a timer never fires early);
/// saturates at `u64::MAX`.
pub fn ticks_for_ns(ns: u64, hz: u64) -> u64 {
    let t = (u128::from(ns) * u128::from(hz)).div_ceil(1_000_000_000);
    u64::try_from(t).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latch_is_xens() {
        assert_eq!(CALIBRATE_LATCH, 59_659);
        assert_eq!(PIT_MODE_CH2_ONESHOT, 0xB0);
    }

    #[test]
    fn tsc_frequency_from_a_pit_interval() {
        for hz in [1_000_000_000u64, 2_500_000_000, 3_700_000_000, 100_000_000] {
            // What an ideal TSC counts while the PIT counts CALIBRATE_LATCH.
            let ticks = hz * u64::from(CALIBRATE_LATCH) / PIT_HZ;
            let got = tsc_hz_from_pit(ticks, CALIBRATE_LATCH).unwrap();
            // Off by at most one tick of the count: 20 Hz at a 50 ms interval.
            assert!(got.abs_diff(hz) <= 20, "{hz} -> {got}");
            // Xen's shortcut (ticks * 20) is 1.7 ppm off.
            let xen = ticks * CALIBRATE_FRAC;
            let ppm = xen.abs_diff(hz) as f64 / hz as f64 * 1e6;
            assert!((1.5..1.9).contains(&ppm), "{ppm}");
        }
        assert_eq!(tsc_hz_from_pit(0, CALIBRATE_LATCH), None);
        assert_eq!(tsc_hz_from_pit(1000, 0), None);
        assert_eq!(hz_from_reference(u64::MAX, 1, u64::MAX), None);
        assert_eq!(hz_from_reference(3, 2, 1), Some(2)); // 1.5 rounds up
    }

    #[test]
    fn timer_ticks_round_up() {
        assert_eq!(ticks_for_ns(1_000_000, 1_000_000_000), 1_000_000);
        assert_eq!(ticks_for_ns(1, 100_000_000), 1); // 0.1 tick -> 1
        assert_eq!(ticks_for_ns(10_000_000, PIT_HZ), 11_932); // 11931.82
        assert_eq!(ticks_for_ns(u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(ticks_for_ns(0, 5), 0);
    }
}
