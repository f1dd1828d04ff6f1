//! The wall clock in `shared_info`: the time of day at system time 0 (`wc_sec`, `wc_nsec`).
//!
//! A guest adds its system time to it to get the time of day. Xen's `do_settime` turns a
//! reading of the time of day taken at some system time into that base, and each domain
//! sees it shifted by its own offset in seconds (`XEN_DOMCTL_settimeoffset`). The seconds
//! are 64-bit: the low half in `wc_sec`, the high half in `wc_sec_hi`.

use core::sync::atomic::{Ordering, compiler_fence};

use hypercall_abi::Errno;
use hypercall_abi::shared_info::SharedInfo;

use super::seqlock::SeqArea;
use super::tsc_scale::NS_PER_SEC;

/// Time of day at system time 0, in seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WallClock {
    /// Whole seconds.
    pub sec: u64,
    /// Nanoseconds, below 10^9.
    pub nsec: u32,
}

/// The wall-clock fields of `shared_info` other than the version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WallClockBody {
    /// Seconds, low 32 bits.
    pub wc_sec: u32,
    /// Nanoseconds.
    pub wc_nsec: u32,
    /// Seconds, high 32 bits.
    pub wc_sec_hi: u32,
}

impl WallClock {
    /// The base from a reading of `unix_sec` s + `unix_nsec` ns taken at system time
    /// `system_time_ns`. `Errno::Inval` for `unix_nsec` of a second or more, or a reading
    /// earlier than the system time it was taken at.
    pub fn from_reading(unix_sec: u64, unix_nsec: u32, system_time_ns: u64) -> Result<Self, Errno> {
        if u64::from(unix_nsec) >= NS_PER_SEC {
            return Err(Errno::Inval);
        }
        let total = u128::from(unix_sec) * u128::from(NS_PER_SEC) + u128::from(unix_nsec);
        let base = total
            .checked_sub(u128::from(system_time_ns))
            .ok_or(Errno::Inval)?;
        let sec = u64::try_from(base / u128::from(NS_PER_SEC)).map_err(|_| Errno::Inval)?;
        // Below 10^9: fits.
        let nsec = (base % u128::from(NS_PER_SEC)) as u32;
        Ok(WallClock { sec, nsec })
    }

    /// The base a domain with a time offset of `offset_sec` seconds sees (clamped at 0).
    pub fn offset_by(self, offset_sec: i64) -> Self {
        WallClock {
            sec: self.sec.saturating_add_signed(offset_sec),
            nsec: self.nsec,
        }
    }

    /// The time of day at system time `system_time_ns`.
    pub fn at(&self, system_time_ns: u64) -> (u64, u32) {
        let ns = u128::from(self.nsec) + u128::from(system_time_ns);
        let sec = self
            .sec
            .saturating_add(u64::try_from(ns / u128::from(NS_PER_SEC)).unwrap_or(u64::MAX));
        (sec, (ns % u128::from(NS_PER_SEC)) as u32)
    }

    /// The `shared_info` fields.
    pub fn body(&self) -> WallClockBody {
        WallClockBody {
            wc_sec: self.sec as u32,
            wc_nsec: self.nsec,
            wc_sec_hi: (self.sec >> 32) as u32,
        }
    }
}

/// A `shared_info` in memory that no one reads while it is written (a hypervisor-private
/// copy, or a test). Pages shared with a running guest need volatile stores.
impl SeqArea for SharedInfo {
    type Body = WallClockBody;

    fn store_version(&mut self, version: u32) {
        self.wc_version = version;
    }

    fn store_body(&mut self, body: &WallClockBody) {
        self.wc_sec = body.wc_sec;
        self.wc_nsec = body.wc_nsec;
        self.wc_sec_hi = body.wc_sec_hi;
    }

    fn store_fence(&mut self) {
        compiler_fence(Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::seqlock::SeqWriter;

    #[test]
    fn base_is_the_reading_minus_system_time() {
        // Read 2024-02-29 23:59:59.5 at 2.75 s after boot.
        let wc = WallClock::from_reading(1_709_251_199, 500_000_000, 2_750_000_000).unwrap();
        assert_eq!(
            wc,
            WallClock {
                sec: 1_709_251_196,
                nsec: 750_000_000
            }
        );
        assert_eq!(wc.at(2_750_000_000), (1_709_251_199, 500_000_000));
        assert_eq!(wc.at(3_250_000_000), (1_709_251_200, 0));
        assert_eq!(
            WallClock::from_reading(0, 1_000_000_000, 0),
            Err(Errno::Inval)
        );
        assert_eq!(
            WallClock::from_reading(1, 0, 2_000_000_000),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn seconds_split_into_low_and_high_words() {
        let wc = WallClock {
            sec: 0x1_2345_6789,
            nsec: 7,
        };
        assert_eq!(
            wc.body(),
            WallClockBody {
                wc_sec: 0x2345_6789,
                wc_nsec: 7,
                wc_sec_hi: 1
            }
        );
        assert_eq!(wc.offset_by(-0x1_2345_6789).sec, 0);
        assert_eq!(wc.offset_by(-0x2_0000_0000).sec, 0);
        assert_eq!(wc.offset_by(3600).sec, 0x1_2345_6789 + 3600);
    }

    #[test]
    fn publish_into_shared_info() {
        let mut si = SharedInfo::default();
        let mut w = SeqWriter::new();
        let wc = WallClock {
            sec: 4_107_542_400, // 2100-03-01: above 2^31
            nsec: 123,
        };
        w.publish(&mut si, &wc.body());
        assert_eq!(si.wc_version, 2);
        assert_eq!(
            (si.wc_sec, si.wc_nsec, si.wc_sec_hi),
            (4_107_542_400, 123, 0)
        );
        w.publish(&mut si, &wc.offset_by(1 << 32).body());
        assert_eq!(si.wc_version, 4);
        assert_eq!(si.wc_sec_hi, 1);
        // Nothing else in the page is touched.
        assert!(si.evtchn_pending.iter().all(|&w| w == 0));
    }
}
