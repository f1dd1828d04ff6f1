//! Grant benchmarks: a peer's granted page copied (GNTTABOP_copy) and mapped plus unmapped, against an in-guest 4 KiB copy.
// The copy floor moves one .bss page to another with `rep movsq`, as a kernel's memcpy does.
// Grant copies land in a free frame (outside the initial mapping: no Rust object lives there).
// Grant mappings go to a window page, which is only accessed through `window`, and which is
// left unmapped (or, after a failed unmap, recorded as mapping the grant).

use core::arch::asm;
use core::cell::UnsafeCell;

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTCOPY_SOURCE_GREF, GNTMAP_HOST_MAP, GNTST_OKAY, GNTTABOP_COPY, GNTTABOP_MAP_GRANT_REF,
    GNTTABOP_UNMAP_GRANT_REF, GnttabCopy, GnttabCopyPtr, GnttabMapGrantRef, GnttabUnmapGrantRef,
    GrantRef,
};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::mmu::PteFlags;

use super::calls::hc;
use super::frames::{self, FreeFrame};
use super::mmu_bench::NotMeasured;
use super::timing;
use super::window::{self, Slot};

/// Bytes in a page.
pub const PAGE: usize = 4096;
/// Quadwords in a page.
const QWORDS: usize = PAGE / 8;

/// Source and destination of the in-guest copy.
#[repr(C, align(4096))]
struct CopyPages(UnsafeCell<[[u8; PAGE]; 2]>);

// SAFETY: no reference into the pages is ever formed; only the asm below reads and writes them,
// from the one vCPU.
unsafe impl Sync for CopyPages {}

static COPY_PAGES: CopyPages = CopyPages(UnsafeCell::new([[0; PAGE]; 2]));

/// TSC ticks for `n` copies of one 4 KiB page to another with `rep movsq` (each copy also
/// pays 5 instructions of loop); 0 if `n` is 0.
pub fn time_page_copies(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let base = COPY_PAGES.0.get() as u64;
    let ticks: u64;
    // SAFETY: each round copies page 0 of COPY_PAGES over page 1 (QWORDS quadwords, forward:
    // the direction flag is clear per the ABI), both inside the static, which nothing else
    // accesses; the loop state is in registers declared clobbered.
    unsafe {
        asm!(
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "mov r8, rax",
            "2:",
            "mov rsi, {src}",
            "lea rdi, [{src} + {page}]",
            "mov ecx, {qwords}",
            "rep movsq",
            "dec {count}",
            "jnz 2b",
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "sub rax, r8",
            src = in(reg) base,
            count = inout(reg) n => _,
            page = const PAGE,
            qwords = const QWORDS,
            out("rax") ticks,
            out("rcx") _,
            out("rdx") _,
            out("rsi") _,
            out("rdi") _,
            out("r8") _,
            options(nostack),
        );
    }
    ticks
}

/// grant_table_op(`cmd`) of one element at `arg`.
///
/// # Safety
/// `arg` is a live element of the type `cmd` takes, and what the operation does breaks no
/// Rust object.
unsafe fn gnttab_one(cmd: u32, arg: u64) -> i64 {
    // SAFETY: forwarded to the caller.
    unsafe { hc(Hypercall::GrantTableOp, u64::from(cmd), arg, 1, 0, 0) }
}

/// TSC ticks for `n` GNTTABOP_copy calls, each of one 4 KiB page: grant `gref` of domain
/// `dom` (offset 0) to our free frame `dest`. Not measured if a copy failed.
pub fn time_grant_copies(
    dom: DomId,
    gref: GrantRef,
    dest: FreeFrame,
    n: u64,
) -> Result<u64, NotMeasured> {
    if frames::is_kernel_frame(dest.mfn) {
        return Err(NotMeasured("the copy destination is a kernel frame"));
    }
    let mut op = GnttabCopy {
        source: GnttabCopyPtr {
            u: u64::from(gref),
            domid: dom,
            ..GnttabCopyPtr::default()
        },
        dest: GnttabCopyPtr {
            u: dest.mfn,
            domid: DOMID_SELF,
            ..GnttabCopyPtr::default()
        },
        len: PAGE as u16,
        flags: GNTCOPY_SOURCE_GREF,
        ..GnttabCopy::default()
    };
    let arg = &mut op as *mut GnttabCopy as u64;
    let mut failed = false;
    let start = timing::now();
    for _ in 0..n {
        // SAFETY: the hypervisor reads the live element and writes its status; the bytes land
        // in `dest`, a free frame outside the initial mapping (checked above).
        let ret = unsafe { gnttab_one(GNTTABOP_COPY, arg) };
        failed |= ret != 0 || op.status != GNTST_OKAY;
    }
    let ticks = timing::now() - start;
    if failed {
        return Err(NotMeasured("a grant copy failed"));
    }
    Ok(ticks)
}

/// TSC ticks for `n` rounds of GNTTABOP_map_grant_ref (host mapping, writable) of grant
/// `gref` of domain `dom` at window page `slot`, then GNTTABOP_unmap_grant_ref of it. The
/// slot is unmapped first and left unmapped. Not measured if a call failed.
pub fn time_map_unmap(slot: Slot, dom: DomId, gref: GrantRef, n: u64) -> Result<u64, NotMeasured> {
    if slot.unmap() != 0 {
        return Err(NotMeasured("the window page could not be unmapped"));
    }
    let va = slot.va();
    let mut failure = None;
    let start = timing::now();
    for _ in 0..n {
        let mut map = GnttabMapGrantRef {
            host_addr: va,
            flags: GNTMAP_HOST_MAP,
            ref_: gref,
            dom,
            ..GnttabMapGrantRef::default()
        };
        // SAFETY: the hypervisor reads and writes the live element; the mapping replaces the
        // (empty) PTE of a window page, which is only accessed through `window`.
        let ret = unsafe { gnttab_one(GNTTABOP_MAP_GRANT_REF, &mut map as *mut _ as u64) };
        if ret != 0 || map.status != GNTST_OKAY {
            failure = Some("a grant map failed");
            break;
        }
        let mut unmap = GnttabUnmapGrantRef {
            host_addr: va,
            handle: map.handle,
            ..GnttabUnmapGrantRef::default()
        };
        // SAFETY: the hypervisor reads the live element and writes its status; removing the
        // mapping leaves the window page unmapped.
        let ret = unsafe { gnttab_one(GNTTABOP_UNMAP_GRANT_REF, &mut unmap as *mut _ as u64) };
        if ret != 0 || unmap.status != GNTST_OKAY {
            // The grant may still be mapped there: say so to `window`.
            let pte = map.dev_bus_addr | (PteFlags::PRESENT | PteFlags::RW).bits();
            window::note_pte(slot, pte, true);
            failure = Some("a grant unmap failed");
            break;
        }
    }
    let ticks = timing::now() - start;
    match failure {
        Some(why) => Err(NotMeasured(why)),
        None => {
            // The hypervisor flushed the TLB for the unmapped address.
            window::note_pte(slot, 0, true);
            Ok(ticks)
        }
    }
}
