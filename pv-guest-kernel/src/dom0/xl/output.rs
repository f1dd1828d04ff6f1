//! Text for the serial console (the hypervisor's serial driver turns `\n` into CR LF, as Xen's does).

use crate::arch::x86_64::xen;

/// Bytes written per console_io call.
const CHUNK: usize = 256;

/// Writes `text` to the console.
pub fn print(text: &str) {
    raw(text.as_bytes());
}

/// Writes the line editor's echo, whose CR LF line ends become `\n` (the serial driver adds
/// the CR).
pub fn echo(bytes: &[u8]) {
    let mut chunk: heapless::Vec<u8, CHUNK> = heapless::Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        if chunk.push(b).is_err() {
            let _ = xen::console_write(&chunk);
            chunk.clear();
            let _ = chunk.push(b);
        }
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

/// Prints formatted text.
macro_rules! xlprint {
    ($($arg:tt)*) => {
        $crate::dom0::xl::output::print(&alloc::format!($($arg)*))
    };
}
pub(crate) use xlprint;
