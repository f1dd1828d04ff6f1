//! A set of physical CPUs (up to 64) and how xl prints one (`all`, `none`, `0-1,3`).

use alloc::string::String;
use core::fmt::Write;

/// Bit `n` set: CPU `n` is in the set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuMask(pub u64);

impl CpuMask {
    /// Every CPU below `nr_cpus`.
    pub fn all(nr_cpus: u32) -> Self {
        CpuMask(if nr_cpus >= 64 {
            u64::MAX
        } else {
            (1u64 << nr_cpus) - 1
        })
    }

    /// The set among the first `nr_cpus` CPUs as xl prints it: `none` when empty, `all` when it
    /// is every one of them, otherwise ranges such as `0-1,3`.
    pub fn to_xl_string(self, nr_cpus: u32) -> String {
        let n = nr_cpus.min(64);
        let mut out = String::new();
        let mut runs = 0;
        let mut cpu = 0;
        while cpu < n {
            if self.0 & (1u64 << cpu) == 0 {
                cpu += 1;
                continue;
            }
            let first = cpu;
            while cpu < n && self.0 & (1u64 << cpu) != 0 {
                cpu += 1;
            }
            let last = cpu - 1;
            if first == 0 && last + 1 == n {
                return String::from("all");
            }
            if runs > 0 {
                out.push(',');
            }
            let _ = write!(out, "{first}");
            if last > first {
                let _ = write!(out, "-{last}");
            }
            runs += 1;
        }
        if runs == 0 {
            out.push_str("none");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_xl() {
        assert_eq!(CpuMask(0).to_xl_string(4), "none");
        assert_eq!(CpuMask(0b1111).to_xl_string(4), "all");
        assert_eq!(CpuMask::all(4).to_xl_string(4), "all");
        assert_eq!(CpuMask(0b0011).to_xl_string(4), "0-1");
        assert_eq!(CpuMask(0b1011).to_xl_string(4), "0-1,3");
        assert_eq!(CpuMask(0b0100).to_xl_string(4), "2");
        assert_eq!(CpuMask(0b1110).to_xl_string(4), "1-3");
        assert_eq!(CpuMask(0b10101).to_xl_string(5), "0,2,4");
        // Bits beyond nr_cpus do not count.
        assert_eq!(CpuMask(u64::MAX).to_xl_string(2), "all");
        assert_eq!(CpuMask(u64::MAX).to_xl_string(64), "all");
        assert_eq!(CpuMask::all(64), CpuMask(u64::MAX));
        assert_eq!(CpuMask(1).to_xl_string(0), "none");
    }
}
