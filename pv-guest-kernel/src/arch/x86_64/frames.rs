//! The kernel's own frames (the initial mapping), the free frames beyond it, and M2P reads.
// The domain builder maps pseudo-physical frames 0..N at VIRT_BASE; everything this kernel is
// made of (image, .bss, P2M list, start_info, initial page tables, boot stack) lies there. The
// frames after N are in the P2M list too but mapped nowhere: no Rust object can live in them,
// so the memory tests may turn them into page tables, hand them back, and so on.

use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use hypercall_abi::layout::{MACH2PHYS_VIRT_END, MACH2PHYS_VIRT_START, PAGE_SHIFT};
use hypercall_abi::mmu::{PTE_ADDR_MASK, PteFlags};
use spin::{Mutex, Once};

use super::access;
use super::boot;
use super::layout::{PADDR_OFFSET, VIRT_BASE};

/// Entries in a page table.
const ENTRIES: u64 = 512;

/// Number of pseudo-physical frames mapped at VIRT_BASE by the initial mapping.
static INITIAL_PAGES: Once<u64> = Once::new();
/// The next pseudo-physical frame the free pool hands out.
static NEXT_FREE: Mutex<Option<u64>> = Mutex::new(None);
/// The lowest frame the balloon has given away (`u64::MAX`: none).
static BALLOONED_FROM: AtomicU64 = AtomicU64::new(u64::MAX);

/// A frame of ours outside the initial mapping, handed out once by [`take_free`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeFrame {
    /// Its pseudo-physical frame number.
    pub pfn: u64,
    /// Its machine frame number (from the P2M list).
    pub mfn: u64,
}

/// The virtual address of pseudo-physical frame `pfn` in the initial mapping.
fn pfn_va(pfn: u64) -> Option<u64> {
    VIRT_BASE.checked_add((pfn << PAGE_SHIFT).checked_sub(PADDR_OFFSET)?)
}

/// The virtual address of initial page-table frame `mfn` (one of the `nr_pt_frames` frames
/// from `pt_base` on), if it is one.
fn table_va(mfn: u64) -> Option<u64> {
    let si = boot::start_info();
    let p2m = boot::p2m();
    let first = (si.pt_base.checked_sub(VIRT_BASE)? + PADDR_OFFSET) >> PAGE_SHIFT;
    let end = first.checked_add(si.nr_pt_frames)?;
    (first..end)
        .find(|&pfn| p2m.get(pfn as usize) == Some(&mfn))
        .and_then(pfn_va)
}

/// Entry `index` of the initial page-table frame mapped at `va`.
fn table_entry(va: u64, index: u64) -> u64 {
    debug_assert!(index < ENTRIES);
    // SAFETY: `va` comes from `table_va`: one of the initial page-table frames, which the
    // builder maps read-only inside the initial mapping for the kernel's lifetime; index < 512
    // keeps the read in that page. The hypervisor may change entries, hence volatile.
    unsafe { ptr::read_volatile((va as *const u64).add(index as usize)) }
}

/// The frame an entry points to, if it is present.
fn present_frame(entry: u64) -> Option<u64> {
    (entry & PteFlags::PRESENT.bits() != 0).then_some((entry & PTE_ADDR_MASK) >> PAGE_SHIFT)
}

/// Index of `va` in its page table at `level` (1..=4).
fn index(va: u64, level: u32) -> u64 {
    (va >> (PAGE_SHIFT + 9 * (level - 1))) & (ENTRIES - 1)
}

/// Walks the initial L4 (at `pt_base`) down to the L1 table mapping `va`: its frame, if
/// every level is present and lies among the initial page-table frames.
fn initial_l1_for(va: u64) -> Option<u64> {
    let mut table = boot::start_info().pt_base;
    let mut frame = 0;
    for level in (2..=4).rev() {
        frame = present_frame(table_entry(table, index(va, level)))?;
        table = table_va(frame)?;
    }
    Some(frame)
}

