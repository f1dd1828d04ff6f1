//! The event upcall: its entry stub, what the handler records, and the 2-level bits in shared_info.
// The hypervisor enters the callback with events masked and the bounce frame at RSP (lowest
// first): RCX, R11, RIP, CS (saved upcall mask in bits 32-39), RFLAGS, RSP, SS. The stub puts
// RCX and R11 back, saves the other registers, calls `dispatch` with the address of the RIP
// slot, restores everything and returns through the iret hypercall, whose RFLAGS.IF (the
// saved mask, inverted) restores the event mask. `dispatch` does what a guest kernel does:
// clear upcall_pending, take pending_sel, and for each selected word handle (clear) the
// pending, unmasked ports; it records what it saw for the checks.

use core::arch::{asm, global_asm};
use core::mem::offset_of;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use hypercall_abi::callback::CallbackType;
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::segment::{FLAT_KERNEL_SS64, FLAT_RING3_CS64};
use hypercall_abi::shared_info::{SharedInfo, VcpuInfo};

use super::conform::hypercalls::register_callback;
use super::hypercall::IRET_STUB_OFFSET;
use super::memory::{self, SparePage};
use super::traps::symbol_address;

/// Ports per word of the 2-level bitmaps.
const PORTS_PER_WORD: u32 = 64;
/// Words in each 2-level bitmap.
const WORDS: usize = 64;
/// CS of the guest kernel as a kernel-mode iret context names it (RPL 0).
const KERNEL_CS_RPL0: u64 = (FLAT_RING3_CS64 & !3) as u64;
/// RFLAGS.IF.
const RFLAGS_IF: u64 = 1 << 9;

global_asm!(
    ".pushsection .text, \"ax\"",
    ".global pvk_event_upcall",
    "pvk_event_upcall:",
    "pop rcx",
    "pop r11",
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
    "lea rdi, [rsp + 15 * 8]",
    "mov rbx, rsp",
    "and rsp, -16",
    "call {dispatch}",
    "mov rsp, rbx",
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
    "push 0",
    "jmp hypercall_page + {iret}",
    ".popsection",
    dispatch = sym dispatch,
    iret = const IRET_STUB_OFFSET,
);

/// Upcalls taken since boot.
static COUNT: AtomicU32 = AtomicU32::new(0);
/// What the last upcall saw: see [`Upcall`].
static SEL: AtomicU64 = AtomicU64::new(0);
static WORD0: AtomicU64 = AtomicU64::new(0);
static ENTRY_MASK: AtomicU8 = AtomicU8::new(0);
static ENTRY_PENDING: AtomicU8 = AtomicU8::new(0);
static RIP: AtomicU64 = AtomicU64::new(0);
static CS: AtomicU64 = AtomicU64::new(0);
static RFLAGS: AtomicU64 = AtomicU64::new(0);

/// What the last upcall found on entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Upcall {
    /// `evtchn_pending_sel` as the handler took it.
    pub sel: u64,
    /// The pending, unmasked ports of word 0 it handled (ports 0-63).
    pub word0: u64,
    /// `evtchn_upcall_mask` on entry (1: the hypervisor masked events).
    pub entry_mask: u8,
    /// `evtchn_upcall_pending` on entry.
    pub entry_pending: u8,
    /// RIP in the bounce frame: where the guest was interrupted.
    pub rip: u64,
    /// CS in the bounce frame, with the saved upcall mask in bits 32-39.
    pub cs: u64,
    /// RFLAGS in the bounce frame (IF = !saved mask).
    pub rflags: u64,
}

impl Upcall {
    /// The upcall mask saved in the frame (bits 32-39 of CS).
    pub fn saved_mask(&self) -> u8 {
        (self.cs >> 32) as u8
    }
}

/// Upcalls taken so far.
pub fn count() -> u32 {
    COUNT.load(Ordering::SeqCst)
}

