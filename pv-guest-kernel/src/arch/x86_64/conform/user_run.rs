//! Guest user mode for the conformance guests: entering it with iret, small user programs, the syscall callback.
// `run` saves the kernel's callee-saved registers and RSP, then enters guest user mode with
// the iret hypercall at one of the user programs below. The syscall callback and every
// exception arrive at `capture`'s common path: a syscall asking to go on (`SYS_RESUME`) is
// answered through iret back to user mode; a syscall asking to stop (`SYS_EXIT`), or an
// exception user mode cannot be resumed from, comes to `pvk_cf_user_abort`, which restores the
// saved kernel context and returns from `run`.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hypercall_abi::callback::CallbackType;
use hypercall_abi::segment::{FLAT_KERNEL_SS64, FLAT_USER_CS64, FLAT_USER_SS64};

use super::super::boot::Stack;
use super::super::hypercall::IRET_STUB_OFFSET;
use super::super::layout::{KERNEL_STACK_SIZE, USER_STACK_SIZE};
use super::super::traps::symbol_address;
use super::capture::{self, Outcome, Trap};
use super::fpu::{FXSAVE_BYTES, FxArea};
use super::hypercalls;

static KERNEL_STACK: Stack<KERNEL_STACK_SIZE> = Stack::new();
static USER_STACK: Stack<USER_STACK_SIZE> = Stack::new();

/// Syscall number (rax) asking to leave user mode.
pub const SYS_EXIT: u64 = 0;
/// Syscall number (rax) asking to be resumed in user mode.
pub const SYS_RESUME: u64 = 1;
/// What rax holds when a `SYS_RESUME` syscall returns to user mode.
pub const RESUME_RAX: u64 = 0x5245_5355_4D45_0001;

/// Markers the syscall programs load, by register (rbx, rdx, rsi, rbp, r8, r9, r10, r13, r14).
pub const MARKS: [u64; 9] = [
    0x0B0B_0000_0000_0001,
    0x0D0D_0000_0000_0002,
    0x0505_0000_0000_0003,
    0x0B09_0000_0000_0004,
    0x0808_0000_0000_0005,
    0x0909_0000_0000_0006,
    0x1010_0000_0000_0007,
    0x1313_0000_0000_0008,
    0x1414_0000_0000_0009,
];

/// RFLAGS bits the user programs may set before their syscall: DF, NT, AC.
pub const SETTABLE_FLAGS: u64 = (1 << 10) | (1 << 14) | (1 << 18);

/// Word-sized arguments the user programs read (through rdi = their address).
#[repr(C, align(64))]
struct Args([AtomicU64; 8]);
static ARGS: Args = Args([const { AtomicU64::new(0) }; 8]);

/// An fxsave area pair for the FPU program: it saves into the first and loads the second.
#[repr(C, align(64))]
pub struct FxPair(pub UnsafeCell<[u8; 1024]>);
// SAFETY: only the FPU program (single vCPU, while `run` waits) and the kernel's volatile
// copies in `fpu` touch it, never at the same time.
unsafe impl Sync for FxPair {}
/// The FPU program's areas.
pub static FX_PAIR: FxPair = FxPair(UnsafeCell::new([0; 1024]));

/// Sets the image the FPU program loads (the second half of [`FX_PAIR`]).
pub fn set_fx_load(area: &FxArea) {
    let base = FX_PAIR.0.get().cast::<u8>();
    for (i, byte) in area.0.iter().enumerate() {
        // SAFETY: i < 512, so base + 512 + i stays in the 1024-byte static; the FPU program
        // is not running (single vCPU, `run` not active), and no reference to it exists.
        unsafe { core::ptr::write_volatile(base.add(FXSAVE_BYTES + i), *byte) };
    }
}

