//! Check results: PASS/FAIL lines, failure details, the verdict line, and assertion helpers.

use core::fmt::{self, Write};

use hypercall_abi::Errno;

use crate::console::kprintln;

/// Bytes kept of a failure detail (small enough for `Result<(), Detail>` to stay cheap).
const DETAIL_CAPACITY: usize = 112;

/// Why a check failed: a short message.
pub struct Detail(heapless::String<DETAIL_CAPACITY>);

impl Detail {
    /// Formats a message, truncated to the capacity.
    pub fn new(args: fmt::Arguments<'_>) -> Self {
        let mut detail = Self(heapless::String::new());
        let _ = detail.write_fmt(args);
        detail
    }
}

impl Write for Detail {
    /// Keeps as many characters as fit; never fails (so the rest is simply dropped).
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The outcome of one check.
pub type Outcome = Result<(), Detail>;

/// Returns early from a check with a formatted failure detail.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::selftest::report::Detail::new(format_args!($($arg)*)))
    };
}
pub(crate) use fail;

/// Counts and prints check results.
#[derive(Debug, Default)]
pub struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    /// Prints `PASS name` or `FAIL name: detail`.
    pub fn check(&mut self, name: &str, outcome: Outcome) {
        match outcome {
            Ok(()) => {
                self.passed += 1;
                kprintln!("PASS {}", name);
            }
            Err(detail) => {
                self.failed += 1;
                kprintln!("FAIL {}: {}", name, detail);
            }
        }
    }

    /// Prints the verdict line; true if every check passed.
    pub fn finish(&self) -> bool {
        let success = self.failed == 0 && self.passed > 0;
        kprintln!(
            "Test result: {}",
            if success { "SUCCESS" } else { "FAILURE" }
        );
        success
    }
}

/// A hypercall result shown with its errno name, e.g. `-22 (EINVAL)`.
pub struct Ret(pub i64);

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Errno::from_ret(self.0) {
            Some(e) if self.0 < 0 => write!(f, "{} ({})", self.0, e.name()),
            _ => write!(f, "{}", self.0),
        }
    }
}

/// The hypercall result must be exactly `want`.
pub fn expect_ret(what: &str, got: i64, want: i64) -> Outcome {
    if got != want {
        fail!("{} returned {}, expected {}", what, Ret(got), Ret(want));
    }
    Ok(())
}

/// The hypercall must fail with exactly `want`.
pub fn expect_errno(what: &str, got: i64, want: Errno) -> Outcome {
    expect_ret(what, got, want.to_ret())
}

/// `got` must equal `want` (shown in hex).
pub fn expect_eq(what: &str, got: u64, want: u64) -> Outcome {
    if got != want {
        fail!("{} is {:#x}, expected {:#x}", what, got, want);
    }
    Ok(())
}
