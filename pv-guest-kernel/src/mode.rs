//! What the kernel does, chosen by its command line (start_info.cmd_line).

/// The kernel's modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run the self-tests (also the default for an empty command line).
    Selftest,
    /// Read an unmapped address with no trap table: the hypervisor must crash us.
    FaultNoHandler,
    /// Write to a hypervisor address with no trap table: the hypervisor must crash us.
    FaultHvWrite,
    /// Print instruction counts of an empty loop and a null hypercall.
    Bench,
}

impl Mode {
    /// The mode named by the first word of `cmdline` that names one; `Selftest` if none does
    /// (the hypervisor may append words of its own, such as `acpi=...`).
    pub fn from_cmdline(cmdline: &[u8]) -> Mode {
        cmdline
            .split(|b| b.is_ascii_whitespace())
            .find_map(Mode::from_word)
            .unwrap_or(Mode::Selftest)
    }

    fn from_word(word: &[u8]) -> Option<Mode> {
        match word {
            b"selftest" => Some(Mode::Selftest),
            b"fault=nohandler" => Some(Mode::FaultNoHandler),
            b"fault=hvwrite" => Some(Mode::FaultHvWrite),
            b"bench" => Some(Mode::Bench),
            _ => None,
        }
    }
}
