//! Single-word reads and writes that may fault: a fault resumes through the exception table.
// With the trap table installed, a #PF or #GP on the access comes back to our exception entry,
// which finds the entry below and resumes at the fixup; without it the hypervisor crashes us.

use core::arch::asm;

/// Reads the u64 at `va`; `None` if the read faulted.
///
/// # Safety
/// The read must have no side effect: `va` must not name device memory. (Reading through
/// inline asm forms no Rust reference, so it cannot invalidate one.)
pub unsafe fn read_u64(va: u64) -> Option<u64> {
    let value: u64;
    let faulted: u64;
    // SAFETY: one 8-byte load from `va` (the caller vouches it has no side effect); a fault
    // on it resumes at label 3 through the exception table, which sets `faulted`.
    unsafe {
        asm!(
            "xor {faulted:e}, {faulted:e}",
            "xor {value:e}, {value:e}",
            "2:",
            "mov {value}, qword ptr [{va}]",
            "4:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "3:",
            "mov {faulted:e}, 1",
            "jmp 4b",
            ".popsection",
            va = in(reg) va,
            value = out(reg) value,
            faulted = out(reg) faulted,
            options(nostack, readonly),
        );
    }
    (faulted == 0).then_some(value)
}

/// Writes `value` to the u64 at `va`; false if the write faulted.
///
/// # Safety
/// `va` must not hold any Rust object or anything else the kernel relies on: the write
/// changes memory behind the compiler's back.
pub unsafe fn write_u64(va: u64, value: u64) -> bool {
    let faulted: u64;
    // SAFETY: one 8-byte store to `va`, which the caller vouches is nobody's object; a fault
    // on it resumes at label 3 through the exception table, which sets `faulted`.
    unsafe {
        asm!(
            "xor {faulted:e}, {faulted:e}",
            "2:",
            "mov qword ptr [{va}], {value}",
            "4:",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "3:",
            "mov {faulted:e}, 1",
            "jmp 4b",
            ".popsection",
            va = in(reg) va,
            value = in(reg) value,
            faulted = out(reg) faulted,
            options(nostack),
        );
    }
    faulted == 0
}
