//! Trap capture for the conformance guests: a stub per vector, the raw bounce frame, a log, resumption.
// Every vector 0-255 has a 16-byte stub that pushes RFLAGS as it finds them and the vector,
// then jumps to the common path. The syscall callback enters the same path with the marker
// SYSCALL_SLOT in place of a vector. The common path saves the GPRs and calls `dispatch`,
// which reads the hypervisor's frame in place (RCX, R11, [error code], RIP, CS, RFLAGS, RSP,
// SS), appends a `Trap` to the log, then picks how to go on: resume through the iret
// hypercall (at a fixed-up RIP, or the same RIP for a retried #NM), or abandon guest user mode
// (back to the kernel context `user_run` saved).

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use heapless::Vec;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::segment::FLAT_KERNEL_CS64;
use hypercall_abi::traps::{TRAP_DEBUG, TRAP_NO_DEVICE, TRAP_PAGE_FAULT, TrapInfo};
use spin::Mutex;

use super::super::hypercall::IRET_STUB_OFFSET;
use super::super::memory;
use super::super::probes::TrapsInstalled;
use super::super::traps::{SavedRegs, fixup_for, symbol_address};
use super::hypercalls::{self, hc};
use super::{insn, user_run};
use crate::console::kprintln;

/// Bytes from one vector's stub to the next.
const STUB_STRIDE: u64 = 16;
/// What the syscall callback pushes in place of a vector.
pub const SYSCALL_SLOT: u16 = 0x100;
/// Vectors for which the CPU pushes an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP,
/// #VC, #SX.
const EC_VECTORS: u32 = (1 << 8)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
    | (1 << 13)
    | (1 << 14)
    | (1 << 17)
    | (1 << 21)
    | (1 << 29)
    | (1 << 30);
/// RFLAGS.TF.
const RFLAGS_TF: u64 = 1 << 8;
/// Return values of `dispatch` to the common path.
const RESUME: u64 = 0;
const ABORT_USER: u64 = 1;

/// What the common path pushed below the hypervisor's frame (lowest address first).
#[repr(C)]
struct Entry {
    regs: SavedRegs,
    /// In: the vector (or SYSCALL_SLOT). Out: 1 if the frame has an error code to drop.
    slot: u64,
    /// RFLAGS as the handler was entered with (the stub's `pushfq`).
    entry_rflags: u64,
}
const _: () = assert!(size_of::<Entry>() == 17 * 8);

// The stubs, in AT&T syntax for the assembler's loop; `pvk_cf_stubs + 16 * v` is vector v's.
global_asm!(
    ".pushsection .text, \"ax\"",
    ".balign 16",
    ".global pvk_cf_stubs",
    "pvk_cf_stubs:",
    ".set pvk_cf_vector, 0",
    ".rept 256",
    "pushfq",
    "pushq $pvk_cf_vector",
    "jmp pvk_cf_common",
    ".balign 16, 0xcc",
    ".set pvk_cf_vector, pvk_cf_vector + 1",
    ".endr",
    ".global pvk_cf_syscall_entry",
    "pvk_cf_syscall_entry:",
    "pushfq",
    "pushq ${syscall}",
    "jmp pvk_cf_common",
    ".popsection",
    syscall = const SYSCALL_SLOT,
    options(att_syntax),
);

global_asm!(
    ".pushsection .text, \"ax\"",
    ".global pvk_cf_common",
    "pvk_cf_common:",
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
    "cmp rax, {abort}",
    "je pvk_cf_user_abort",
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
    // [rsp]: 1 if the frame has an error code; then the stub's RFLAGS; then the frame.
    "cmp qword ptr [rsp], 0",
    "lea rsp, [rsp + 16]",
    "pop rcx",
    "pop r11",
    "je 2f",
    "lea rsp, [rsp + 8]",
    "2:",
    "push 0",
    "jmp hypercall_page + {iret}",
    ".popsection",
    dispatch = sym dispatch,
    abort = const ABORT_USER,
    iret = const IRET_STUB_OFFSET,
);

/// One entry into the trap table or the syscall callback, as the handler found it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trap {
    /// Exception vector, or [`SYSCALL_SLOT`] for the syscall callback.
    pub vector: u16,
    /// The error code, for the vectors that have one.
    pub error: Option<u64>,
    /// RCX from the frame.
    pub rcx: u64,
    /// R11 from the frame.
    pub r11: u64,
    /// RIP from the frame.
    pub rip: u64,
    /// CS from the frame (bits 32-39: the saved upcall mask).
    pub cs: u64,
    /// RFLAGS from the frame.
    pub rflags: u64,
    /// RSP from the frame.
    pub rsp: u64,
    /// SS from the frame.
    pub ss: u64,
    /// RSP at handler entry: the frame's address.
    pub entry_rsp: u64,
    /// RFLAGS at handler entry.
    pub entry_rflags: u64,
    /// GPRs at handler entry.
    pub regs: SavedRegs,
    /// `vcpu_info[0].evtchn_upcall_mask` at handler entry.
    pub upcall_mask: Option<u8>,
    /// `vcpu_info[0].arch.cr2` (page faults).
    pub cr2: Option<u64>,
    /// The emulated CR0 read in the handler (#NM only; `None` if the read faulted).
    pub cr0: Option<u64>,
    /// get_debugreg(6) in the handler (#DB only).
    pub dr6: Option<i64>,
    /// How the handler went on.
    pub outcome: Outcome,
}

