//! Guest user mode: stack_switch, the callbacks, and an iret-to-user / syscall round trip.
// The round trip: kernel -> iret hypercall -> user code -> `syscall` -> the kernel's syscall
// callback on the stack_switch stack -> back to the caller's saved RSP.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use hypercall_abi::callback::{CallbackOp, CallbackRegister, CallbackType};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::segment::{FLAT_KERNEL_SS64, FLAT_USER_CS64, FLAT_USER_SS64, SegBase};

use super::boot::Stack;
use super::hypercall::{self, IRET_STUB_OFFSET};
use super::layout::{KERNEL_STACK_SIZE, USER_STACK_SIZE};
use super::traps::symbol_address;
use super::xen;

static KERNEL_STACK: Stack<KERNEL_STACK_SIZE> = Stack::new();
static USER_STACK: Stack<USER_STACK_SIZE> = Stack::new();

/// What `%gs:0` reads in guest user mode (the user GS base points here).
pub static USER_GS_VALUE: u64 = 0x5553_4552_4753_0001;
/// What `%gs:0` reads in guest kernel mode (the kernel GS base points here).
pub static KERNEL_GS_VALUE: u64 = 0x4B45_524E_4753_0002;

/// Markers the user code loads before `syscall`, by register (rax holds `%gs:0`, rcx and
/// r11 are overwritten by `syscall`, r12 holds the user RFLAGS from `pushfq`).
pub const MARK_RBX: u64 = 0x0B0B_1111_2222_3333;
/// Marker for rdx.
pub const MARK_RDX: u64 = 0x0D0D_4444_5555_6666;
/// Marker for rsi.
pub const MARK_RSI: u64 = 0x0505_7777_8888_9999;
/// Marker for rdi.
pub const MARK_RDI: u64 = 0x0D01_AAAA_BBBB_CCCC;
/// Marker for rbp.
pub const MARK_RBP: u64 = 0x0B09_DDDD_EEEE_FFFF;
/// Marker for r8.
pub const MARK_R8: u64 = 0x0808_0808_0808_0808;
/// Marker for r9.
pub const MARK_R9: u64 = 0x0909_0909_0909_0909;
/// Marker for r10.
pub const MARK_R10: u64 = 0x1010_1010_1010_1010;
/// Marker for r13.
pub const MARK_R13: u64 = 0x1313_1313_1313_1313;
/// Marker for r14.
pub const MARK_R14: u64 = 0x1414_1414_1414_1414;
/// Marker for r15.
pub const MARK_R15: u64 = 0x1515_1515_1515_1515;

/// RFLAGS for the iret into user mode: only the reserved bit 1; IF clear keeps events masked.
pub const USER_RFLAGS: u64 = 0x2;

/// Register slots of the record, in the order the syscall entry stores them.
pub const REG_NAMES: [&str; 15] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];
const REC_REGS: usize = 0;
const REC_ENTRY_RSP: usize = 15;
const REC_FRAME: usize = 16;
const REC_KERNEL_GS: usize = 23;
const REC_VALID: usize = 24;
const REC_WORDS: usize = 25;

/// Words the syscall entry writes (from asm) and `run` reads back (volatile).
#[repr(C, align(8))]
struct Record(UnsafeCell<[u64; REC_WORDS]>);
// SAFETY: only the asm entry (single vCPU, not concurrently with Rust) and volatile reads in
// `run` touch it; no reference to its contents is formed.
unsafe impl Sync for Record {}

static RECORD: Record = Record(UnsafeCell::new([0; REC_WORDS]));
/// One word written and read only by the asm below.
#[repr(C, align(8))]
struct AsmWord(UnsafeCell<u64>);
// SAFETY: only the asm entry code (single vCPU) reads and writes it.
unsafe impl Sync for AsmWord {}

/// The kernel RSP saved by `pvk_user_enter`, restored by the syscall entry or an abort.
static SAVED_KERNEL_RSP: AsmWord = AsmWord(UnsafeCell::new(0));
/// Set while the vCPU runs our user code (written by the asm below).
static IN_USER_MODE: AtomicBool = AtomicBool::new(false);

/// Whether the user-mode test's code is running (a trap then aborts the test).
pub fn in_user_mode() -> bool {
    IN_USER_MODE.load(Ordering::SeqCst)
}