/// The image the FPU program saved (the first half of [`FX_PAIR`]).
pub fn fx_saved() -> FxArea {
    let base = FX_PAIR.0.get().cast::<u8>();
    let mut area = FxArea::default();
    for (i, byte) in area.0.iter_mut().enumerate() {
        // SAFETY: as in `set_fx_load`, a read of the first half.
        *byte = unsafe { core::ptr::read_volatile(base.add(i)) };
    }
    area
}

/// One word written and read only by the asm below.
#[repr(C, align(8))]
struct AsmWord(UnsafeCell<u64>);
// SAFETY: only the asm entry and abort code (single vCPU) touch it.
unsafe impl Sync for AsmWord {}
static SAVED_KERNEL_RSP: AsmWord = AsmWord(UnsafeCell::new(0));
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether a user program is running (so an exception with an RPL-3 CS came from it).
pub fn active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

global_asm!(
    ".pushsection .text, \"ax\"",
    // rdi = entry, rsi = user RSP, rdx = RFLAGS, rcx = rdi for the program.
    ".global pvk_cf_user_enter",
    "pvk_cf_user_enter:",
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov qword ptr [rip + {saved}], rsp",
    "mov byte ptr [rip + {active}], 1",
    "push {user_ss}",
    "push rsi",
    "push rdx",
    "push {user_cs}",
    "push rdi",
    "push 0",
    "mov rdi, rcx",
    "jmp hypercall_page + {iret}",
    ".global pvk_cf_user_abort",
    "pvk_cf_user_abort:",
    "mov byte ptr [rip + {active}], 0",
    "mov rsp, qword ptr [rip + {saved}]",
    // Whatever the user program set in RFLAGS (DF, NT, AC, TF) must not leak into the kernel.
    "pushfq",
    "and qword ptr [rsp], {flags_keep}",
    "popfq",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
    // --- user programs (guest user mode, rdi = ARGS) ---
    // Syscall: OR ARGS[0] into RFLAGS, load markers, SYS_EXIT. r12 = RFLAGS before `syscall`.
    ".global pvk_cf_up_syscall",
    "pvk_cf_up_syscall:",
    "mov rax, qword ptr [rdi]",
    "pushfq",
    "or qword ptr [rsp], rax",
    "popfq",
    "pushfq",
    "pop r12",
    "mov rbx, {m0}",
    "mov rdx, {m1}",
    "mov rsi, {m2}",
    "mov rbp, {m3}",
    "mov r8, {m4}",
    "mov r9, {m5}",
    "mov r10, {m6}",
    "mov r13, {m7}",
    "mov r14, {m8}",
    "mov r15, rdi",
    "mov eax, {sys_exit}",
    ".global pvk_cf_up_syscall_insn",
    "pvk_cf_up_syscall_insn:",
    "syscall",
    ".global pvk_cf_up_syscall_after",
    "pvk_cf_up_syscall_after:",
    "ud2",
    // Faults: SYS_RESUME (rax comes back in r12), then read ARGS[1] (a kernel-only address),
    // write ARGS[2] (a read-only page), ud2, each resumed in user mode at its fixup; SYS_EXIT.
    ".global pvk_cf_up_faults",
    "pvk_cf_up_faults:",
    "mov r15, rdi",
    "mov eax, {sys_resume}",
    ".global pvk_cf_up_faults_sys1",
    "pvk_cf_up_faults_sys1:",
    "syscall",
    "mov r12, rax",
    "mov rsi, qword ptr [r15 + 8]",
    ".global pvk_cf_up_faults_read",
    "pvk_cf_up_faults_read:",
    "mov rax, qword ptr [rsi]",
    "pvk_cf_up_faults_read_done:",
    "mov rsi, qword ptr [r15 + 16]",
    ".global pvk_cf_up_faults_write",
    "pvk_cf_up_faults_write:",
    "mov qword ptr [rsi], rax",
    "pvk_cf_up_faults_write_done:",
    ".global pvk_cf_up_faults_ud2",
    "pvk_cf_up_faults_ud2:",
    "ud2",
    "pvk_cf_up_faults_ud2_done:",
    "mov eax, {sys_exit}",
    ".global pvk_cf_up_faults_sys2",
    "pvk_cf_up_faults_sys2:",
    "syscall",
    "ud2",
    ".pushsection .extable, \"a\"",
    ".balign 8",
    ".quad pvk_cf_up_faults_read, pvk_cf_up_faults_read_done",
    ".quad pvk_cf_up_faults_write, pvk_cf_up_faults_write_done",
    ".quad pvk_cf_up_faults_ud2, pvk_cf_up_faults_ud2_done",
    ".popsection",
    // Privileged: instructions a kernel may use, from user mode, each resumed at its fixup
    // (a trap-like delivery resumes at the same place); then SYS_EXIT.
    ".global pvk_cf_up_priv",
    "pvk_cf_up_priv:",
    ".global pvk_cf_up_priv_cr3",
    "pvk_cf_up_priv_cr3:",
    "mov rax, cr3",
    "pvk_cf_up_priv_cr3_done:",
    ".global pvk_cf_up_priv_cli",
    "pvk_cf_up_priv_cli:",
    "cli",
    "pvk_cf_up_priv_cli_done:",
    "mov edx, 0x80",
    ".global pvk_cf_up_priv_in",
    "pvk_cf_up_priv_in:",
    "in al, dx",
    "pvk_cf_up_priv_in_done:",
    "mov ecx, 0xc0000080",
    ".global pvk_cf_up_priv_rdmsr",
    "pvk_cf_up_priv_rdmsr:",
    "rdmsr",
    "pvk_cf_up_priv_rdmsr_done:",
    "xor eax, eax",
    "xor ecx, ecx",
    "mov r8, rbx",
    ".global pvk_cf_up_priv_cpuid",
    "pvk_cf_up_priv_cpuid:",
    "ud2",
    ".ascii \"xen\"",
    "cpuid",
    "pvk_cf_up_priv_cpuid_done:",
    "mov rbx, r8",
    ".global pvk_cf_up_priv_int3",
    "pvk_cf_up_priv_int3:",
    "int3",
    "pvk_cf_up_priv_int3_done:",
    ".global pvk_cf_up_priv_int80",
    "pvk_cf_up_priv_int80:",
    "int 0x80",
    "pvk_cf_up_priv_int80_done:",
    "mov eax, {sys_exit}",
    "syscall",
    "ud2",
    ".pushsection .extable, \"a\"",
    ".balign 8",
    ".quad pvk_cf_up_priv_cr3, pvk_cf_up_priv_cr3_done",
    ".quad pvk_cf_up_priv_cli, pvk_cf_up_priv_cli_done",
    ".quad pvk_cf_up_priv_in, pvk_cf_up_priv_in_done",
    ".quad pvk_cf_up_priv_rdmsr, pvk_cf_up_priv_rdmsr_done",
    ".quad pvk_cf_up_priv_cpuid, pvk_cf_up_priv_cpuid_done",
    ".quad pvk_cf_up_priv_int3, pvk_cf_up_priv_int3_done",
    ".quad pvk_cf_up_priv_int3_done, pvk_cf_up_priv_int3_done",
    ".quad pvk_cf_up_priv_int80, pvk_cf_up_priv_int80_done",
    ".quad pvk_cf_up_priv_int80_done, pvk_cf_up_priv_int80_done",
    ".popsection",
    // FPU: save the state found into FX_PAIR[0..512], load FX_PAIR[512..1024], SYS_EXIT.
    ".global pvk_cf_up_fpu",
    "pvk_cf_up_fpu:",
    "lea rsi, [rip + {fx}]",
    "fxsave64 [rsi]",
    "fxrstor64 [rsi + 512]",
    "mov eax, {sys_exit}",
    "syscall",
    "ud2",
    ".popsection",
    saved = sym SAVED_KERNEL_RSP,
    active = sym ACTIVE,
    user_ss = const FLAT_USER_SS64,
    user_cs = const FLAT_USER_CS64,
    iret = const IRET_STUB_OFFSET,
    flags_keep = const !(SETTABLE_FLAGS | (1 << 8)) as i32,
    m0 = const MARKS[0],
    m1 = const MARKS[1],
    m2 = const MARKS[2],
    m3 = const MARKS[3],
    m4 = const MARKS[4],
    m5 = const MARKS[5],
    m6 = const MARKS[6],
    m7 = const MARKS[7],
    m8 = const MARKS[8],
    sys_exit = const SYS_EXIT,
    sys_resume = const SYS_RESUME,
    fx = sym FX_PAIR,
);

