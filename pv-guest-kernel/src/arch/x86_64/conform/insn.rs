//! Single instructions that may raise an exception, each resumable through the exception table.
// Every probe runs its instruction between labels 2 (the instruction) and 4 (the one after),
// with exception-table entries for both addresses (a fault reports the first, a trap the
// second) pointing at a fixup that sets `faulted` and jumps to 4. An instruction the
// hypervisor emulates simply falls through to 4 with `faulted` clear. The capture log says
// what arrived.

use core::arch::{asm, global_asm};

use super::super::traps::symbol_address;

/// Where a probe's instruction is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Site {
    /// Address of the instruction.
    pub insn: u64,
    /// Address of the instruction after it.
    pub next: u64,
}

/// What running a probe gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ran<T> {
    /// The instruction's result, or `None` if an exception resumed us at the fixup.
    pub result: Option<T>,
    /// Where the instruction is.
    pub site: Site,
}

impl<T: Copy> Ran<T> {
    /// The result, if the instruction completed.
    pub fn value(&self) -> Option<T> {
        self.result
    }

    /// Whether the instruction raised an exception that reached our trap table.
    pub fn faulted(&self) -> bool {
        self.result.is_none()
    }
}

impl<T> Ran<T> {
    /// What a probe gave: `value` unless `faulted` is set.
    pub(super) fn new(faulted: u64, site: Site, value: T) -> Self {
        Ran {
            result: (faulted == 0).then_some(value),
            site,
        }
    }
}

/// Runs one instruction (`$insn`) between the asm `$pre` and `$post`, with extra asm
/// operands; evaluates to `(faulted, Site)`. Must be used inside an `unsafe` block whose
/// SAFETY comment covers the instruction.
macro_rules! probe {
    ($pre:expr, $insn:expr, $post:expr, $($ops:tt)*) => {{
        let faulted: u64;
        let insn: u64;
        let next: u64;
        asm!(
            $pre,
            "lea {insn}, [rip + 2f]",
            "lea {next}, [rip + 4f]",
            "xor {faulted:e}, {faulted:e}",
            "2:",
            $insn,
            "4:",
            $post,
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3f",
            ".quad 4b, 3f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "3:",
            "mov {faulted:e}, 1",
            "jmp 4b",
            ".popsection",
            insn = out(reg) insn,
            next = out(reg) next,
            faulted = out(reg) faulted,
            $($ops)*
        );
        (faulted, Site { insn, next })
    }};
}
pub(crate) use probe;

/// The four CPUID output registers: eax, ebx, ecx, edx.
pub type Cpuid = [u32; 4];

/// Plain `cpuid` (no forced-emulation prefix).
pub fn cpuid_plain(leaf: u32, subleaf: u32) -> Ran<Cpuid> {
    let (eax, ebx, ecx, edx): (u32, u64, u32, u32);
    // SAFETY: CPUID only writes eax/ebx/ecx/edx; rbx (reserved by LLVM) is kept in a scratch
    // register around it. A fault resumes at the fixup.
    let (f, site) = unsafe {
        probe!(
            "mov {save}, rbx",
            "cpuid",
            "xchg {save}, rbx",
            save = out(reg) ebx,
            inout("eax") leaf => eax,
            inout("ecx") subleaf => ecx,
            out("edx") edx,
            options(nostack),
        )
    };
    Ran::new(f, site, [eax, ebx as u32, ecx, edx])
}

/// Reads control register `$n` (`mov reg, crN`).
macro_rules! read_cr_fn {
    ($name:ident, $cr:literal) => {
        /// `mov reg, crN`: emulated by the hypervisor for a PV kernel, or #GP.
        pub fn $name() -> Ran<u64> {
            let value: u64;
            // SAFETY: reading a control register has no side effect; at CPL 3 it raises
            // #GP, which the hypervisor emulates or delivers (then the fixup resumes us).
            let (f, site) = unsafe {
                probe!(
                    "",
                    concat!("mov {v}, ", $cr),
                    "",
                    v = inout(reg) 0u64 => value,
                    options(nostack),
                )
            };
            Ran::new(f, site, value)
        }
    };
}