// pvk_user_enter: saves callee-saved registers and RSP, then enters guest user mode with the
// iret hypercall (context flags 0, RIP pvk_user_code, CS 0xe033, RFLAGS USER_RFLAGS, RSP the
// user stack top, SS 0xe02b). It "returns" when the syscall callback or a trap in user mode
// jumps to pvk_user_return, which restores that RSP.
global_asm!(
    ".pushsection .text, \"ax\"",
    ".global pvk_user_enter",
    "pvk_user_enter:",
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov qword ptr [rip + {saved_rsp}], rsp",
    "mov byte ptr [rip + {in_user}], 1",
    "push {user_ss}",
    "lea rax, [rip + {user_stack} + {user_stack_size}]",
    "push rax",
    "push {user_rflags}",
    "push {user_cs}",
    "lea rax, [rip + pvk_user_code]",
    "push rax",
    "push 0",
    "jmp hypercall_page + {iret}",
    // Guest user mode, same address space (new_user_baseptr = the kernel's L4).
    ".global pvk_user_code",
    "pvk_user_code:",
    "mov rax, qword ptr gs:[0]",
    "mov rbx, {m_rbx}",
    "mov rdx, {m_rdx}",
    "mov rsi, {m_rsi}",
    "mov rdi, {m_rdi}",
    "mov rbp, {m_rbp}",
    "mov r8, {m_r8}",
    "mov r9, {m_r9}",
    "mov r10, {m_r10}",
    "mov r13, {m_r13}",
    "mov r14, {m_r14}",
    "mov r15, {m_r15}",
    "pushfq",
    "pop r12",
    "syscall",
    ".global pvk_user_syscall_return",
    "pvk_user_syscall_return:",
    "ud2",
    // Syscall callback: guest kernel mode on the stack_switch stack, frame at RSP:
    // RCX, R11, RIP, CS, RFLAGS, RSP, SS.
    ".global pvk_syscall_entry",
    "pvk_syscall_entry:",
    "mov qword ptr [rip + {rec} + {o_rsp}], rsp",
    "mov qword ptr [rip + {rec} + {o_regs} + 0], rax",
    "mov qword ptr [rip + {rec} + {o_regs} + 8], rbx",
    "mov qword ptr [rip + {rec} + {o_regs} + 16], rcx",
    "mov qword ptr [rip + {rec} + {o_regs} + 24], rdx",
    "mov qword ptr [rip + {rec} + {o_regs} + 32], rsi",
    "mov qword ptr [rip + {rec} + {o_regs} + 40], rdi",
    "mov qword ptr [rip + {rec} + {o_regs} + 48], rbp",
    "mov qword ptr [rip + {rec} + {o_regs} + 56], r8",
    "mov qword ptr [rip + {rec} + {o_regs} + 64], r9",
    "mov qword ptr [rip + {rec} + {o_regs} + 72], r10",
    "mov qword ptr [rip + {rec} + {o_regs} + 80], r11",
    "mov qword ptr [rip + {rec} + {o_regs} + 88], r12",
    "mov qword ptr [rip + {rec} + {o_regs} + 96], r13",
    "mov qword ptr [rip + {rec} + {o_regs} + 104], r14",
    "mov qword ptr [rip + {rec} + {o_regs} + 112], r15",
    "mov rax, qword ptr [rsp + 0]",
    "mov qword ptr [rip + {rec} + {o_frame} + 0], rax",
    "mov rax, qword ptr [rsp + 8]",
    "mov qword ptr [rip + {rec} + {o_frame} + 8], rax",
    "mov rax, qword ptr [rsp + 16]",
    "mov qword ptr [rip + {rec} + {o_frame} + 16], rax",
    "mov rax, qword ptr [rsp + 24]",
    "mov qword ptr [rip + {rec} + {o_frame} + 24], rax",
    "mov rax, qword ptr [rsp + 32]",
    "mov qword ptr [rip + {rec} + {o_frame} + 32], rax",
    "mov rax, qword ptr [rsp + 40]",
    "mov qword ptr [rip + {rec} + {o_frame} + 40], rax",
    "mov rax, qword ptr [rsp + 48]",
    "mov qword ptr [rip + {rec} + {o_frame} + 48], rax",
    "mov rax, qword ptr gs:[0]",
    "mov qword ptr [rip + {rec} + {o_gs}], rax",
    "mov qword ptr [rip + {rec} + {o_valid}], 1",
    // A trap taken in user mode lands here (from the exception entry) to abandon the test.
    ".global pvk_user_abort",
    "pvk_user_abort:",
    "mov byte ptr [rip + {in_user}], 0",
    "mov rsp, qword ptr [rip + {saved_rsp}]",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
    // Event and failsafe callbacks: never expected (events stay masked, selectors are null).
    ".global pvk_event_entry",
    "pvk_event_entry:",
    "and rsp, -16",
    "xor edi, edi",
    "call {unexpected}",
    "ud2",
    ".global pvk_failsafe_entry",
    "pvk_failsafe_entry:",
    "and rsp, -16",
    "mov edi, 1",
    "call {unexpected}",
    "ud2",
    ".popsection",
    saved_rsp = sym SAVED_KERNEL_RSP,
    in_user = sym IN_USER_MODE,
    user_ss = const FLAT_USER_SS64,
    user_stack = sym USER_STACK,
    user_stack_size = const USER_STACK_SIZE,
    user_rflags = const USER_RFLAGS,
    user_cs = const FLAT_USER_CS64,
    iret = const IRET_STUB_OFFSET,
    m_rbx = const MARK_RBX,
    m_rdx = const MARK_RDX,
    m_rsi = const MARK_RSI,
    m_rdi = const MARK_RDI,
    m_rbp = const MARK_RBP,
    m_r8 = const MARK_R8,
    m_r9 = const MARK_R9,
    m_r10 = const MARK_R10,
    m_r13 = const MARK_R13,
    m_r14 = const MARK_R14,
    m_r15 = const MARK_R15,
    rec = sym RECORD,
    o_regs = const REC_REGS * 8,
    o_rsp = const REC_ENTRY_RSP * 8,
    o_frame = const REC_FRAME * 8,
    o_gs = const REC_KERNEL_GS * 8,
    o_valid = const REC_VALID * 8,
    unexpected = sym unexpected_callback,
);