/// The user programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// Sets RFLAGS bits, loads [`MARKS`], SYS_EXIT.
    Syscall,
    /// SYS_RESUME, a kernel-only read, a read-only write, ud2, SYS_EXIT.
    Faults,
    /// Privileged instructions from user mode, then SYS_EXIT.
    Privileged,
    /// Swaps the FPU state through [`FX_PAIR`], SYS_EXIT.
    Fpu,
}

impl Program {
    /// The program's entry.
    pub fn entry(self) -> u64 {
        match self {
            Program::Syscall => symbol_address!("pvk_cf_up_syscall"),
            Program::Faults => symbol_address!("pvk_cf_up_faults"),
            Program::Privileged => symbol_address!("pvk_cf_up_priv"),
            Program::Fpu => symbol_address!("pvk_cf_up_fpu"),
        }
    }
}

/// Addresses inside the user programs, for checks on reported RIPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// The Syscall program's `syscall`.
    SyscallInsn,
    /// The instruction after it.
    SyscallAfter,
    /// The Faults program's first `syscall`.
    FaultsSys1,
    /// Its kernel-only read.
    FaultsRead,
    /// Its read-only write.
    FaultsWrite,
    /// Its ud2.
    FaultsUd2,
    /// Its last `syscall`.
    FaultsSys2,
    /// The Privileged program's CR3 read.
    PrivCr3,
    /// Its cli.
    PrivCli,
    /// Its `in`.
    PrivIn,
    /// Its rdmsr.
    PrivRdmsr,
    /// Its forced-emulation CPUID.
    PrivCpuid,
    /// Its int3.
    PrivInt3,
    /// Its int 0x80.
    PrivInt80,
}

