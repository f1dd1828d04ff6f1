//! Parsing of the hypervisor command line (`-append` in QEMU), with Xen's option names.

/// What xen-core takes from its command line. Unknown options are ignored, as Xen does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `dom0_mem=<size>`: memory given to Dom0, in bytes.
    pub dom0_mem: u64,
    /// `bench`: measure the bare `syscall`/`sysretq` floor before starting Dom0.
    pub bench: bool,
}

/// Dom0's memory when `dom0_mem` is absent.
pub const DEFAULT_DOM0_MEM: u64 = 64 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            dom0_mem: DEFAULT_DOM0_MEM,
            bench: false,
        }
    }
}

/// Parses a size with an optional K/M/G suffix (Xen's `parse_size_and_unit`); bytes otherwise.
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, shift) = match text.as_bytes().last()? {
        b'k' | b'K' => (&text[..text.len() - 1], 10),
        b'm' | b'M' => (&text[..text.len() - 1], 20),
        b'g' | b'G' => (&text[..text.len() - 1], 30),
        b'b' | b'B' => (&text[..text.len() - 1], 0),
        _ => (text, 0),
    };
    let value: u64 = digits.parse().ok()?;
    value.checked_mul(1u64 << shift)
}

/// Parses the whole command line. `dom0_mem` accepts Xen's `min:`/`max:` forms by taking the
/// plain size that follows the last colon.
pub fn parse(cmdline: &str) -> Options {
    let mut options = Options::default();
    for word in cmdline.split_ascii_whitespace() {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        match (key, value) {
            ("dom0_mem", Some(v)) => {
                let size = v.rsplit(':').next().unwrap_or(v);
                if let Some(bytes) = parse_size(size) {
                    options.dom0_mem = bytes;
                }
            }
            ("bench", None) => options.bench = true,
            _ => {}
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
        assert_eq!(parse_size("17179869184G"), None);
    }

    #[test]
    fn options() {
        let o = parse("console=com1 com1=115200,8n1 dom0_mem=128M bench noreboot");
        assert_eq!(
            o,
            Options {
                dom0_mem: 128 << 20,
                bench: true
            }
        );
        assert_eq!(parse(""), Options::default());
        assert_eq!(parse("dom0_mem=max:32M").dom0_mem, 32 << 20);
        assert_eq!(parse("dom0_mem=junk").dom0_mem, DEFAULT_DOM0_MEM);
    }
}