extern "sysv64" fn unexpected_callback(kind: u64) -> ! {
    crate::faults::unexpected_callback(if kind == 0 { "event" } else { "failsafe" })
}

/// Top of the kernel stack given to stack_switch.
pub fn kernel_stack_top() -> u64 {
    KERNEL_STACK.top()
}

/// Top of the user stack.
pub fn user_stack_top() -> u64 {
    USER_STACK.top()
}

/// Address of the instruction after the user code's `syscall`.
pub fn syscall_return_address() -> u64 {
    symbol_address!("pvk_user_syscall_return")
}

/// stack_switch to our kernel stack (SS = FLAT_KERNEL_SS64).
pub fn stack_switch() -> i64 {
    // SAFETY: the hypervisor only records SS:RSP for later user-to-kernel entries; the stack
    // is a static reserved for exactly those frames.
    unsafe {
        hypercall::call(
            Hypercall::StackSwitch as u8,
            u64::from(FLAT_KERNEL_SS64),
            kernel_stack_top(),
            0,
            0,
            0,
        )
    }
    .unwrap_or(hypercall_abi::Errno::NoSys.to_ret())
}

/// callback_op register for the event, failsafe and syscall callbacks (in that order).
pub fn register_callbacks() -> [i64; 3] {
    let targets = [
        (CallbackType::Event, symbol_address!("pvk_event_entry")),
        (
            CallbackType::Failsafe,
            symbol_address!("pvk_failsafe_entry"),
        ),
        (CallbackType::Syscall, symbol_address!("pvk_syscall_entry")),
    ];
    targets.map(|(kind, address)| {
        let request = CallbackRegister {
            type_: kind as u16,
            flags: 0,
            pad: 0,
            address,
        };
        // SAFETY: the hypervisor reads the live request; each address is an entry above that
        // accepts the frame the hypervisor builds for that callback.
        unsafe {
            hypercall::call(
                Hypercall::CallbackOp as u8,
                CallbackOp::Register as u64,
                &request as *const CallbackRegister as u64,
                0,
                0,
                0,
            )
        }
        .unwrap_or(hypercall_abi::Errno::NoSys.to_ret())
    })
}

/// Points the user GS base at [`USER_GS_VALUE`] and the kernel GS base at
/// [`KERNEL_GS_VALUE`]; returns both results.
pub fn set_gs_bases() -> (i64, i64) {
    let user = xen::set_segment_base(SegBase::GsUser as u64, &USER_GS_VALUE as *const u64 as u64);
    let kernel = xen::set_segment_base(
        SegBase::GsKernel as u64,
        &KERNEL_GS_VALUE as *const u64 as u64,
    );
    (user, kernel)
}

/// What the syscall entry recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallRecord {
    /// Registers at entry, in [`REG_NAMES`] order.
    pub regs: [u64; 15],
    /// RSP at entry (the bounce frame's address).
    pub entry_rsp: u64,
    /// The bounce frame: RCX, R11, RIP, CS, RFLAGS, RSP, SS.
    pub frame: [u64; 7],
    /// `%gs:0` read in the callback (kernel mode).
    pub kernel_gs0: u64,
}

/// Runs the user code once. `Some` with the record if the syscall callback arrived, `None`
/// if the run ended otherwise (a trap in user mode; the trap is recorded by `faults`).
pub fn run() -> Option<SyscallRecord> {
    let base = RECORD.0.get().cast::<u64>();
    for i in 0..REC_WORDS {
        // SAFETY: i < REC_WORDS stays inside the static; nothing else runs concurrently.
        unsafe { ptr::write_volatile(base.add(i), 0) };
    }
    // SAFETY: pvk_user_enter follows the C calling convention for callee-saved registers and
    // RSP (it restores them from the saved RSP before `ret`); everything else is clobbered.
    // In between, the vCPU runs only our user code (which touches its own stack and %gs:0)
    // and our entry code (which writes RECORD and IN_USER_MODE).
    unsafe { asm!("call pvk_user_enter", clobber_abi("C")) };
    // SAFETY: as above: reads inside the static after the asm has finished with it.
    let read = |i: usize| unsafe { ptr::read_volatile(base.add(i)) };
    if read(REC_VALID) != 1 {
        return None;
    }
    let mut record = SyscallRecord {
        entry_rsp: read(REC_ENTRY_RSP),
        kernel_gs0: read(REC_KERNEL_GS),
        ..SyscallRecord::default()
    };
    for (i, slot) in record.regs.iter_mut().enumerate() {
        *slot = read(REC_REGS + i);
    }
    for (i, slot) in record.frame.iter_mut().enumerate() {
        *slot = read(REC_FRAME + i);
    }
    Some(record)
}
