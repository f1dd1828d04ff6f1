//! Comparing what reached the trap table (the capture log) with what Xen 4.17 delivers.

use core::fmt;

use crate::arch::x86_64::conform::capture::{self, Trap};
use crate::arch::x86_64::conform::insn::{Ran, Site};
use crate::selftest::report::{Detail, Outcome, expect_eq, fail};

/// RFLAGS.IF.
pub const RFLAGS_IF: u64 = 1 << 9;
/// RFLAGS.TF.
pub const RFLAGS_TF: u64 = 1 << 8;

/// CS in the frame of an exception in guest kernel mode with events masked: the flat code
/// selector shown with RPL 0, and the saved upcall mask (1) in bits 32-39 (observed on Xen
/// 4.17).
pub const KERNEL_CS_MASKED: u64 = (1 << 32) | 0xe030;
/// The same with events unmasked (saved upcall mask 0; observed on Xen 4.17).
pub const KERNEL_CS_UNMASKED: u64 = 0xe030;
/// CS in the frame of an exception in guest user mode with events masked (RPL 3; observed on
/// Xen 4.17).
pub const USER_CS_MASKED: u64 = (1 << 32) | 0xe033;
/// SS in the frame of an exception in guest kernel mode (observed on Xen 4.17).
pub const KERNEL_SS: u64 = 0xe02b;
/// SS in the frame of an exception in guest user mode (observed on Xen 4.17).
pub const USER_SS: u64 = 0xe02b;

/// A log entry, shown briefly.
pub struct Brief<'a>(pub &'a Trap);

impl fmt::Display for Brief<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "vec {:#x} ec {:x?} rip {:#x} cs {:#x} rfl {:#x} ss {:#x}",
            t.vector, t.error, t.rip, t.cs, t.rflags, t.ss
        )
    }
}

/// What one delivered exception must look like.
#[derive(Clone, Copy, Debug)]
pub struct Want {
    /// Vector (or the syscall marker).
    pub vector: u16,
    /// Error code.
    pub error: Option<u64>,
    /// Reported RIP.
    pub rip: u64,
    /// CS as reported (with the saved upcall mask).
    pub cs: u64,
    /// SS as reported.
    pub ss: u64,
}

impl Want {
    /// An exception in guest kernel mode with events masked.
    pub const fn kernel(vector: u8, error: Option<u64>, rip: u64) -> Self {
        Self {
            vector: vector as u16,
            error,
            rip,
            cs: KERNEL_CS_MASKED,
            ss: KERNEL_SS,
        }
    }

    /// An exception in guest user mode with events masked.
    pub const fn user(vector: u8, error: Option<u64>, rip: u64) -> Self {
        Self {
            vector: vector as u16,
            error,
            rip,
            cs: USER_CS_MASKED,
            ss: USER_SS,
        }
    }
}

/// The log must hold exactly one entry; it is returned.
pub fn only(log: &[Trap]) -> Result<Trap, Detail> {
    match log {
        [t] => Ok(*t),
        [] => Err(Detail::new(format_args!("nothing reached the trap table"))),
        [first, ..] => Err(Detail::new(format_args!(
            "{} entries reached the trap table, first: {}",
            log.len(),
            Brief(first)
        ))),
    }
}

/// Takes the log and requires exactly one entry.
pub fn take_one() -> Result<Trap, Detail> {
    only(&capture::take())
}

/// The log must be empty (the instruction was emulated, or raised nothing).
pub fn take_none() -> Outcome {
    let log = capture::take();
    if let Some(first) = log.first() {
        fail!(
            "{} entries reached the trap table, first: {}",
            log.len(),
            Brief(first)
        );
    }
    Ok(())
}

/// `t` matches `want`: vector, error code, RIP, CS, SS.
pub fn matches(t: &Trap, want: &Want) -> Outcome {
    if t.vector != want.vector || t.error != want.error {
        fail!(
            "got {}, expected vector {:#x} ec {:x?}",
            Brief(t),
            want.vector,
            want.error
        );
    }
    expect_eq("reported rip", t.rip, want.rip)?;
    expect_eq("reported cs", t.cs, want.cs)?;
    expect_eq("reported ss", t.ss, want.ss)
}

/// The frame sits right below the interrupted RSP rounded down to 16 bytes (a kernel-mode
/// exception: Xen pushes on the current stack).
pub fn frame_below_interrupted_rsp(t: &Trap) -> Outcome {
    let words = if t.error.is_some() { 8 } else { 7 };
    expect_eq("frame address", t.entry_rsp, (t.rsp & !15) - words * 8)
}

/// The frame sits right below `stack_top` rounded down to 16 bytes (a user-mode exception or
/// syscall: Xen switches to the stack_switch stack).
pub fn frame_at_stack_top(t: &Trap, stack_top: u64) -> Outcome {
    let words = if t.error.is_some() { 8 } else { 7 };
    expect_eq("frame address", t.entry_rsp, (stack_top & !15) - words * 8)
}

/// The probe must have been resumed at its fixup (an exception arrived).
pub fn faulted<T: Copy>(ran: &Ran<T>) -> Outcome {
    if !ran.faulted() {
        fail!("the instruction completed without reaching the trap table");
    }
    Ok(())
}

/// The probe must have completed (emulated, or no exception).
pub fn completed<T: Copy>(ran: &Ran<T>) -> Result<T, Detail> {
    match ran.value() {
        Some(v) => Ok(v),
        None => {
            let log = capture::take();
            match log.first() {
                Some(t) => Err(Detail::new(format_args!("raised {}", Brief(t)))),
                None => Err(Detail::new(format_args!("faulted, nothing logged"))),
            }
        }
    }
}

/// Where the reported RIP must point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// At the instruction (a fault).
    Insn,
    /// After it (a trap).
    Next,
}

/// The RIP a probe at `site` must report.
pub fn site_rip(site: Site, at: At) -> u64 {
    match at {
        At::Insn => site.insn,
        At::Next => site.next,
    }
}

/// Runs `probe`, which must raise `vector` with `error`, reported `at`, from kernel mode with
/// events masked.
pub fn simple<T: Copy>(probe: fn() -> Ran<T>, vector: u8, error: Option<u64>, at: At) -> Outcome {
    capture::clear();
    let ran = probe();
    faulted(&ran)?;
    let t = take_one()?;
    matches(&t, &Want::kernel(vector, error, site_rip(ran.site, at)))?;
    expect_eq("frame rflags.IF (= !mask)", t.rflags & RFLAGS_IF, 0)?;
    expect_eq(
        "upcall mask at entry",
        u64::from(t.upcall_mask.unwrap_or(0xff)),
        1,
    )?;
    frame_below_interrupted_rsp(&t)
}
