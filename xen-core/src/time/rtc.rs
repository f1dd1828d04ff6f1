//! The CMOS real-time clock's date registers turned into seconds since the Unix epoch.
//!
//! Register numbers and bits are the MC146818's: seconds 0x00, minutes 0x02, hours 0x04,
//! day of month 0x07, month 0x08, year 0x09, status A 0x0A (bit 7: update in progress),
//! status B 0x0B (bit 1: 24-hour mode, bit 2: binary rather than BCD); in 12-hour mode bit 7
//! of the hours is PM. The century is in register 0x32 on PCs whose ACPI FADT names it; without
//! it, years 70..=99 are 19xx and 00..=69 are 20xx (Xen takes the same rule). The binary reads
//! the registers (twice, until two reads agree and no update was in progress) and hands them
//! here.

use hypercall_abi::Errno;

/// Index port of the CMOS.
pub const CMOS_INDEX_PORT: u16 = 0x70;
/// Data port of the CMOS.
pub const CMOS_DATA_PORT: u16 = 0x71;
/// Seconds register.
pub const RTC_SECONDS: u8 = 0x00;
/// Minutes register.
pub const RTC_MINUTES: u8 = 0x02;
/// Hours register.
pub const RTC_HOURS: u8 = 0x04;
/// Day-of-month register.
pub const RTC_DAY_OF_MONTH: u8 = 0x07;
/// Month register.
pub const RTC_MONTH: u8 = 0x08;
/// Year-in-century register.
pub const RTC_YEAR: u8 = 0x09;
/// Status register A.
pub const RTC_STATUS_A: u8 = 0x0A;
/// Status register B.
pub const RTC_STATUS_B: u8 = 0x0B;
/// The usual century register (ACPI FADT `century`).
pub const RTC_CENTURY: u8 = 0x32;
/// Status A: an update is in progress; the date registers may be inconsistent.
pub const STATUS_A_UIP: u8 = 0x80;
/// Status B: hours run 0..=23 (else 1..=12 with a PM bit).
pub const STATUS_B_24H: u8 = 0x02;
/// Status B: registers are binary (else BCD).
pub const STATUS_B_BINARY: u8 = 0x04;
/// Hours register in 12-hour mode: afternoon.
pub const HOURS_PM: u8 = 0x80;

/// Seconds per day.
const SECS_PER_DAY: u64 = 86_400;

/// One consistent read of the RTC's date registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcRegs {
    /// Register 0x00.
    pub seconds: u8,
    /// Register 0x02.
    pub minutes: u8,
    /// Register 0x04.
    pub hours: u8,
    /// Register 0x07.
    pub day: u8,
    /// Register 0x08.
    pub month: u8,
    /// Register 0x09.
    pub year: u8,
    /// The century register, when the platform has one.
    pub century: Option<u8>,
    /// Register 0x0B.
    pub status_b: u8,
}

/// A calendar date and time of day (UTC, proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// Full year, such as 2024.
    pub year: u32,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=59.
    pub second: u32,
}

/// Is `year` a leap year (divisible by 4, except centuries not divisible by 400)?
pub fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1..=12) of `year`; 0 for a month out of range.
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to `year`-`month`-`day` (valid date, year >= 1970).
fn days_since_epoch(year: u32, month: u32, day: u32) -> u64 {
    // Count whole years, then whole months of the last year.
    let y = u64::from(year);
    let leaps = |y: u64| y / 4 - y / 100 + y / 400; // leap years in 1..=y
    let mut days = (y - 1970) * 365 + leaps(y - 1) - leaps(1969);
    for m in 1..month {
        days += u64::from(days_in_month(year, m));
    }
    days + u64::from(day) - 1
}

