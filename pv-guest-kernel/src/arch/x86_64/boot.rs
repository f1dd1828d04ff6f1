//! The kernel entry point: switch to our own boot stack and hand start_info to Rust.

use core::arch::global_asm;
use core::cell::UnsafeCell;

use hypercall_abi::layout::{PAGE_SIZE, is_canonical};
use hypercall_abi::start_info::{SIF_MOD_START_PFN, START_INFO_MAGIC, StartInfo};

use super::layout::{BOOT_STACK_SIZE, VIRT_BASE};
use super::{frames, heap, xen};

/// A stack: bytes only the code running on it touches, through the stack pointer.
#[repr(C, align(16))]
pub struct Stack<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: Rust code never forms references into a stack; it is used only through rsp by the
// single vCPU this kernel runs on.
unsafe impl<const N: usize> Sync for Stack<N> {}

impl<const N: usize> Stack<N> {
    /// A zeroed stack (placed in .bss).
    pub const fn new() -> Self {
        Self(UnsafeCell::new([0; N]))
    }

    /// The initial stack pointer: one past the highest byte (16-byte aligned).
    pub fn top(&self) -> u64 {
        self.0.get() as u64 + N as u64
    }
}

static BOOT_STACK: Stack<BOOT_STACK_SIZE> = Stack::new();

/// start_info and the P2M list, validated once at entry.
static START: spin::Once<(&'static StartInfo, &'static [u64])> = spin::Once::new();

/// The start_info page the hypervisor gave us.
pub fn start_info() -> &'static StartInfo {
    match START.get() {
        Some((start_info, _)) => start_info,
        None => xen::crash(),
    }
}

/// The P2M list (`start_info.mfn_list`, `nr_pages` entries).
pub fn p2m() -> &'static [u64] {
    match START.get() {
        Some((_, p2m)) => p2m,
        None => xen::crash(),
    }
}

// Entry (ELF note ENTRY), per the PV ABI: kernel mode, RSI = start_info's virtual address,
// RSP = the builder's one-page boot stack. We move to a larger stack of our own.
global_asm!(
    ".pushsection .text.entry, \"ax\"",
    ".global _start",
    "_start:",
    "cld",
    "lea rsp, [rip + {stack} + {stack_size}]",
    "xor ebp, ebp",
    "mov rdi, rsi",
    "call {rust_entry}",
    "ud2",
    ".popsection",
    stack = sym BOOT_STACK,
    stack_size = const BOOT_STACK_SIZE,
    rust_entry = sym rust_entry,
);

/// Validates the start_info pointer from the hypervisor and starts the kernel proper.
extern "sysv64" fn rust_entry(start_info_va: u64) -> ! {
    super::shared_events::note_entry();
    let aligned = start_info_va != 0 && start_info_va.is_multiple_of(PAGE_SIZE);
    if !aligned || !is_canonical(start_info_va) {
        xen::crash();
    }
    // SAFETY: the domain builder passes in RSI the page-aligned virtual address of the
    // start_info page, which lies inside the initial mapping (readable and writable), stays
    // mapped for the kernel's lifetime (we never unmap it) and is not written again by the
    // hypervisor or by us, so a shared 'static reference is sound. The alignment and
    // canonicality were checked above; the magic is checked next.
    let start_info: &'static StartInfo = unsafe { &*(start_info_va as *const StartInfo) };
    if !start_info.magic.starts_with(START_INFO_MAGIC) {
        xen::crash();
    }
    let p2m = p2m_list(start_info);
    START.call_once(|| (start_info, p2m));
    heap::init();
    crate::boot::kernel_main(start_info, p2m)
}

/// The P2M list the builder put at `start_info.mfn_list`: one MFN per pseudo-physical frame.
fn p2m_list(start_info: &'static StartInfo) -> &'static [u64] {
    let base = start_info.mfn_list;
    let Ok(len) = usize::try_from(start_info.nr_pages) else {
        xen::crash();
    };
    let bytes = start_info.nr_pages.checked_mul(8);
    let end_ok = bytes.and_then(|b| base.checked_add(b)).is_some();
    if base == 0 || !base.is_multiple_of(8) || !end_ok || !is_canonical(base) {
        xen::crash();
    }
    // SAFETY: the builder places the P2M list (nr_pages 8-byte entries, aligned, range checked
    // above) inside the initial mapping right after the image; it stays mapped and only the
    // guest could write it, which this kernel never does, so a shared 'static slice is sound.
    unsafe { core::slice::from_raw_parts(base as *const u64, len) }
}

/// The initial ramdisk the hypervisor mapped for us (start_info `mod_start`, a virtual
/// address, and `mod_len`), if there is one and it lies inside the initial mapping.
pub fn initrd() -> Option<&'static [u8]> {
    let si = start_info();
    if si.mod_len == 0 || si.flags & SIF_MOD_START_PFN != 0 {
        return None;
    }
    let end = si.mod_start.checked_add(si.mod_len)?;
    let mapped_end = VIRT_BASE.checked_add(frames::initial_pages().checked_mul(PAGE_SIZE)?)?;
    if si.mod_start < VIRT_BASE || end > mapped_end {
        return None;
    }
    let len = usize::try_from(si.mod_len).ok()?;
    // SAFETY: the range lies inside the initial mapping (checked above: every frame from
    // VIRT_BASE to `mapped_end` is mapped, readable and ours), which stays mapped for the
    // kernel's lifetime; the ramdisk's pages hold no Rust object and nothing writes them (the
    // hypervisor filled them before we started, and this kernel never writes there), so a
    // shared 'static slice is sound.
    Some(unsafe { core::slice::from_raw_parts(si.mod_start as *const u8, len) })
}
