//! Exception entry: trap table, bounce-frame stubs, exception table, return through iret.

use core::arch::{asm, global_asm};
use core::mem::size_of;

use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::segment::FLAT_KERNEL_CS64;
use hypercall_abi::traps::{
    TRAP_DIVIDE_ERROR, TRAP_GP_FAULT, TRAP_INT3, TRAP_INVALID_OP, TRAP_PAGE_FAULT, TrapInfo,
};

use super::hypercall::{self, IRET_STUB_OFFSET};
use super::memory;
use super::probes::TrapsInstalled;

/// General-purpose registers as the entry code saves them (lowest address first).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SavedRegs {
    /// r15.
    pub r15: u64,
    /// r14.
    pub r14: u64,
    /// r13.
    pub r13: u64,
    /// r12.
    pub r12: u64,
    /// r11 (popped back from the bounce frame first).
    pub r11: u64,
    /// r10.
    pub r10: u64,
    /// r9.
    pub r9: u64,
    /// r8.
    pub r8: u64,
    /// rbp.
    pub rbp: u64,
    /// rdi.
    pub rdi: u64,
    /// rsi.
    pub rsi: u64,
    /// rdx.
    pub rdx: u64,
    /// rcx (popped back from the bounce frame first).
    pub rcx: u64,
    /// rbx.
    pub rbx: u64,
    /// rax.
    pub rax: u64,
}

/// The stack frame of an exception: saved registers, then vector and error code pushed by
/// the stub, then the hypervisor's bounce frame minus RCX/R11 (RIP, CS, RFLAGS, RSP, SS).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapFrame {
    /// General-purpose registers at the exception.
    pub regs: SavedRegs,
    /// Exception vector (pushed by the stub).
    pub vector: u64,
    /// Error code (0 pushed by the stub for vectors without one).
    pub error: u64,
    /// RIP as the hypervisor reports it.
    pub rip: u64,
    /// CS as the hypervisor reports it (bits 32-39: the saved upcall mask).
    pub cs: u64,
    /// RFLAGS as the hypervisor reports it (IF = !upcall mask).
    pub rflags: u64,
    /// RSP at the exception.
    pub rsp: u64,
    /// SS at the exception.
    pub ss: u64,
}
const _: () = assert!(size_of::<SavedRegs>() == 15 * 8);
const _: () = assert!(size_of::<TrapFrame>() == 22 * 8);

/// What the kernel learns about one exception (a copy; the frame itself stays here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapEvent {
    /// The frame as the entry code saw it.
    pub frame: TrapFrame,
    /// `vcpu_info[0].arch.cr2` for a page fault (if shared_info is mapped).
    pub cr2: Option<u64>,
    /// The exception-table fixup for `frame.rip`, if the instruction may fault.
    pub fixup: Option<u64>,
}

/// Return values of the dispatcher to the entry code.
const RESUME_FRAME: u64 = 0;
const ABORT_USER: u64 = 1;

// Exception stubs. The hypervisor enters with the bounce frame at RSP (lowest first):
// RCX, R11, [error code], RIP, CS, RFLAGS, RSP, SS. Each stub puts RCX and R11 back, pushes
// a zero error code where the CPU has none, then the vector. The common path saves the GPRs,
// calls the dispatcher with a pointer to the TrapFrame, restores them and returns with the
// iret hypercall: after dropping vector and error code the stack holds RIP, CS, RFLAGS, RSP,
// SS; we push `flags` = 0 and jump to the iret stub, which pushes RCX, R11, RAX, completing
// the 72-byte iret context.
global_asm!(
    ".pushsection .text, \"ax\"",
    ".global pvk_trap_divide_error",
    "pvk_trap_divide_error:",
    "pop rcx",
    "pop r11",
    "push 0",
    "push {de}",
    "jmp pvk_trap_common",
    ".global pvk_trap_int3",
    "pvk_trap_int3:",
    "pop rcx",
    "pop r11",
    "push 0",
    "push {bp}",
    "jmp pvk_trap_common",
    ".global pvk_trap_invalid_op",
    "pvk_trap_invalid_op:",
    "pop rcx",
    "pop r11",
    "push 0",
    "push {ud}",
    "jmp pvk_trap_common",
    ".global pvk_trap_gp_fault",
    "pvk_trap_gp_fault:",
    "pop rcx",
    "pop r11",
    "push {gp}",
    "jmp pvk_trap_common",
    ".global pvk_trap_page_fault",
    "pvk_trap_page_fault:",
    "pop rcx",
    "pop r11",
    "push {pf}",
    "jmp pvk_trap_common",
    "pvk_trap_common:",
    "push rax",
    "push rbx",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "cld",
    "mov rdi, rsp",
    "mov rbx, rsp",
    "and rsp, -16",
    "call {dispatch}",
    "mov rsp, rbx",
    "cmp rax, {abort_user}",
    "je pvk_user_abort",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rbp",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rbx",
    "pop rax",
    "add rsp, 16",
    "push 0",
    "jmp hypercall_page + {iret}",
    ".popsection",
    de = const TRAP_DIVIDE_ERROR,
    bp = const TRAP_INT3,
    ud = const TRAP_INVALID_OP,
    gp = const TRAP_GP_FAULT,
    pf = const TRAP_PAGE_FAULT,
    dispatch = sym trap_dispatch,
    abort_user = const ABORT_USER,
    iret = const IRET_STUB_OFFSET,
);