/// What the last upcall found.
pub fn last() -> Upcall {
    Upcall {
        sel: SEL.load(Ordering::SeqCst),
        word0: WORD0.load(Ordering::SeqCst),
        entry_mask: ENTRY_MASK.load(Ordering::SeqCst),
        entry_pending: ENTRY_PENDING.load(Ordering::SeqCst),
        rip: RIP.load(Ordering::SeqCst),
        cs: CS.load(Ordering::SeqCst),
        rflags: RFLAGS.load(Ordering::SeqCst),
    }
}

/// Called by the stub with the address of the bounce frame's RIP slot.
extern "sysv64" fn dispatch(frame: *const [u64; 5]) {
    // SAFETY: the stub passes the address of the five words the hypervisor wrote (RIP, CS,
    // RFLAGS, RSP, SS) on the current stack; they stay untouched until the stub returns.
    let [rip, cs, rflags, _, _] = unsafe { frame.read() };
    let Some(bits) = Bits::get() else {
        // Without shared_info we cannot acknowledge anything; nothing is recorded.
        return;
    };
    ENTRY_MASK.store(bits.upcall_mask().load(Ordering::SeqCst), Ordering::SeqCst);
    ENTRY_PENDING.store(
        bits.upcall_pending().swap(0, Ordering::SeqCst),
        Ordering::SeqCst,
    );
    let sel = bits.pending_sel().swap(0, Ordering::SeqCst);
    let mut word0 = 0;
    for word in (0..WORDS).filter(|w| sel & (1 << w) != 0) {
        let ready =
            bits.pending(word).load(Ordering::SeqCst) & !bits.mask(word).load(Ordering::SeqCst);
        bits.pending(word).fetch_and(!ready, Ordering::SeqCst);
        if word == 0 {
            word0 = ready;
        }
    }
    SEL.store(sel, Ordering::SeqCst);
    WORD0.store(word0, Ordering::SeqCst);
    RIP.store(rip, Ordering::SeqCst);
    CS.store(cs, Ordering::SeqCst);
    RFLAGS.store(rflags, Ordering::SeqCst);
    COUNT.fetch_add(1, Ordering::SeqCst);
}

/// Registers the upcall stub as the event callback (callback_op): 0 or -errno.
pub fn register() -> i64 {
    let entry = symbol_address!("pvk_event_upcall");
    // SAFETY: pvk_event_upcall accepts exactly the bounce frame the hypervisor builds for the
    // event callback (no error code) and returns through the iret hypercall.
    unsafe { register_callback(CallbackType::Event, 0, entry) }
}

/// The event words of the mapped shared_info page, as atomics.
pub struct Bits {
    base: u64,
}

impl Bits {
    /// The words, once shared_info is mapped.
    pub fn get() -> Option<Bits> {
        memory::shared_info_mapped().then(|| Bits {
            base: SparePage::SharedInfo.va(),
        })
    }

