//! The CPU conformance areas and the command-line words that select them.

/// One conformance guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// conform=traps: exceptions through the trap table, `int n`, set_trap_table.
    Traps,
    /// conform=softint: `int n` through gates Xen's IDT holds at DPL 0 (xen-core only: see
    /// the module).
    Softint,
    /// conform=user: guest user mode, its page table, syscall and faults.
    User,
    /// conform=fpu: fpu_taskswitch, #NM, FPU/SSE state preservation.
    Fpu,
    /// conform=desc: set_gdt, update_descriptor, set_ldt, segment loads.
    Desc,
    /// conform=priv: privileged instructions emulated (or not) on #GP.
    Priv,
}

impl Area {
    /// The area a command-line word names, if any.
    pub fn from_word(word: &[u8]) -> Option<Area> {
        match word {
            b"conform=traps" => Some(Area::Traps),
            b"conform=softint" => Some(Area::Softint),
            b"conform=user" => Some(Area::User),
            b"conform=fpu" => Some(Area::Fpu),
            b"conform=desc" => Some(Area::Desc),
            b"conform=priv" => Some(Area::Priv),
            _ => None,
        }
    }

    /// The name printed in the banner.
    pub fn name(self) -> &'static str {
        match self {
            Area::Traps => "traps",
            Area::Softint => "softint",
            Area::User => "user",
            Area::Fpu => "fpu",
            Area::Desc => "desc",
            Area::Priv => "priv",
        }
    }
}
