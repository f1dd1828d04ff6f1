//! The time of day at system time 0, worked out from the RTC once at boot.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use xen_core::time::rtc::RtcRegs;
use xen_core::time::wallclock::WallClock;

use super::rtc::RtcRaw;
use super::tsc;

/// Whole seconds of the base.
static SEC: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds of the base.
static NSEC: AtomicU32 = AtomicU32::new(0);

/// Records the base from an RTC reading taken just now (after the TSC's calibration). As in
/// Xen, the century register is not trusted: years 70-99 are 19xx, 00-69 20xx. Returns the
/// Unix time read, or `None` (the base stays at the epoch) for registers that hold no date.
pub fn set_from_rtc(raw: &RtcRaw) -> Option<u64> {
    let regs = RtcRegs {
        seconds: raw.seconds,
        minutes: raw.minutes,
        hours: raw.hours,
        day: raw.day,
        month: raw.month,
        year: raw.year,
        century: None,
        status_b: raw.status_b,
    };
    let secs = regs.unix_seconds().ok()?;
    let base = WallClock::from_reading(secs, 0, tsc::now_ns()).ok()?;
    SEC.store(base.sec, Ordering::Relaxed);
    NSEC.store(base.nsec, Ordering::Relaxed);
    Some(secs)
}

/// The time of day at system time 0 (the epoch if the RTC gave nothing usable).
pub fn base() -> WallClock {
    WallClock {
        sec: SEC.load(Ordering::Relaxed),
        nsec: NSEC.load(Ordering::Relaxed),
    }
}