/// How a handler went on after recording.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// Not decided (never logged).
    #[default]
    None,
    /// Resumed at the exception-table fixup.
    Fixup,
    /// Resumed at the same RIP (a retried #NM).
    Retry,
    /// Resumed guest user mode after a syscall.
    SyscallReturn,
    /// Abandoned guest user mode, back to the kernel.
    AbortUser,
}

/// What to do on #NM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum NmAction {
    /// Resume at the exception-table fixup.
    Fixup = 0,
    /// Resume at the same instruction; if it raises #NM again, clear TS with fpu_taskswitch(0)
    /// first (so a hypervisor that leaves TS set cannot loop us forever).
    Retry = 1,
}

/// What to do on an exception in guest user mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum UserAction {
    /// Back to the kernel context that entered user mode.
    Abort = 0,
    /// Back to user mode at the exception-table fixup (abort if there is none).
    Fixup = 1,
}

static LOG: Mutex<Vec<Trap, 16>> = Mutex::new(Vec::new());
static NM_ACTION: AtomicU8 = AtomicU8::new(NmAction::Fixup as u8);
static USER_ACTION: AtomicU8 = AtomicU8::new(UserAction::Abort as u8);
/// RIP of the last #NM retried, to spot a repeat.
static LAST_NM_RIP: AtomicU64 = AtomicU64::new(0);
/// Set while a table installed by [`install`] is in place.
static INSTALLED: AtomicU8 = AtomicU8::new(0);
/// Entries dropped because the log was full.
static DROPPED: AtomicU32 = AtomicU32::new(0);

/// Sets the #NM policy.
pub fn set_nm_action(action: NmAction) {
    NM_ACTION.store(action as u8, Ordering::SeqCst);
    LAST_NM_RIP.store(0, Ordering::SeqCst);
}

/// Sets the user-mode exception policy.
pub fn set_user_action(action: UserAction) {
    USER_ACTION.store(action as u8, Ordering::SeqCst);
}

/// Empties the log.
pub fn clear() {
    LOG.lock().clear();
    DROPPED.store(0, Ordering::SeqCst);
}

/// Takes the log (oldest first) and empties it.
pub fn take() -> Vec<Trap, 16> {
    core::mem::take(&mut *LOG.lock())
}

/// Address of vector `vector`'s stub.
pub fn stub_address(vector: u8) -> u64 {
    symbol_address!("pvk_cf_stubs") + u64::from(vector) * STUB_STRIDE
}

/// Address of the syscall callback entry.
pub fn syscall_entry_address() -> u64 {
    symbol_address!("pvk_cf_syscall_entry")
}

/// One trap-table entry to install: the vector and the flags (DPL in bits 0-1, bit 2 masks
/// events on entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// Vector.
    pub vector: u8,
    /// `trap_info.flags`.
    pub flags: u8,
}

/// Most entries one [`install`] call takes.
pub const MAX_GATES: usize = 64;

/// set_trap_table with an entry per gate, each pointing at this module's stub for its vector
/// (code selector FLAT_KERNEL_CS64). Returns the hypercall's result; -E2BIG without a call
/// for more than [`MAX_GATES`] gates.
pub fn install(gates: &[Gate]) -> i64 {
    if gates.len() > MAX_GATES {
        return hypercall_abi::Errno::TooBig.to_ret();
    }
    let mut table = [TrapInfo::default(); MAX_GATES + 1];
    for (slot, gate) in table.iter_mut().zip(gates) {
        *slot = TrapInfo {
            vector: gate.vector,
            flags: gate.flags,
            cs: FLAT_KERNEL_CS64,
            pad: 0,
            address: stub_address(gate.vector),
        };
    }
    // SAFETY: the table is live and zero-terminated (the entry after the gates is all zero);
    // every handler is this module's stub, which accepts the bounce frame of any vector.
    let ret = unsafe { hc(Hypercall::SetTrapTable, table.as_ptr() as u64, 0, 0, 0, 0) };
    if ret == 0 {
        INSTALLED.store(1, Ordering::SeqCst);
    }
    ret
}

/// Proof for the self-test probes that exceptions come back to a handler that resumes at
/// their exception-table fixups (ours does), while a table from [`install`] is in place.
pub fn probe_token() -> Option<TrapsInstalled> {
    (INSTALLED.load(Ordering::SeqCst) != 0).then(TrapsInstalled::new)
}

/// set_trap_table(NULL): forgets every entry. Until the next [`install`] any exception
/// crashes the domain.
pub fn clear_table() -> i64 {
    INSTALLED.store(0, Ordering::SeqCst);
    // SAFETY: a NULL table asks the hypervisor to clear ours; no memory is read.
    unsafe { hc(Hypercall::SetTrapTable, 0, 0, 0, 0, 0) }
}