read_cr_fn!(read_cr0, "cr0");
read_cr_fn!(read_cr2, "cr2");
read_cr_fn!(read_cr3, "cr3");
read_cr_fn!(read_cr4, "cr4");
read_cr_fn!(read_cr8, "cr8");

/// `mov cr0, reg` with `value`.
///
/// # Safety
/// `value` may differ from the current CR0 only in TS (a PV kernel may change nothing else;
/// a hypervisor that let it would break the vCPU).
pub unsafe fn write_cr0(value: u64) -> Ran<()> {
    // SAFETY: the caller keeps every bit but TS; at CPL 3 this raises #GP, emulated as
    // fpu_taskswitch or delivered to us.
    let (f, site) = unsafe { probe!("", "mov cr0, {v}", "", v = in(reg) value, options(nostack)) };
    Ran::new(f, site, ())
}

/// CR0.TS.
const CR0_TS: u64 = 1 << 3;

/// `mov cr0, reg` with the current CR0 (emulated read) and TS set or cleared; `None` (no
/// write) if CR0 cannot be read.
pub fn mov_cr0_ts(set: bool) -> Option<Ran<()>> {
    let cr0 = read_cr0().value()?;
    let value = if set { cr0 | CR0_TS } else { cr0 & !CR0_TS };
    // SAFETY: only TS differs from the CR0 just read.
    Some(unsafe { write_cr0(value) })
}

/// `mov cr3, reg` with `value`.
///
/// # Safety
/// `value` must be the current CR3 (the switch then changes nothing).
pub unsafe fn write_cr3(value: u64) -> Ran<()> {
    // SAFETY: the caller passes the current L4; the emulated write switches to it again.
    let (f, site) = unsafe { probe!("", "mov cr3, {v}", "", v = in(reg) value, options(nostack)) };
    Ran::new(f, site, ())
}

/// `clts`: clears the virtual TS if emulated.
pub fn clts() -> Ran<()> {
    // SAFETY: clears CR0.TS (emulated as fpu_taskswitch(0)) or raises #GP.
    let (f, site) = unsafe { probe!("", "clts", "", options(nomem, nostack)) };
    Ran::new(f, site, ())
}