impl Label {
    /// The address.
    pub fn address(self) -> u64 {
        match self {
            Label::SyscallInsn => symbol_address!("pvk_cf_up_syscall_insn"),
            Label::SyscallAfter => symbol_address!("pvk_cf_up_syscall_after"),
            Label::FaultsSys1 => symbol_address!("pvk_cf_up_faults_sys1"),
            Label::FaultsRead => symbol_address!("pvk_cf_up_faults_read"),
            Label::FaultsWrite => symbol_address!("pvk_cf_up_faults_write"),
            Label::FaultsUd2 => symbol_address!("pvk_cf_up_faults_ud2"),
            Label::FaultsSys2 => symbol_address!("pvk_cf_up_faults_sys2"),
            Label::PrivCr3 => symbol_address!("pvk_cf_up_priv_cr3"),
            Label::PrivCli => symbol_address!("pvk_cf_up_priv_cli"),
            Label::PrivIn => symbol_address!("pvk_cf_up_priv_in"),
            Label::PrivRdmsr => symbol_address!("pvk_cf_up_priv_rdmsr"),
            Label::PrivCpuid => symbol_address!("pvk_cf_up_priv_cpuid"),
            Label::PrivInt3 => symbol_address!("pvk_cf_up_priv_int3"),
            Label::PrivInt80 => symbol_address!("pvk_cf_up_priv_int80"),
        }
    }
}

/// Sets argument word `index` (0..8) the user programs read.
pub fn set_arg(index: usize, value: u64) {
    if let Some(slot) = ARGS.0.get(index) {
        slot.store(value, Ordering::SeqCst);
    }
}