/// set_trap_table with a pointer to an address that is not mapped (expected: -EFAULT).
pub fn install_unmapped(address: u64) -> i64 {
    // SAFETY: the hypervisor can only fail to read the unmapped table; nothing of ours is at
    // that address, so even a successful read changes no memory.
    unsafe { hc(Hypercall::SetTrapTable, address, 0, 0, 0, 0) }
}

/// Reads word `i` of the frame above `entry`.
///
/// # Safety
/// `entry` is the live Entry the common path built, and the frame above it has more than `i`
/// words.
unsafe fn frame_word(entry: *const Entry, i: usize) -> u64 {
    // SAFETY: the caller's contract; the frame is 8-byte aligned on the stack.
    unsafe { entry.add(1).cast::<u64>().add(i).read_volatile() }
}

/// Writes word `i` of the frame above `entry`.
///
/// # Safety
/// As for [`frame_word`]; the frame is ours to change before the iret.
unsafe fn set_frame_word(entry: *mut Entry, i: usize, value: u64) {
    // SAFETY: the caller's contract.
    unsafe { entry.add(1).cast::<u64>().add(i).write_volatile(value) }
}

fn log(trap: &Trap) {
    if LOG.lock().push(*trap).is_err() {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Called by the common path with the frame it built.
extern "sysv64" fn dispatch(entry: *mut Entry) -> u64 {
    // SAFETY: the common path passes the address of the Entry it just pushed; nothing else
    // touches it until we return.
    let e = unsafe { &mut *entry };
    let slot = e.slot;
    let syscall = slot == u64::from(SYSCALL_SLOT);
    let vector = slot as u8;
    let has_ec = !syscall && vector < 32 && EC_VECTORS & (1 << vector) != 0;
    let base = usize::from(has_ec);
    // SAFETY: the hypervisor's frame above the Entry has 7 words, 8 with an error code.
    let w = |i: usize| unsafe { frame_word(entry, i) };
    let mut trap = Trap {
        vector: slot as u16,
        error: has_ec.then(|| w(2)),
        rcx: w(0),
        r11: w(1),
        rip: w(2 + base),
        cs: w(3 + base),
        rflags: w(4 + base),
        rsp: w(5 + base),
        ss: w(6 + base),
        entry_rsp: entry as u64 + size_of::<Entry>() as u64,
        entry_rflags: e.entry_rflags,
        regs: e.regs,
        upcall_mask: memory::upcall_mask(0),
        ..Trap::default()
    };
    e.slot = u64::from(has_ec);
    if syscall {
        let (outcome, rax) = user_run::on_syscall(&trap);
        trap.outcome = outcome;
        log(&trap);
        if outcome == Outcome::AbortUser {
            return ABORT_USER;
        }
        e.regs.rax = rax;
        return RESUME;
    }
    if vector == TRAP_PAGE_FAULT {
        trap.cr2 = memory::cr2(0);
    }
    if vector == TRAP_DEBUG {
        trap.dr6 = Some(hypercalls::get_debugreg(6));
        // Single-stepping ends here: resume without TF.
        // SAFETY: RFLAGS is frame word 4 + base.
        unsafe { set_frame_word(entry, 4 + base, trap.rflags & !RFLAGS_TF) };
    }
    if vector == TRAP_NO_DEVICE {
        trap.cr0 = insn::read_cr0().value();
    }
    let from_user = trap.cs & 3 == 3 && user_run::active();
    let user_action = USER_ACTION.load(Ordering::SeqCst);
    let fixup = fixup_for(trap.rip);
    let outcome = if from_user && (user_action == UserAction::Abort as u8 || fixup.is_none()) {
        Outcome::AbortUser
    } else if vector == TRAP_NO_DEVICE && NM_ACTION.load(Ordering::SeqCst) == NmAction::Retry as u8
    {
        if LAST_NM_RIP.swap(trap.rip, Ordering::SeqCst) == trap.rip {
            let _ = hypercalls::fpu_taskswitch(false);
        }
        Outcome::Retry
    } else if let Some(fixup) = fixup {
        // SAFETY: RIP is frame word 2 + base.
        unsafe { set_frame_word(entry, 2 + base, fixup) };
        Outcome::Fixup
    } else {
        fatal(&trap)
    };
    trap.outcome = outcome;
    log(&trap);
    if outcome == Outcome::AbortUser {
        ABORT_USER
    } else {
        RESUME
    }
}

fn fatal(trap: &Trap) -> ! {
    kprintln!(
        "pv-guest-kernel: unexpected exception {} error {:?} at rip {:#x} cs {:#x} rflags {:#x} rsp {:#x} cr2 {:?}",
        trap.vector,
        trap.error,
        trap.rip,
        trap.cs,
        trap.rflags,
        trap.rsp,
        trap.cr2
    );
    super::super::xen::crash()
}