    fn u64_at(&self, offset: usize) -> &'static AtomicU64 {
        // SAFETY: shared_info is mapped writable at `base` for the kernel's lifetime (checked
        // by `get`); every offset used is 8-aligned inside the page; no Rust reference to the
        // page exists besides these atomics, and the hypervisor changes the words only with
        // atomic operations.
        unsafe { AtomicU64::from_ptr((self.base as usize + offset) as *mut u64) }
    }

    fn u8_at(&self, offset: usize) -> &'static AtomicU8 {
        // SAFETY: as in `u64_at`, for a byte inside the page.
        unsafe { AtomicU8::from_ptr((self.base as usize + offset) as *mut u8) }
    }

    fn pending(&self, word: usize) -> &'static AtomicU64 {
        self.u64_at(offset_of!(SharedInfo, evtchn_pending) + 8 * (word % WORDS))
    }

    fn mask(&self, word: usize) -> &'static AtomicU64 {
        self.u64_at(offset_of!(SharedInfo, evtchn_mask) + 8 * (word % WORDS))
    }

    fn pending_sel(&self) -> &'static AtomicU64 {
        self.u64_at(offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, evtchn_pending_sel))
    }

    fn upcall_pending(&self) -> &'static AtomicU8 {
        self.u8_at(offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, evtchn_upcall_pending))
    }

    fn upcall_mask(&self) -> &'static AtomicU8 {
        self.u8_at(offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, evtchn_upcall_mask))
    }

    fn split(port: EvtchnPort) -> (usize, u64) {
        (
            (port / PORTS_PER_WORD) as usize,
            1 << (port % PORTS_PER_WORD),
        )
    }

    /// Whether `port` is pending.
    pub fn is_pending(&self, port: EvtchnPort) -> bool {
        let (w, b) = Self::split(port);
        self.pending(w).load(Ordering::SeqCst) & b != 0
    }

    /// Whether `port` is masked.
    pub fn is_masked(&self, port: EvtchnPort) -> bool {
        let (w, b) = Self::split(port);
        self.mask(w).load(Ordering::SeqCst) & b != 0
    }

    /// Sets or clears `port`'s mask bit (the guest's side of masking).
    pub fn set_masked(&self, port: EvtchnPort, masked: bool) {
        let (w, b) = Self::split(port);
        if masked {
            self.mask(w).fetch_or(b, Ordering::SeqCst);
        } else {
            self.mask(w).fetch_and(!b, Ordering::SeqCst);
        }
    }

    /// `evtchn_pending_sel` of vCPU 0.
    pub fn sel(&self) -> u64 {
        self.pending_sel().load(Ordering::SeqCst)
    }

    /// `evtchn_upcall_pending` of vCPU 0.
    pub fn upcall_is_pending(&self) -> u8 {
        self.upcall_pending().load(Ordering::SeqCst)
    }

    /// `evtchn_upcall_mask` of vCPU 0.
    pub fn mask_byte(&self) -> u8 {
        self.upcall_mask().load(Ordering::SeqCst)
    }

    /// Writes `evtchn_upcall_mask` of vCPU 0 (the guest's "interrupts off/on"); no hypercall,
    /// so a pending upcall arrives only at the next return from the hypervisor.
    pub fn set_mask_byte(&self, mask: u8) {
        self.upcall_mask().store(mask, Ordering::SeqCst);
    }

    /// Masks events and forgets any upcall left pending (pending_sel and upcall_pending
    /// cleared), so a check starts from a known state.
    pub fn quiesce(&self) {
        self.set_mask_byte(1);
        self.upcall_pending().store(0, Ordering::SeqCst);
        self.pending_sel().store(0, Ordering::SeqCst);
    }
}

/// Returns through the iret hypercall to the next instruction, in kernel mode with RFLAGS.IF
/// set: the hypervisor clears the event mask and must deliver a pending upcall at once, with
/// the bounce frame's RIP at the returned address.
pub fn iret_enabling_events() -> u64 {
    let resume: u64;
    // SAFETY: the pushes build the iret context the iret stub completes (it pushes RCX, R11
    // and RAX): SS, RSP as it was before the pushes, RFLAGS with IF, the kernel's CS with RPL
    // 0 and the label's RIP, flags 0. The hypervisor resumes at the label with every register
    // as it was (RCX, R11 and RAX restored from the stub's pushes, declared clobbered anyway)
    // and RSP back where it started; an upcall in between saves and restores everything. The
    // stack below RSP is free (no red zone on this target).
    unsafe {
        asm!(
            "lea {resume}, [rip + 2f]",
            "mov rax, rsp",
            "push {ss}",
            "push rax",
            "pushfq",
            "or qword ptr [rsp], {if_flag}",
            "push {cs}",
            "push {resume}",
            "push 0",
            "jmp hypercall_page + {iret}",
            "2:",
            resume = out(reg) resume,
            ss = const FLAT_KERNEL_SS64 as u64,
            cs = const KERNEL_CS_RPL0,
            if_flag = const RFLAGS_IF,
            iret = const IRET_STUB_OFFSET,
            out("rax") _,
            out("rcx") _,
            out("r11") _,
        );
    }
    resume
}
