//! The hypervisor console on COM1: `log` records as "(XEN) ..." lines, and guest output.

use core::fmt::{self, Write};

use spin::Mutex;
use xen_core::console_ring::{ConsoleRing, ReadResult};

use crate::arch::x86_64::serial;

/// Everything written to the console lately, for sysctl readconsole (`xl dmesg`).
static CONRING: Mutex<ConsoleRing> = Mutex::new(ConsoleRing::new());

/// Reads the console history into `out` (Xen's readconsole semantics, see [`ConsoleRing::read`]).
pub fn read_history(out: &mut [u8], incremental: bool, index: u32, clear: bool) -> ReadResult {
    CONRING.lock().read(out, incremental, index, clear)
}

struct Serial;

impl Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes raw bytes, turning "\n" into "\r\n" as Xen's console does, and keeps them in the
/// history.
pub fn write_bytes(bytes: &[u8]) {
    CONRING.lock().write(bytes);
    for &b in bytes {
        if b == b'\n' {
            serial::write_byte(b'\r');
        }
        serial::write_byte(b);
    }
}

/// Prints one "(XEN) " line.
pub fn line(args: fmt::Arguments<'_>) {
    let _ = Serial.write_fmt(format_args!("(XEN) {args}\n"));
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        match record.level() {
            log::Level::Error => line(format_args!("ERROR: {}", record.args())),
            log::Level::Warn => line(format_args!("WARNING: {}", record.args())),
            _ => line(*record.args()),
        }
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Brings up COM1 and routes `log` to it.
pub fn init() {
    serial::init();
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
}
