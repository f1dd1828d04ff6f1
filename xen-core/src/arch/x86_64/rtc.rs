//! The CMOS real-time clock: a consistent snapshot of its date and time registers.
//!
//! The registers are returned raw (BCD or binary, 12- or 24-hour, as status register B says);
//! converting them to seconds since the epoch is the library's business. [`RtcRaw::date`]
//! decodes them only far enough for a log line.

use super::platform::{inb, outb};

const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;

const REG_SECONDS: u8 = 0x00;
const REG_MINUTES: u8 = 0x02;
const REG_HOURS: u8 = 0x04;
const REG_DAY: u8 = 0x07;
const REG_MONTH: u8 = 0x08;
const REG_YEAR: u8 = 0x09;
const REG_STATUS_A: u8 = 0x0a;
const REG_STATUS_B: u8 = 0x0b;
/// The century (where the ACPI FADT's default points; QEMU keeps it there).
const REG_CENTURY: u8 = 0x32;

/// Status A: an update is in progress (or will start within 244 us); the time registers may
/// be inconsistent.
const STATUS_A_UIP: u8 = 1 << 7;
/// Status B: binary values (else BCD).
pub const STATUS_B_BINARY: u8 = 1 << 2;
/// Status B: 24-hour mode (else 12-hour, with bit 7 of the hours meaning PM).
pub const STATUS_B_24H: u8 = 1 << 1;

/// Attempts at a stable pair of reads before giving up.
const MAX_ATTEMPTS: u32 = 10;
/// Polls of the update-in-progress flag per wait (an update lasts about 2 ms).
const MAX_UIP_POLLS: u32 = 1_000_000;

/// The RTC's date and time registers as read, and the status register B that says how to read
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcRaw {
    /// Register 0x00.
    pub seconds: u8,
    /// Register 0x02.
    pub minutes: u8,
    /// Register 0x04 (bit 7 = PM in 12-hour mode).
    pub hours: u8,
    /// Register 0x07, day of the month.
    pub day: u8,
    /// Register 0x08.
    pub month: u8,
    /// Register 0x09, year in the century.
    pub year: u8,
    /// Register 0x32.
    pub century: u8,
    /// Register 0x0b: [`STATUS_B_BINARY`], [`STATUS_B_24H`].
    pub status_b: u8,
}

fn cmos(index: u8) -> u8 {
    // SAFETY: the RTC's index/data pair is xen-core's (Dom0 reaches it only through xen-core's
    // forwarding, never while xen-core itself runs this); bit 7 of the index (NMI disable) is
    // kept clear, and reading a date register has no side effect.
    unsafe {
        outb(INDEX, index & 0x7f);
        inb(DATA)
    }
}

/// Waits until no update is in progress; false if the flag never clears.
fn wait_update_done() -> bool {
    (0..MAX_UIP_POLLS).any(|_| cmos(REG_STATUS_A) & STATUS_A_UIP == 0)
}

fn snapshot() -> RtcRaw {
    RtcRaw {
        seconds: cmos(REG_SECONDS),
        minutes: cmos(REG_MINUTES),
        hours: cmos(REG_HOURS),
        day: cmos(REG_DAY),
        month: cmos(REG_MONTH),
        year: cmos(REG_YEAR),
        century: cmos(REG_CENTURY),
        status_b: cmos(REG_STATUS_B),
    }
}

/// Reads the RTC: waits for no update in progress, reads every register, and repeats until two
/// reads in a row agree. `None` if the clock never settles. Called with interrupts off.
pub fn read() -> Option<RtcRaw> {
    if !wait_update_done() {
        return None;
    }
    let mut last = snapshot();
    for _ in 0..MAX_ATTEMPTS {
        if !wait_update_done() {
            return None;
        }
        let now = snapshot();
        if now == last {
            return Some(now);
        }
        last = now;
    }
    None
}

impl RtcRaw {
    fn value(&self, raw: u8) -> u8 {
        if self.status_b & STATUS_B_BINARY != 0 {
            raw
        } else {
            (raw >> 4) * 10 + (raw & 0xf)
        }
    }

    /// Year, month, day, hour (0-23), minute, second, decoded for a log line (no validation: a
    /// nonsense register gives a nonsense number). A century register of 0 counts as 20.
    pub fn date(&self) -> (u32, u8, u8, u8, u8, u8) {
        let century = match self.value(self.century) {
            0 => 20,
            c => u32::from(c),
        };
        let mut hour = self.value(self.hours & 0x7f);
        if self.status_b & STATUS_B_24H == 0 {
            // 12-hour mode: 12 AM is 0, 12 PM is 12.
            hour %= 12;
            if self.hours & 0x80 != 0 {
                hour += 12;
            }
        }
        (
            century * 100 + u32::from(self.value(self.year)),
            self.value(self.month),
            self.value(self.day),
            hour,
            self.value(self.minutes),
            self.value(self.seconds),
        )
    }
}
