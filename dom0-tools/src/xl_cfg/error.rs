//! What is wrong with a config file, and where: rendered as `FILE:LINE: message`.

use alloc::string::String;
use core::fmt;

/// One error in a config file. `line` counts from 1; 0 means the file as a whole (a missing
/// required key, a file too large), which renders as `FILE: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Line of the offending text (1-based), or 0 for the whole file.
    pub line: u32,
    /// What is wrong, without the file name or line.
    pub message: String,
}

impl ConfigError {
    /// An error at `line` (1-based; 0 for the whole file).
    pub fn new(line: u32, message: impl Into<String>) -> Self {
        ConfigError {
            line,
            message: message.into(),
        }
    }

    /// The error as xl prints it: `FILE:LINE: message`, or `FILE: message` for line 0.
    pub fn in_file<'a>(&'a self, file: &'a str) -> InFile<'a> {
        InFile { error: self, file }
    }
}

/// A [`ConfigError`] with the name of its file, for display.
#[derive(Clone, Copy, Debug)]
pub struct InFile<'a> {
    error: &'a ConfigError,
    file: &'a str,
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error.line {
            0 => write!(f, "{}: {}", self.file, self.error.message),
            line => write!(f, "{}:{}: {}", self.file, line, self.error.message),
        }
    }
}

/// Without a file name: `LINE: message` (or just the message for line 0).
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(&self.message),
            line => write!(f, "{}: {}", line, self.message),
        }
    }
}

/// Something xl would only warn about (an ignored key, `root=` beside `cmdline=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Line of the setting the warning is about (1-based).
    pub line: u32,
    /// What the caller may print.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn renders_file_and_line() {
        let e = ConfigError::new(3, "memory: expected a number, got \"lots\"");
        assert_eq!(
            e.in_file("/etc/xen/d1.cfg").to_string(),
            "/etc/xen/d1.cfg:3: memory: expected a number, got \"lots\""
        );
        assert_eq!(e.to_string(), "3: memory: expected a number, got \"lots\"");
    }

    #[test]
    fn whole_file_errors_have_no_line() {
        let e = ConfigError::new(0, "missing required key \"kernel\"");
        assert_eq!(
            e.in_file("d1.cfg").to_string(),
            "d1.cfg: missing required key \"kernel\""
        );
    }
}