impl DateTime {
    /// Seconds since 1970-01-01 00:00:00 UTC. `Errno::Inval` for an impossible date or time
    /// or one before 1970.
    pub fn unix_seconds(&self) -> Result<u64, Errno> {
        let valid = self.year >= 1970
            && (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        if !valid {
            return Err(Errno::Inval);
        }
        let days = days_since_epoch(self.year, self.month, self.day);
        Ok(days * SECS_PER_DAY
            + u64::from(self.hour) * 3600
            + u64::from(self.minute) * 60
            + u64::from(self.second))
    }
}

/// A BCD byte's value; `Errno::Inval` for a nibble above 9.
fn from_bcd(b: u8) -> Result<u32, Errno> {
    let (hi, lo) = (b >> 4, b & 0xF);
    if hi > 9 || lo > 9 {
        return Err(Errno::Inval);
    }
    Ok(u32::from(hi) * 10 + u32::from(lo))
}

impl RtcRegs {
    /// The date the registers hold, decoding BCD or binary and 12- or 24-hour mode as status
    /// B says. `Errno::Inval` for a value the mode does not allow.
    pub fn date_time(&self) -> Result<DateTime, Errno> {
        let binary = self.status_b & STATUS_B_BINARY != 0;
        let decode = |b: u8| {
            if binary {
                Ok(u32::from(b))
            } else {
                from_bcd(b)
            }
        };
        let hour = if self.status_b & STATUS_B_24H != 0 {
            decode(self.hours)?
        } else {
            let h = decode(self.hours & !HOURS_PM)?;
            if !(1..=12).contains(&h) {
                return Err(Errno::Inval);
            }
            // 12 AM is 0, 12 PM is 12.
            (h % 12) + if self.hours & HOURS_PM != 0 { 12 } else { 0 }
        };
        let yy = decode(self.year)?;
        if yy > 99 {
            return Err(Errno::Inval);
        }
        let year = match self.century {
            Some(c) => decode(c)? * 100 + yy,
            None if yy < 70 => 2000 + yy,
            None => 1900 + yy,
        };
        Ok(DateTime {
            year,
            month: decode(self.month)?,
            day: decode(self.day)?,
            hour,
            minute: decode(self.minutes)?,
            second: decode(self.seconds)?,
        })
    }

