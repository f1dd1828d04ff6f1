//! The hypercall page (filled by the domain builder) and the raw call through its stubs.

use core::arch::{asm, global_asm};

use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::hypercall_page::{HYPERCALL_PAGE_STUBS, HYPERCALL_STUB_SIZE};

// One page of int3 in the loaded image, named by ELF note HYPERCALL_PAGE. The domain builder
// overwrites it with 128 stubs of 32 bytes before the kernel starts.
global_asm!(
    ".pushsection .text.hypercall_page, \"ax\"",
    ".balign 4096",
    ".global hypercall_page",
    "hypercall_page:",
    ".fill 4096, 1, 0xcc",
    ".popsection",
);

/// Byte offset of the iret stub in the hypercall page (the entry code jumps there).
pub const IRET_STUB_OFFSET: usize = Hypercall::Iret as usize * HYPERCALL_STUB_SIZE;

/// Virtual address of the hypercall page.
pub fn page_address() -> u64 {
    let address: u64;
    // SAFETY: `lea` only computes the address of a symbol of this image; no memory access.
    unsafe {
        asm!(
            "lea {}, [rip + hypercall_page]",
            out(reg) address,
            options(nomem, nostack, preserves_flags, pure)
        );
    }
    address
}

/// Address of the stub for hypercall `nr`, or `None` if the page has no such stub.
pub fn stub_address(nr: u8) -> Option<u64> {
    let index = usize::from(nr);
    if index >= HYPERCALL_PAGE_STUBS {
        return None;
    }
    Some(page_address() + (index * HYPERCALL_STUB_SIZE) as u64)
}

/// Calls hypercall `nr` through its stub with arguments in rdi, rsi, rdx, r10, r8 and returns
/// rax. Returns `None` without calling for `nr` = iret (its stub never returns) or a number
/// beyond the page.
///
/// # Safety
/// The arguments must satisfy the hypercall's contract: every pointer names memory the
/// hypervisor may read or write as that hypercall does, and whatever the hypercall changes
/// (mappings, page-table bases, callbacks, segment bases) must not break an invariant the
/// rest of the kernel relies on.
pub unsafe fn call(nr: u8, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> Option<i64> {
    if nr == Hypercall::Iret as u8 {
        return None;
    }
    let stub = stub_address(nr)?;
    let ret: i64;
    // SAFETY: the stub is the hypervisor's code in our hypercall page: it saves rcx/r11,
    // executes `syscall` and returns with `ret`, so the only effects on this context are rax
    // and the argument registers (the hypervisor may change them, hence lateout) plus what
    // the hypercall itself does, which the caller vouches for. The stack is usable (no
    // `nostack`), and memory is treated as clobbered.
    unsafe {
        asm!(
            "call {stub}",
            stub = in(reg) stub,
            inlateout("rdi") a1 => _,
            inlateout("rsi") a2 => _,
            inlateout("rdx") a3 => _,
            inlateout("r10") a4 => _,
            inlateout("r8") a5 => _,
            lateout("r9") _,
            lateout("rax") ret,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    Some(ret)
}
