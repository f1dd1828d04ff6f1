//! Text for the serial console: xl's `\n` line ends become CR LF.

use crate::arch::x86_64::xen;

/// Bytes written per console_io call.
const CHUNK: usize = 256;

/// Writes `text` to the console, `\n` as CR LF.
pub fn print(text: &str) {
    write_bytes(text.as_bytes());
}

/// Writes `bytes` to the console, `\n` as CR LF.
pub fn write_bytes(bytes: &[u8]) {
    let mut chunk: heapless::Vec<u8, CHUNK> = heapless::Vec::new();
    for &b in bytes {
        if chunk.len() + 2 > CHUNK {
            let _ = xen::console_write(&chunk);
            chunk.clear();
        }
        if b == b'\n' {
            let _ = chunk.push(b'\r');
        }
        let _ = chunk.push(b);
    }
    if !chunk.is_empty() {
        let _ = xen::console_write(&chunk);
    }
}

/// Writes `bytes` as they are (echo, a guest's console).
pub fn raw(bytes: &[u8]) {
    for piece in bytes.chunks(CHUNK) {
        let _ = xen::console_write(piece);
    }
}

/// Prints formatted text (`\n` as CR LF).
macro_rules! xlprint {
    ($($arg:tt)*) => {
        $crate::dom0::xl::output::print(&alloc::format!($($arg)*))
    };
}
pub(crate) use xlprint;