/// Top of the kernel stack named with stack_switch.
pub fn kernel_stack_top() -> u64 {
    KERNEL_STACK.top()
}

/// Top of the user stack.
pub fn user_stack_top() -> u64 {
    USER_STACK.top()
}

/// stack_switch to this module's kernel stack.
pub fn stack_switch() -> i64 {
    // SAFETY: the stack is a static reserved for user-to-kernel entries.
    unsafe { hypercalls::stack_switch(FLAT_KERNEL_SS64, kernel_stack_top()) }
}

/// stack_switch to this module's kernel stack with its top lowered by `by` bytes (a multiple
/// of 16 below half the stack); -EINVAL without a call for another `by`.
pub fn stack_switch_lowered(by: u64) -> i64 {
    if !by.is_multiple_of(16) || by >= (KERNEL_STACK_SIZE / 2) as u64 {
        return hypercall_abi::Errno::Inval.to_ret();
    }
    // SAFETY: the top stays inside the static stack reserved for user-to-kernel entries, with
    // at least half of it below for the frames.
    unsafe { hypercalls::stack_switch(FLAT_KERNEL_SS64, kernel_stack_top() - by) }
}

/// Registers `capture`'s syscall entry as the syscall callback with `flags`.
pub fn register_syscall(flags: u16) -> i64 {
    // SAFETY: the entry accepts the syscall bounce frame (see `capture`).
    unsafe {
        hypercalls::register_callback(
            CallbackType::Syscall,
            flags,
            capture::syscall_entry_address(),
        )
    }
}

/// Registers address 0 as the syscall callback ("none").
pub fn register_syscall_none() -> i64 {
    // SAFETY: address 0 names no callback: a user `syscall` then cannot reach us through it.
    unsafe { hypercalls::register_callback(CallbackType::Syscall, 0, 0) }
}

/// Registers the event and failsafe callbacks of the self-test's user module (they crash the
/// domain: events stay masked in the conformance guests and segments stay null).
pub fn register_event_and_failsafe() -> [i64; 2] {
    let event = symbol_address!("pvk_event_entry");
    let failsafe = symbol_address!("pvk_failsafe_entry");
    // SAFETY: both are entries of `user` that report the callback and crash the domain.
    unsafe {
        [
            hypercalls::register_callback(CallbackType::Event, 0, event),
            hypercalls::register_callback(CallbackType::Failsafe, 0, failsafe),
        ]
    }
}

/// Decides what a syscall callback entry does: (outcome, rax to return with).
pub(super) fn on_syscall(trap: &Trap) -> (Outcome, u64) {
    if active() && trap.regs.rax == SYS_RESUME {
        (Outcome::SyscallReturn, RESUME_RAX)
    } else {
        (Outcome::AbortUser, trap.regs.rax)
    }
}

/// Runs `program` in guest user mode with `rflags` (bit 1 is always set) until it leaves
/// (SYS_EXIT, or an exception user mode is not resumed from). The capture log says what
/// happened. The caller must have set up a user base pointer, stack_switch and the trap table.
pub fn run(program: Program, rflags: u64) {
    let entry = program.entry();
    let args = ARGS.0.as_ptr() as u64;
    // SAFETY: pvk_cf_user_enter keeps the C calling convention for callee-saved registers and
    // RSP (restored from the saved RSP before `ret`); everything else is clobbered. In between
    // the vCPU runs one of the user programs above, which touch only their own registers,
    // the user stack, ARGS, FX_PAIR and the addresses in ARGS (faulting on purpose), and the
    // capture path, which writes only its log.
    unsafe {
        asm!(
            "call pvk_cf_user_enter",
            in("rdi") entry,
            in("rsi") user_stack_top(),
            in("rdx") rflags | 2,
            in("rcx") args,
            clobber_abi("C"),
        );
    }
}
