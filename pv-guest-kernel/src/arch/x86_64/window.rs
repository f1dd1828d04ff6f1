//! Window pages: .bss pages whose frames the memory tests replace, then read and write by word.
// The pages are only ever accessed through the fault-tolerant word accesses of `access`, never
// through Rust references, so remapping them (to any frame, or to nothing) invalidates no Rust
// object. Writes go only where no Rust object can be: a frame outside the initial mapping, or
// the slot's own .bss frame, and only once the TLB is known to hold the current mapping.

use core::cell::UnsafeCell;

use hypercall_abi::domid::DomId;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::mmu::{
    PTE_ADDR_MASK, PteFlags, UVMF_ALL, UVMF_FLUSHTYPE_MASK, UVMF_INVLPG, UVMF_LOCAL,
};
use spin::Mutex;

use super::access;
use super::calls::hc;
use super::frames;

/// Number of window pages.
pub const WINDOW_SLOTS: usize = 8;
/// Words in a page.
pub const WORDS: usize = 512;

/// The window pages, page-aligned in .bss (so inside the initial mapping: their L1 exists).
#[repr(C, align(4096))]
struct Pages(UnsafeCell<[[u64; WORDS]; WINDOW_SLOTS]>);

// SAFETY: no reference into the pages is ever formed; every access is a single-word asm access
// from the one vCPU (see the top of this file).
unsafe impl Sync for Pages {}

static PAGES: Pages = Pages(UnsafeCell::new([[0; WORDS]; WINDOW_SLOTS]));

/// What we know of a slot's current mapping.
#[derive(Clone, Copy, Debug)]
struct SlotState {
    /// Writes may go through it (see the top of this file).
    writable: bool,
    /// Its PTE changed without a flush: the TLB may still hold the previous mapping.
    stale: bool,
}

/// At boot every slot maps its own .bss frame, read-write.
const INITIAL: SlotState = SlotState {
    writable: true,
    stale: false,
};

static STATE: Mutex<[SlotState; WINDOW_SLOTS]> = Mutex::new([INITIAL; WINDOW_SLOTS]);

/// One window page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(usize);

impl Slot {
    /// Slot `i`, if there is one.
    pub const fn get(i: usize) -> Option<Slot> {
        if i < WINDOW_SLOTS {
            Some(Slot(i))
        } else {
            None
        }
    }

    /// The slot's virtual address.
    pub fn va(self) -> u64 {
        PAGES.0.get() as u64 + (self.0 as u64) * (WORDS as u64 * 8)
    }

    /// The frame behind the slot in the initial mapping (its own .bss frame).
    pub fn own_mfn(self) -> Option<u64> {
        frames::initial_mfn(self.va())
    }

    /// Machine address of the L1 entry that maps the slot (in the initial page tables).
    pub fn l1_entry_maddr(self) -> Option<u64> {
        frames::initial_l1_entry_maddr(self.va())
    }

    /// update_va_mapping of the slot with `pte` and flush flags `uvmf`.
    pub fn map(self, pte: u64, uvmf: u64) -> i64 {
        // SAFETY: the slot's page is only accessed through `access` (see the top of this
        // file), so giving it any frame, or none, invalidates no Rust object; `uvmf` may
        // carry a vCPU-mask pointer, which the hypervisor only reads.
        let ret = unsafe { hc(Hypercall::UpdateVaMapping, self.va(), pte, uvmf, 0, 0) };
        if ret == 0 {
            note_pte(self, pte, flushes_locally(uvmf));
        }
        ret
    }

    /// update_va_mapping_otherdomain of the slot with `pte`, `uvmf`, for domain `domid`.
    pub fn map_otherdomain(self, pte: u64, uvmf: u64, domid: DomId) -> i64 {
        // SAFETY: as in `map`.
        let ret = unsafe {
            hc(
                Hypercall::UpdateVaMappingOtherdomain,
                self.va(),
                pte,
                uvmf,
                u64::from(domid),
                0,
            )
        };
        if ret == 0 {
            note_pte(self, pte, flushes_locally(uvmf));
        }
        ret
    }