    /// Seconds since the Unix epoch of the date the registers hold.
    pub fn unix_seconds(&self) -> Result<u64, Errno> {
        self.date_time()?.unix_seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> DateTime {
        DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    /// BCD, 24-hour registers for a date with a century register.
    fn bcd(year: u32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> RtcRegs {
        let b = |v: u32| ((v / 10) << 4 | (v % 10)) as u8;
        RtcRegs {
            seconds: b(second.into()),
            minutes: b(minute.into()),
            hours: b(hour.into()),
            day: b(day.into()),
            month: b(month.into()),
            year: b(year % 100),
            century: Some(b(year / 100)),
            status_b: STATUS_B_24H,
        }
    }

    #[test]
    fn known_dates() {
        // Values checked against a reference implementation of the proleptic Gregorian
        // calendar (Python's calendar.timegm).
        assert_eq!(dt(1970, 1, 1, 0, 0, 0).unix_seconds(), Ok(0));
        assert_eq!(dt(1999, 12, 31, 23, 59, 59).unix_seconds(), Ok(946_684_799));
        assert_eq!(dt(2000, 1, 1, 0, 0, 0).unix_seconds(), Ok(946_684_800));
        assert_eq!(dt(2000, 2, 29, 12, 0, 0).unix_seconds(), Ok(951_825_600));
        assert_eq!(
            dt(2024, 2, 29, 23, 59, 59).unix_seconds(),
            Ok(1_709_251_199)
        );
        assert_eq!(dt(2038, 1, 19, 3, 14, 8).unix_seconds(), Ok(1 << 31));
        assert_eq!(
            dt(2100, 2, 28, 12, 34, 56).unix_seconds(),
            Ok(4_107_501_296)
        );
        assert_eq!(dt(2100, 3, 1, 0, 0, 0).unix_seconds(), Ok(4_107_542_400));
        assert_eq!(dt(2400, 2, 29, 0, 0, 0).unix_seconds(), Ok(13_574_563_200));
    }

    #[test]
    fn leap_year_rules() {
        assert!(is_leap_year(2000)); // divisible by 400
        assert!(!is_leap_year(2100)); // century
        assert!(!is_leap_year(1900));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(2023));
        assert_eq!(dt(2100, 2, 29, 0, 0, 0).unix_seconds(), Err(Errno::Inval));
        assert_eq!(dt(2023, 2, 29, 0, 0, 0).unix_seconds(), Err(Errno::Inval));
        assert!(dt(2000, 2, 29, 0, 0, 0).unix_seconds().is_ok());
        // 2100-02-28 + one day is 2100-03-01.
        let feb28 = dt(2100, 2, 28, 0, 0, 0).unix_seconds().unwrap();
        assert_eq!(dt(2100, 3, 1, 0, 0, 0).unix_seconds(), Ok(feb28 + 86_400));
    }

    #[test]
    fn impossible_values_are_refused() {
        for bad in [
            dt(1969, 12, 31, 23, 59, 59),
            dt(2024, 13, 1, 0, 0, 0),
            dt(2024, 0, 1, 0, 0, 0),
            dt(2024, 4, 31, 0, 0, 0),
            dt(2024, 1, 0, 0, 0, 0),
            dt(2024, 1, 1, 24, 0, 0),
            dt(2024, 1, 1, 0, 60, 0),
            dt(2024, 1, 1, 0, 0, 60),
        ] {
            assert_eq!(bad.unix_seconds(), Err(Errno::Inval), "{bad:?}");
        }
    }

    #[test]
    fn bcd_registers_with_century() {
        assert_eq!(
            bcd(2024, 2, 29, 23, 59, 59).unix_seconds(),
            Ok(1_709_251_199)
        );
        assert_eq!(bcd(2100, 3, 1, 0, 0, 0).unix_seconds(), Ok(4_107_542_400));
        assert_eq!(
            bcd(1999, 12, 31, 23, 59, 59).unix_seconds(),
            Ok(946_684_799)
        );
        // A nibble above 9 is not BCD.
        let mut r = bcd(2024, 1, 1, 0, 0, 0);
        r.minutes = 0x5A;
        assert_eq!(r.unix_seconds(), Err(Errno::Inval));
    }

    #[test]
    fn two_digit_years_without_century() {
        let mut r = bcd(2000, 2, 29, 12, 0, 0);
        r.century = None;
        assert_eq!(r.unix_seconds(), Ok(951_825_600)); // 00 -> 2000
        let mut r = bcd(1999, 12, 31, 23, 59, 59);
        r.century = None;
        assert_eq!(r.unix_seconds(), Ok(946_684_799)); // 99 -> 1999
        let mut r = bcd(2069, 1, 1, 0, 0, 0);
        r.century = None;
        assert_eq!(r.date_time().unwrap().year, 2069);
        r.year = 0x70;
        assert_eq!(r.date_time().unwrap().year, 1970);
    }

    #[test]
    fn binary_mode() {
        let r = RtcRegs {
            seconds: 59,
            minutes: 59,
            hours: 23,
            day: 29,
            month: 2,
            year: 24,
            century: Some(20),
            status_b: STATUS_B_24H | STATUS_B_BINARY,
        };
        assert_eq!(r.unix_seconds(), Ok(1_709_251_199));
        let mut r = r;
        r.year = 100;
        assert_eq!(r.unix_seconds(), Err(Errno::Inval));
    }

    #[test]
    fn twelve_hour_mode() {
        let at = |hours: u8, binary: bool| {
            let mut r = bcd(2000, 2, 29, 0, 0, 0);
            r.status_b = if binary { STATUS_B_BINARY } else { 0 };
            r.hours = hours;
            r.date_time().map(|d| d.hour)
        };
        assert_eq!(at(0x12, false), Ok(0)); // 12 AM
        assert_eq!(at(0x01, false), Ok(1));
        assert_eq!(at(0x11, false), Ok(11));
        assert_eq!(at(0x12 | HOURS_PM, false), Ok(12)); // 12 PM
        assert_eq!(at(0x01 | HOURS_PM, false), Ok(13));
        assert_eq!(at(0x11 | HOURS_PM, false), Ok(23));
        assert_eq!(at(11 | HOURS_PM, true), Ok(23));
        assert_eq!(at(12, true), Ok(0));
        assert_eq!(at(0x00, false), Err(Errno::Inval));
        assert_eq!(at(0x13, false), Err(Errno::Inval));
        let mut r = bcd(2000, 2, 29, 0, 0, 0);
        r.status_b = 0;
        r.hours = 0x12 | HOURS_PM;
        assert_eq!(r.unix_seconds(), Ok(951_825_600));
    }
}