/// Address of a global symbol of this image.
macro_rules! symbol_address {
    ($name:literal) => {{
        let address: u64;
        // SAFETY: `lea` only computes the address of a symbol of this image.
        unsafe {
            asm!(
                concat!("lea {}, [rip + ", $name, "]"),
                out(reg) address,
                options(nomem, nostack, preserves_flags, pure)
            );
        }
        address
    }};
}
pub(super) use symbol_address;

/// One exception-table entry: an instruction allowed to fault and where to resume.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct ExtableEntry {
    insn: u64,
    fixup: u64,
}

/// The fixup for an instruction at `rip`, if the exception table has one.
pub fn fixup_for(rip: u64) -> Option<u64> {
    let start = symbol_address!("__extable_start");
    let end = symbol_address!("__extable_end");
    let count = (end.checked_sub(start)? as usize) / size_of::<ExtableEntry>();
    // SAFETY: the linker script brackets the .extable input sections (8-byte aligned pairs of
    // .quad written by this crate's asm) with these two symbols, inside read-only data that
    // is mapped for the kernel's lifetime and never written.
    let table = unsafe { core::slice::from_raw_parts(start as *const ExtableEntry, count) };
    table.iter().find(|e| e.insn == rip).map(|e| e.fixup)
}

/// Installs the trap table: #DE, #UD, #GP, #PF with DPL 0 and #BP with DPL 3 (so `int3`
/// works from any guest mode). On success returns the proof the probes need; otherwise
/// set_trap_table's result.
pub fn install() -> Result<TrapsInstalled, i64> {
    let entry = |vector: u8, dpl: u8, address: u64| TrapInfo {
        vector,
        flags: dpl,
        cs: FLAT_KERNEL_CS64,
        pad: 0,
        address,
    };
    let table = [
        entry(
            TRAP_DIVIDE_ERROR,
            0,
            symbol_address!("pvk_trap_divide_error"),
        ),
        entry(TRAP_INT3, 3, symbol_address!("pvk_trap_int3")),
        entry(TRAP_INVALID_OP, 0, symbol_address!("pvk_trap_invalid_op")),
        entry(TRAP_GP_FAULT, 0, symbol_address!("pvk_trap_gp_fault")),
        entry(TRAP_PAGE_FAULT, 0, symbol_address!("pvk_trap_page_fault")),
        TrapInfo::default(),
    ];
    // SAFETY: the table is a live, zero-terminated array the hypervisor only reads; every
    // handler is one of the stubs above, which accept exactly the bounce frame the hypervisor
    // builds for these vectors and return through the iret hypercall.
    let ret = unsafe {
        hypercall::call(
            Hypercall::SetTrapTable as u8,
            table.as_ptr() as u64,
            0,
            0,
            0,
            0,
        )
    }
    .unwrap_or(hypercall_abi::Errno::NoSys.to_ret());
    if ret == 0 {
        Ok(TrapsInstalled::new())
    } else {
        Err(ret)
    }
}

/// Called by the entry code with the frame it built on the stack.
extern "sysv64" fn trap_dispatch(frame: *mut TrapFrame) -> u64 {
    // SAFETY: the entry code passes the address of the TrapFrame it just pushed on the
    // current stack; it is aligned, initialised, and nothing else accesses it until we return.
    let frame = unsafe { &mut *frame };
    let fixup = fixup_for(frame.rip);
    let cr2 = if frame.vector == u64::from(TRAP_PAGE_FAULT) {
        memory::cr2(0)
    } else {
        None
    };
    let event = TrapEvent {
        frame: *frame,
        cr2,
        fixup,
    };
    crate::faults::record(&event);
    // Guest kernel frames carry CS with RPL 0 (or 3 on a hypervisor that does not clear it),
    // so ask the user-mode test whether it is running rather than trusting CS alone.
    let from_user = frame.cs & 3 == 3 && super::user::in_user_mode();
    match fixup {
        _ if from_user => ABORT_USER,
        Some(fixup) => {
            frame.rip = fixup;
            RESUME_FRAME
        }
        None => crate::faults::fatal(&event),
    }
}