    /// Maps frame `mfn` at the slot, read-only or read-write, flushing the one address.
    pub fn map_frame(self, mfn: u64, writable: bool) -> i64 {
        let mut flags = PteFlags::PRESENT | PteFlags::ACCESSED | PteFlags::USER;
        if writable {
            flags |= PteFlags::RW | PteFlags::DIRTY;
        }
        self.map((mfn << PAGE_SHIFT) | flags.bits(), UVMF_INVLPG | UVMF_LOCAL)
    }

    /// Leaves the slot unmapped (flushing the one address).
    pub fn unmap(self) -> i64 {
        self.map(0, UVMF_INVLPG | UVMF_LOCAL)
    }

    /// Reads word `index` through the slot; `None` if out of the page or the read faulted.
    pub fn read(self, index: usize) -> Option<u64> {
        if index >= WORDS {
            return None;
        }
        // SAFETY: whatever frame the slot maps, a read through it has no side effect on Rust
        // objects, and the test memory it may map is RAM (no device side effects).
        unsafe { access::read_u64(self.va() + index as u64 * 8) }
    }

    /// Writes word `index` through the slot; false if out of the page, if the slot does not
    /// map test memory read-write (as far as we know), or if the write faulted.
    pub fn write(self, index: usize, value: u64) -> bool {
        let state = STATE.lock()[self.0];
        if index >= WORDS || !state.writable || state.stale {
            return false;
        }
        // SAFETY: the slot's current mapping (the TLB holds no older one: not stale) is to a
        // frame outside the initial mapping or to the slot's own .bss page, where no Rust
        // object lives (see the top of this file).
        unsafe { access::write_u64(self.va() + index as u64 * 8, value) }
    }

    /// Writes `value(i)` to every word; false at the first word that could not be written.
    pub fn fill(self, value: impl Fn(usize) -> u64) -> bool {
        (0..WORDS).all(|i| self.write(i, value(i)))
    }
}

/// Whether update_va_mapping flags `uvmf` flush this vCPU's TLB entry for the address.
pub(super) fn flushes_locally(uvmf: u64) -> bool {
    let kind = uvmf & UVMF_FLUSHTYPE_MASK;
    let scope = uvmf & !UVMF_FLUSHTYPE_MASK;
    kind != 0 && (scope == UVMF_LOCAL || scope == UVMF_ALL)
}

/// The slot whose page holds `va`, if any.
pub(super) fn slot_of_va(va: u64) -> Option<Slot> {
    let base = PAGES.0.get() as u64;
    let offset = va.checked_sub(base)?;
    Slot::get(usize::try_from(offset >> PAGE_SHIFT).ok()?)
}

/// The slot whose initial L1 entry is at machine address `maddr`, if any.
pub(super) fn slot_of_l1_entry(maddr: u64) -> Option<Slot> {
    (0..WINDOW_SLOTS)
        .filter_map(Slot::get)
        .find(|s| s.l1_entry_maddr() == Some(maddr))
}

/// Records that the slot's PTE is now `pte` (TLB flushed for it or not).
pub(super) fn note_pte(slot: Slot, pte: u64, flushed: bool) {
    let mfn = (pte & PTE_ADDR_MASK) >> PAGE_SHIFT;
    let rw = PteFlags::PRESENT | PteFlags::RW;
    let test_memory = !frames::is_kernel_frame(mfn) || slot.own_mfn() == Some(mfn);
    let mut state = STATE.lock();
    let s = &mut state[slot.0];
    // A change without a flush may leave the previous mapping in the TLB; a new writable
    // mapping only counts once flushed.
    s.stale = !flushed;
    s.writable = pte & rw.bits() == rw.bits() && test_memory;
}

/// Records a TLB flush of the slot (`Some`) or of everything (`None`).
pub(super) fn note_flush(slot: Option<Slot>) {
    let mut state = STATE.lock();
    for (i, s) in state.iter_mut().enumerate() {
        if slot.is_none_or(|slot| slot.0 == i) {
            s.stale = false;
        }
    }
}
