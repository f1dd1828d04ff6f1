//! The user-to-kernel `syscall` bounce, timed: user code loops on `syscall`, the kernel's
//! syscall callback goes straight back with the iret hypercall.
// The callback counts the bounces down in rbx (which neither side otherwise touches) and, at
// zero, reads the TSC and returns to the caller on the kernel RSP saved at the start.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

use hypercall_abi::callback::{CallbackOp, CallbackRegister, CallbackType};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::segment::{FLAT_USER_CS64, FLAT_USER_SS64};
use hypercall_abi::traps::VGCF_IN_SYSCALL;

use super::boot::Stack;
use super::hypercall::{self, IRET_STUB_OFFSET};
use super::traps::symbol_address;
use super::{cpu, user, xen};

/// Stack for the user loop (which never uses it; the iret context needs one).
static BOUNCE_USER_STACK: Stack<4096> = Stack::new();

/// One word written and read only by the asm below.
#[repr(C, align(8))]
struct AsmWord(UnsafeCell<u64>);
// SAFETY: only the asm below (single vCPU) reads and writes it.
unsafe impl Sync for AsmWord {}

/// The kernel RSP saved by `pvk_bounce_run`, restored when the count runs out.
static BOUNCE_SAVED_RSP: AsmWord = AsmWord(UnsafeCell::new(0));

/// RFLAGS for user mode: only the fixed bit; IF clear keeps events masked.
const USER_RFLAGS: u64 = 0x2;

// pvk_bounce_run(n in rdi) -> TSC ticks in rax, for n >= 1 bounces. Callee-saved registers
// are kept on the kernel stack; rbx counts.
global_asm!(
    ".pushsection .text, \"ax\"",
    ".global pvk_bounce_run",
    "pvk_bounce_run:",
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov qword ptr [rip + {saved_rsp}], rsp",
    "mov rbx, rdi",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov r12, rax",
    "push {user_ss}",
    "lea rax, [rip + {user_stack} + {user_stack_size}]",
    "push rax",
    "push {user_rflags}",
    "push {user_cs}",
    "lea rax, [rip + pvk_bounce_user]",
    "push rax",
    "push 0",
    "jmp hypercall_page + {iret}",
    // Guest user mode: nothing but syscalls.
    "pvk_bounce_user:",
    "2:",
    ".rept 16",
    "syscall",
    ".endr",
    "jmp 2b",
    // The syscall callback: guest kernel mode, frame RCX, R11, RIP, CS, RFLAGS, RSP, SS at RSP.
    // Back to user mode as Linux does: the frame minus RCX/R11, flags VGCF_in_syscall.
    ".global pvk_bounce_callback",
    "pvk_bounce_callback:",
    "dec rbx",
    "jz 3f",
    "pop rcx",
    "pop r11",
    "push {in_syscall}",
    "jmp hypercall_page + {iret}",
    "3:",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "sub rax, r12",
    "mov rsp, qword ptr [rip + {saved_rsp}]",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
    ".popsection",
    saved_rsp = sym BOUNCE_SAVED_RSP,
    user_ss = const FLAT_USER_SS64,
    user_stack = sym BOUNCE_USER_STACK,
    user_stack_size = const 4096,
    user_rflags = const USER_RFLAGS,
    user_cs = const FLAT_USER_CS64,
    iret = const IRET_STUB_OFFSET,
    in_syscall = const VGCF_IN_SYSCALL,
);

/// Why the bounce could not be timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// stack_switch failed with this result.
    StackSwitch(i64),
    /// Registering the syscall callback failed with this result.
    Callback(i64),
    /// The current L4 could not be read, or new_user_baseptr failed (its result, if called).
    UserBaseptr(Option<i64>),
}

/// Prepares guest user mode for [`time_bounces`]: the kernel stack for bounces, the syscall
/// callback, and the kernel's own page tables as the user ones.
pub fn setup() -> Result<(), SetupError> {
    let ret = user::stack_switch();
    if ret != 0 {
        return Err(SetupError::StackSwitch(ret));
    }
    let request = CallbackRegister {
        type_: CallbackType::Syscall as u16,
        flags: 0,
        pad: 0,
        address: symbol_address!("pvk_bounce_callback"),
    };
    // SAFETY: the hypervisor reads the live request; the callback is the entry above, which
    // takes the frame the hypervisor builds for a syscall from user mode.
    let ret = unsafe {
        hypercall::call(
            Hypercall::CallbackOp as u8,
            CallbackOp::Register as u64,
            &request as *const CallbackRegister as u64,
            0,
            0,
            0,
        )
    }
    .unwrap_or(hypercall_abi::Errno::NoSys.to_ret());
    if ret != 0 {
        return Err(SetupError::Callback(ret));
    }
    let l4 = cpu::read_cr3().ok_or(SetupError::UserBaseptr(None))? >> 12;
    match xen::new_user_baseptr_current(l4) {
        Some(r) if r.ret == 0 => Ok(()),
        Some(r) => Err(SetupError::UserBaseptr(Some(r.ret))),
        None => Err(SetupError::UserBaseptr(None)),
    }
}

/// TSC ticks for `n` bounces (one iret into user mode, then `n` user `syscall`s, each bounced
/// to the callback, which returns with the iret hypercall; the last one ends the run). 0 if
/// `n` is 0. Needs [`setup`] first.
pub fn time_bounces(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let ticks: u64;
    // SAFETY: pvk_bounce_run follows the C calling convention for callee-saved registers and
    // RSP (it restores them from the saved RSP before `ret`); everything else is clobbered. In
    // between the vCPU runs only the user loop (registers only) and the callback (registers
    // and the kernel stack that setup() named for bounces).
    unsafe {
        asm!("call pvk_bounce_run", in("rdi") n, lateout("rax") ticks, clobber_abi("C"));
    }
    ticks
}