/// `rdmsr` of `msr`.
pub fn rdmsr(msr: u32) -> Ran<u64> {
    let (lo, hi): (u32, u32);
    // SAFETY: RDMSR writes only edx:eax; at CPL 3 it raises #GP, emulated or delivered.
    let (f, site) = unsafe {
        probe!(
            "", "rdmsr", "",
            in("ecx") msr,
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, (u64::from(hi) << 32) | u64::from(lo))
}

/// `wrmsr` of `value` to `msr`.
///
/// # Safety
/// The write, if the hypervisor carries it out, must not break this kernel (for example an
/// FS/GS base nothing relies on, or a value the MSR already holds).
pub unsafe fn wrmsr(msr: u32, value: u64) -> Ran<()> {
    // SAFETY: the effect is the caller's contract; at CPL 3 this raises #GP.
    let (f, site) = unsafe {
        probe!(
            "", "wrmsr", "",
            in("ecx") msr,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, ())
}

/// `in al, dx`.
pub fn inb(port: u16) -> Ran<u8> {
    let value: u8;
    // SAFETY: reads one byte from a port; without I/O privilege this raises #GP. Callers
    // pick ports whose reads have no side effect.
    let (f, site) = unsafe {
        probe!(
            "", "in al, dx", "",
            in("dx") port,
            out("al") value,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, value)
}

/// `out dx, al`.
///
/// # Safety
/// Writing `value` to `port` must be harmless to the machine (e.g. the POST port 0x80).
pub unsafe fn outb(port: u16, value: u8) -> Ran<()> {
    // SAFETY: the caller's contract; without I/O privilege this raises #GP.
    let (f, site) = unsafe {
        probe!(
            "", "out dx, al", "",
            in("dx") port,
            in("al") value,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, ())
}

/// One instruction without operands.
macro_rules! plain_fn {
    ($(#[$doc:meta])* $name:ident, $insn:literal) => {
        $(#[$doc])*
        pub fn $name() -> Ran<()> {
            // SAFETY: the instruction has no register or memory operand of ours; at CPL 3
            // it is emulated by the hypervisor or raises an exception we resume from.
            let (f, site) = unsafe { probe!("", $insn, "", options(nostack)) };
            Ran::new(f, site, ())
        }
    };
}

plain_fn!(
    /// `hlt`.
    hlt,
    "hlt"
);
plain_fn!(
    /// `cli` (at CPL 3: IOPL-sensitive).
    cli,
    "cli"
);
plain_fn!(
    /// `sti` (at CPL 3: IOPL-sensitive).
    sti,
    "sti"
);
plain_fn!(
    /// `wbinvd`.
    wbinvd,
    "wbinvd"
);
plain_fn!(
    /// `invd` (no memory of ours is dirty in a way that matters: the hypervisor would have to
    /// execute it for real, which a PV kernel never gets).
    invd,
    "invd"
);
plain_fn!(
    /// `ud2` (#UD).
    ud2,
    "ud2"
);
plain_fn!(
    /// `int3` (#BP, one byte).
    int3,
    "int3"
);
plain_fn!(
    /// `int 3` (two bytes, cd 03).
    int_3,
    ".byte 0xcd, 0x03"
);
plain_fn!(
    /// `int 4` (cd 04: #OF through a software interrupt).
    int_4,
    ".byte 0xcd, 0x04"
);
plain_fn!(
    /// `int 5` (cd 05: #BR through a software interrupt).
    int_5,
    ".byte 0xcd, 0x05"
);
plain_fn!(
    /// `int1` / `icebp` (f1: #DB).
    int1,
    ".byte 0xf1"
);
plain_fn!(
    /// `into` (ce): invalid in 64-bit mode, #UD.
    into,
    ".byte 0xce"
);
plain_fn!(
    /// `int 0x80`.
    int_0x80,
    "int 0x80"
);
plain_fn!(
    /// `int 0x40`.
    int_0x40,
    "int 0x40"
);
plain_fn!(
    /// `int 0x41`.
    int_0x41,
    "int 0x41"
);
plain_fn!(
    /// `int 0x42`.
    int_0x42,
    "int 0x42"
);
plain_fn!(
    /// `int 0x43`.
    int_0x43,
    "int 0x43"
);

/// `ltr ax` with the null selector: a CPL-0-only instruction that no hypervisor emulates for
/// a PV guest (#GP(0)).
pub fn ltr_null() -> Ran<()> {
    // SAFETY: at CPL 3 LTR raises #GP; even at CPL 0 a null selector raises #GP.
    let (f, site) = unsafe { probe!("", "ltr ax", "", in("ax") 0u16, options(nostack)) };
    Ran::new(f, site, ())
}

/// `swapgs`; if it completed (emulated), runs it again to put the GS bases back.
pub fn swapgs() -> Ran<()> {
    // SAFETY: at CPL 3 SWAPGS raises #GP; if a hypervisor emulates it, the kernel and user GS
    // bases trade places, which the second SWAPGS below undoes before anything uses GS.
    let (f, site) = unsafe { probe!("", "swapgs", "", options(nomem, nostack)) };
    if f == 0 {
        // SAFETY: as above, the undo of an emulated SWAPGS.
        let _ = unsafe { probe!("", "swapgs", "", options(nomem, nostack)) };
    }
    Ran::new(f, site, ())
}

/// `rdtsc`.
pub fn rdtsc() -> Ran<u64> {
    let (lo, hi): (u32, u32);
    // SAFETY: RDTSC writes only edx:eax (or raises #GP with CR4.TSD).
    let (f, site) = unsafe {
        probe!(
            "", "rdtsc", "",
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack)
        )
    };
    Ran::new(f, site, (u64::from(hi) << 32) | u64::from(lo))
}

/// `rdtscp`: the TSC and TSC_AUX.
pub fn rdtscp() -> Ran<(u64, u32)> {
    let (lo, hi, aux): (u32, u32, u32);
    // SAFETY: RDTSCP writes only edx:eax and ecx.
    let (f, site) = unsafe {
        probe!(
            "", "rdtscp", "",
            out("eax") lo,
            out("edx") hi,
            out("ecx") aux,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, ((u64::from(hi) << 32) | u64::from(lo), aux))
}

/// `rdpmc` of counter 0.
pub fn rdpmc0() -> Ran<u64> {
    let (lo, hi): (u32, u32);
    // SAFETY: RDPMC writes only edx:eax, or raises #GP without CR4.PCE.
    let (f, site) = unsafe {
        probe!(
            "", "rdpmc", "",
            in("ecx") 0u32,
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, (u64::from(hi) << 32) | u64::from(lo))
}

/// `mov reg, dr7`.
pub fn read_dr7() -> Ran<u64> {
    let value: u64;
    // SAFETY: reading a debug register has no side effect; at CPL 3 it raises #GP.
    let (f, site) = unsafe {
        probe!(
            "",
            "mov {v}, dr7",
            "",
            v = inout(reg) 0u64 => value,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, value)
}

/// `div` by zero (#DE).
pub fn divide_by_zero() -> Ran<()> {
    // SAFETY: divides rdx:rax by a zero register: #DE, resumed at the fixup.
    let (f, site) = unsafe {
        probe!(
            "", "div {z}", "",
            z = in(reg) 0u64,
            inout("rax") 1u64 => _,
            inout("rdx") 0u64 => _,
            options(nomem, nostack),
        )
    };
    Ran::new(f, site, ())
}

/// Reads a u64 at `address` (which need not be mapped).
///
/// # Safety
/// `address` must not hold a Rust object with an exclusive borrow elsewhere (a read of a
/// page nobody uses, of an address outside our memory, or of our own read-only data).
pub unsafe fn read_u64(address: u64) -> Ran<u64> {
    let value: u64;
    // SAFETY: the caller's contract; a fault resumes at the fixup.
    let (f, site) = unsafe {
        probe!(
            "", "mov {v}, qword ptr [{a}]", "",
            a = in(reg) address,
            v = out(reg) value,
            options(nostack, readonly),
        )
    };
    Ran::new(f, site, value)
}

/// Writes `value` at `address` (which need not be mapped or writable).
///
/// # Safety
/// If the write succeeds it must not corrupt anything: `address` is a page of ours that only
/// volatile raw accesses use, or memory that is not ours at all.
pub unsafe fn write_u64(address: u64, value: u64) -> Ran<()> {
    // SAFETY: the caller's contract; a fault resumes at the fixup.
    let (f, site) = unsafe {
        probe!(
            "", "mov qword ptr [{a}], {v}", "",
            a = in(reg) address,
            v = in(reg) value,
            options(nostack),
        )
    };
    Ran::new(f, site, ())
}

// pvk_cf_call_probe(rdi = target) -> rax: calls `target`; 0 if it returned, 1 if the fetch
// faulted and the exception table resumed at pvk_cf_call_fixup (which drops the return
// address the `call` pushed).
global_asm!(
    ".pushsection .text, \"ax\"",
    ".global pvk_cf_call_probe",
    "pvk_cf_call_probe:",
    "xor eax, eax",
    ".global pvk_cf_call_insn",
    "pvk_cf_call_insn:",
    "call rdi",
    "ret",
    ".global pvk_cf_call_fixup",
    "pvk_cf_call_fixup:",
    "add rsp, 8",
    "mov eax, 1",
    "ret",
    ".popsection",
);

/// Calls `target` (which need not be mapped or executable); a fault on the fetch resumes at
/// `pvk_cf_call_fixup` if the exception table maps `target` there (see `pages`).
///
/// # Safety
/// If `target` is executable it must hold a lone `ret`.
pub unsafe fn call_address(target: u64) -> Ran<()> {
    let faulted: u64;
    // SAFETY: the caller's contract: either the fetch faults and the exception table resumes
    // at the fixup, or the lone `ret` comes straight back; pvk_cf_call_probe follows the C
    // calling convention.
    unsafe {
        asm!(
            "call pvk_cf_call_probe",
            in("rdi") target,
            out("rax") faulted,
            clobber_abi("C"),
        );
    }
    let insn = symbol_address!("pvk_cf_call_insn");
    // `call rdi` is 2 bytes.
    Ran::new(
        faulted,
        Site {
            insn,
            next: insn + 2,
        },
        (),
    )
}

/// Sets RFLAGS.TF right before a `nop`: a single-step #DB arrives after the `nop` (the handler
/// clears TF in the frame).
pub fn single_step() -> Ran<()> {
    // SAFETY: TF is set by the `popfq` and traps after the next instruction; the capture
    // handler resumes without TF. The stack is balanced (pushfq in the setup, popfq in the
    // probed pair).
    let (f, site) = unsafe {
        probe!(
            "pushfq\nor qword ptr [rsp], 0x100",
            "popfq\nnop",
            "",
            options(nomem)
        )
    };
    // The trap is reported after the `nop`; `popfq` is 1 byte.
    Ran::new(
        f,
        Site {
            insn: site.insn + 1,
            next: site.next,
        },
        (),
    )
}

/// RFLAGS bits [`ud2_with_flags`] sets: DF, NT, AC.
pub const UD2_FLAGS: u64 = (1 << 10) | (1 << 14) | (1 << 18);

/// `ud2` with DF, NT and AC set in RFLAGS (cleared again on both paths).
pub fn ud2_with_flags() -> Ran<()> {
    // SAFETY: the flags are set right before the `ud2` and cleared right after on both paths
    // (the fixup resumes at label 4, before the clearing); with AC set nothing of ours makes
    // a misaligned access in between, and DF is clear again before any compiled code runs.
    let (f, site) = unsafe {
        probe!(
            "pushfq\nor qword ptr [rsp], {flags}\npopfq",
            "ud2",
            "pushfq\nand qword ptr [rsp], {keep}\npopfq",
            flags = const UD2_FLAGS,
            keep = const !UD2_FLAGS as i32,
        )
    };
    Ran::new(f, site, ())
}

/// `mov cr3, reg` with the CR3 just read (an emulated read); `None` if it cannot be read.
pub fn write_cr3_current() -> Option<Ran<()>> {
    let cr3 = read_cr3().value()?;
    // SAFETY: the value is the current CR3: the emulated switch changes nothing.
    Some(unsafe { write_cr3(cr3) })
}

/// The FS, GS and shadow GS base MSRs.
const BASE_MSRS: [u32; 3] = [0xc000_0100, 0xc000_0101, 0xc000_0102];

/// `wrmsr` of a segment base MSR (FS, GS, shadow GS); `None` (no write) for another MSR.
pub fn wrmsr_base(msr: u32, value: u64) -> Option<Ran<()>> {
    if !BASE_MSRS.contains(&msr) {
        return None;
    }
    // SAFETY: this kernel dereferences FS and GS only in tests that set the base they use
    // first, so any base value breaks nothing.
    Some(unsafe { wrmsr(msr, value) })
}

/// `wrmsr` of the value `rdmsr` just read from `msr`; `None` if the read raised an exception.
pub fn rewrite_msr(msr: u32) -> Option<Ran<()>> {
    let value = rdmsr(msr).value()?;
    // SAFETY: the MSR already holds the value.
    Some(unsafe { wrmsr(msr, value) })
}

/// An MSR number no CPU defines.
pub const UNDEFINED_MSR: u32 = 0x1234_5678;

/// `wrmsr` of 0 to [`UNDEFINED_MSR`].
pub fn wrmsr_undefined() -> Ran<()> {
    // SAFETY: no such MSR exists: the CPU raises #GP for it at any privilege level.
    unsafe { wrmsr(UNDEFINED_MSR, 0) }
}

/// The POST diagnostic port, whose writes have no effect on QEMU's machine.
pub const POST_PORT: u16 = 0x80;

/// `out` of `value` to the POST port 0x80.
pub fn outb_post(value: u8) -> Ran<()> {
    // SAFETY: writes to port 0x80 only show a POST code; nothing depends on them.
    unsafe { outb(POST_PORT, value) }
}
