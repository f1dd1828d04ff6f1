//! Console output: whole lines, ending in CR LF, written with console_io (Dom0) or to the console ring (DomU).

use core::fmt::{self, Write};

use crate::arch::x86_64::{console_front, xen};

/// Bytes buffered before a partial line is written out.
const LINE_CAPACITY: usize = 256;

/// A line being formatted; written out when full and when finished.
struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Self {
            buf: [0; LINE_CAPACITY],
            len: 0,
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            if console_front::active() {
                let _ = console_front::write(&self.buf[..self.len]);
            } else {
                let _ = xen::console_write(&self.buf[..self.len]);
            }
            self.len = 0;
        }
    }

    fn push(&mut self, byte: u8) {
        if self.len == LINE_CAPACITY {
            self.flush();
        }
        self.buf[self.len] = byte;
        self.len += 1;
    }

    fn finish(mut self) {
        self.push(b'\r');
        self.push(b'\n');
        self.flush();
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(|b| self.push(b));
        Ok(())
    }
}

/// Writes one formatted line followed by CR LF.
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = line.write_fmt(args);
    line.finish();
}

/// Prints one line (format arguments as `format!`), ending it with CR LF.
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::console::print_line(format_args!($($arg)*))
    };
}
pub(crate) use kprintln;

/// Displays bytes as text: printable ASCII as is, anything else as `\xNN`.
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            if b == b' ' || b.is_ascii_graphic() {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// The bytes of a NUL-terminated buffer up to (not including) the first NUL.
pub fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}