/// The frame of the initial L4 table (`pt_base`).
pub fn initial_l4_mfn() -> Option<u64> {
    initial_mfn(boot::start_info().pt_base)
}

/// The machine frame the initial mapping puts at `va` (our own frame of a .bss page, say), by
/// the P2M list; `None` below VIRT_BASE or beyond the list.
pub fn initial_mfn(va: u64) -> Option<u64> {
    let pfn = (va.checked_sub(VIRT_BASE)? + PADDR_OFFSET) >> PAGE_SHIFT;
    boot::p2m().get(usize::try_from(pfn).ok()?).copied()
}

/// Machine address of the L1 entry that maps `va` in the initial page tables.
pub fn initial_l1_entry_maddr(va: u64) -> Option<u64> {
    let l1 = initial_l1_for(va)?;
    Some((l1 << PAGE_SHIFT) + index(va, 1) * 8)
}

/// Counts the frames mapped from VIRT_BASE on, in P2M order, by walking the initial tables.
fn walk_initial_mapping() -> u64 {
    let p2m = boot::p2m();
    let mut count = 0u64;
    loop {
        let Some(va) = pfn_va(count) else {
            return count;
        };
        let Some(l1) = initial_l1_for(va).and_then(table_va) else {
            return count;
        };
        let expected = p2m.get(count as usize).copied();
        match present_frame(table_entry(l1, index(va, 1))) {
            Some(mfn) if Some(mfn) == expected => count += 1,
            _ => return count,
        }
    }
}

/// The first frame [`take_free`] would hand out next: the frames below it are the kernel's.
pub fn next_free_pfn() -> u64 {
    NEXT_FREE.lock().unwrap_or_else(initial_pages)
}

/// Frames from `pfn` up are given away by the balloon: [`take_free`] stops below them.
pub fn set_ballooned_from(pfn: u64) {
    BALLOONED_FROM.store(pfn, Ordering::Relaxed);
}

/// Number of pseudo-physical frames (from 0) that the initial mapping maps at VIRT_BASE.
pub fn initial_pages() -> u64 {
    *INITIAL_PAGES.call_once(walk_initial_mapping)
}

/// Whether `mfn` is one of the frames of the initial mapping (where the kernel lives).
pub fn is_kernel_frame(mfn: u64) -> bool {
    let n = initial_pages() as usize;
    boot::p2m().iter().take(n).any(|&m| m == mfn)
}

/// Whether `mfn` appears anywhere in our P2M list.
pub fn in_p2m(mfn: u64) -> bool {
    boot::p2m().contains(&mfn)
}

/// Hands out the next free frame after the initial mapping; `None` once all are taken, or
/// once the next one is a frame the balloon gave away.
pub fn take_free() -> Option<FreeFrame> {
    let mut next = NEXT_FREE.lock();
    let pfn = next.unwrap_or_else(initial_pages);
    if pfn >= BALLOONED_FROM.load(Ordering::Relaxed) {
        return None;
    }
    let mfn = *boot::p2m().get(usize::try_from(pfn).ok()?)?;
    *next = Some(pfn + 1);
    Some(FreeFrame { pfn, mfn })
}

/// The M2P entry of `mfn`, read from the hypervisor's read-only table; `None` if the read
/// faulted or `mfn` is beyond the table.
pub fn m2p(mfn: u64) -> Option<u64> {
    let va = MACH2PHYS_VIRT_START.checked_add(mfn.checked_mul(8)?)?;
    if va >= MACH2PHYS_VIRT_END {
        return None;
    }
    // SAFETY: the M2P table is ordinary read-only memory of the hypervisor (no side effect);
    // a fault comes back through the exception table.
    unsafe { access::read_u64(va) }
}

/// Machine address of entry `index` of frame `mfn`.
pub fn entry_maddr(mfn: u64, index: usize) -> u64 {
    (mfn << PAGE_SHIFT) + (index as u64 % ENTRIES) * 8
}
