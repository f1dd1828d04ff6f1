//! CPU operations of a PV kernel: forced-emulation CPUID, CR3 read, FS/GS base reads.
// Each instruction that may fault has an exception-table entry, so a fault (with the trap
// table installed) resumes after it and the caller learns that it faulted.

use core::arch::asm;

use hypercall_abi::segment::SegBase;

use super::xen;

/// The four CPUID result registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidResult {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
}

/// CPUID through the forced-emulation prefix (`ud2; .ascii "xen"; cpuid`): the hypervisor
/// emulates it with the guest's view. `None` if it faulted instead.
pub fn forced_cpuid(leaf: u32, subleaf: u32) -> Option<CpuidResult> {
    let (eax, ebx, ecx, edx): (u32, u64, u32, u32);
    let faulted: u64;
    // SAFETY: CPUID only writes eax/ebx/ecx/edx. rbx is reserved by LLVM, so it is saved in
    // a scratch register around the instruction. If the hypervisor does not know the prefix,
    // the `ud2` raises #UD, whose exception-table entry resumes at label 3 with `faulted` set.
    unsafe {
        asm!(
            "mov {rbx_save}, rbx",
            "xor {faulted:e}, {faulted:e}",
            "2:",
            "ud2",
            ".ascii \"xen\"",
            "cpuid",
            "4:",
            "xchg {rbx_save}, rbx",
            ".pushsection .extable, \"a\"",
            ".balign 8",
            ".quad 2b, 3f",
            ".popsection",
            ".pushsection .text.fixup, \"ax\"",
            "3:",
            "mov {faulted:e}, 1",
            "jmp 4b",
            ".popsection",
            rbx_save = out(reg) ebx,
            faulted = out(reg) faulted,
            inout("eax") leaf => eax,
            inout("ecx") subleaf => ecx,
            out("edx") edx,
            options(nostack),
        );
    }
    if faulted != 0 {
        return None;
    }
    Some(CpuidResult {
        eax,
        ebx: ebx as u32,
        ecx,
        edx,
    })
}

/// `mov %cr3, %rax` (the hypervisor emulates it for a PV kernel). `None` if it faulted.
pub fn read_cr3() -> Option<u64> {
    let value: u64;
    let faulted: u64;
    // SAFETY: reading CR3 has no side effect; at CPL 3 it raises #GP, which the hypervisor
    // emulates, and if it does not, the exception-table entry resumes at label 3.
    unsafe {
        asm!(
            "xor {faulted:e}, {faulted:e}",
            "xor {value:e}, {value:e}",
            "2:",
            "mov {value}, cr3",
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
            value = out(reg) value,
            faulted = out(reg) faulted,
            options(nomem, nostack),
        );
    }
    (faulted == 0).then_some(value)
}

/// Which segment register a base read goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seg {
    Fs,
    Gs,
}

/// Reads the u64 at offset 0 of the FS or GS base. `None` if the read faulted.
fn read_seg0(seg: Seg) -> Option<u64> {
    let value: u64;
    let faulted: u64;
    macro_rules! seg_read {
        ($insn:literal) => {
            // SAFETY: every caller has just pointed the base at a live u64 (or the read
            // faults, in which case the exception-table entry resumes at label 3). The read
            // has no other effect.
            unsafe {
                asm!(
                    "xor {faulted:e}, {faulted:e}",
                    "xor {value:e}, {value:e}",
                    "2:",
                    $insn,
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
                    value = out(reg) value,
                    faulted = out(reg) faulted,
                    options(nostack, readonly),
                )
            }
        };
    }
    match seg {
        Seg::Fs => seg_read!("mov {value}, qword ptr fs:[0]"),
        Seg::Gs => seg_read!("mov {value}, qword ptr gs:[0]"),
    }
    (faulted == 0).then_some(value)
}

/// Outcome of pointing a segment base at a value and reading it back through the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegRead {
    /// set_segment_base failed with this result; nothing was read.
    Refused(i64),
    /// The base was set; the read gave this value (`None`: it faulted).
    Read(Option<u64>),
}

/// Points the FS base (`SegBase::Fs`) or the kernel GS base (`SegBase::GsKernel`) at `value`,
/// reads `%fs:0` / `%gs:0`, then sets the base back to 0. Other `which` are refused with
/// `Refused(-EINVAL)` before any hypercall.
pub fn read_through_base(which: SegBase, value: &u64) -> SegRead {
    let seg = match which {
        SegBase::Fs => Seg::Fs,
        SegBase::GsKernel => Seg::Gs,
        _ => return SegRead::Refused(hypercall_abi::Errno::Inval.to_ret()),
    };
    let ret = xen::set_segment_base(which as u64, value as *const u64 as u64);
    if ret != 0 {
        return SegRead::Refused(ret);
    }
    let read = read_seg0(seg);
    // Leave no base pointing at a stack slot that is about to die.
    let _ = xen::set_segment_base(which as u64, 0);
    SegRead::Read(read)
}
