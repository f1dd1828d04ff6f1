//! Foreign pages: .bss pages whose frames Dom0 replaces with another domain's (mmu_update with a foreign domain, as privcmd does).
// A slot's page is never accessed through a Rust reference, only through the volatile
// accesses below, so swapping its frame invalidates no Rust object. While a slot maps a
// foreign frame, writes reach that domain's memory only; while it does not, it maps its own
// .bss frame again, which nothing else uses.

use core::cell::UnsafeCell;
use core::ptr;

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::mmu::{MMU_NORMAL_PT_UPDATE, MmuUpdate, MmuextCmd, MmuextOp, PteFlags};
use spin::Mutex;

use dom0_tools::console_ring::RingMemory;

use super::calls::hc;
use super::frames;

/// Number of foreign pages: the builder's window, and the console and xenstore rings of the
/// running DomUs (two each, for up to 30 DomUs at once).
pub const FOREIGN_SLOTS: usize = 64;
/// Bytes in a page.
const PAGE: usize = 4096;

#[repr(C, align(4096))]
struct Pages(UnsafeCell<[[u8; PAGE]; FOREIGN_SLOTS]>);

// SAFETY: no reference into the pages is ever formed; every access is a volatile raw-pointer
// access from the one vCPU (see the top of this file).
unsafe impl Sync for Pages {}

static PAGES: Pages = Pages(UnsafeCell::new([[0; PAGE]; FOREIGN_SLOTS]));

/// A slot's bookkeeping.
#[derive(Clone, Copy)]
struct SlotState {
    /// Held by a `ForeignPage`.
    claimed: bool,
    /// The domain and frame it maps; `None` while it maps its own frame.
    maps: Option<(DomId, u64)>,
}

static SLOTS: Mutex<[SlotState; FOREIGN_SLOTS]> = Mutex::new(
    [SlotState {
        claimed: false,
        maps: None,
    }; FOREIGN_SLOTS],
);

/// PTE flags of a foreign mapping: present, writable, accessed, dirty, user (the kernel runs
/// at CPL 3).
fn pte_flags() -> u64 {
    (PteFlags::PRESENT | PteFlags::RW | PteFlags::ACCESSED | PteFlags::DIRTY | PteFlags::USER)
        .bits()
}

/// A claimed slot; released (and given its own frame back) when dropped.
pub struct ForeignPage {
    slot: usize,
}

impl ForeignPage {
    /// Claims a free slot; `None` if all are in use.
    pub fn claim() -> Option<ForeignPage> {
        let mut slots = SLOTS.lock();
        let slot = slots.iter().position(|s| !s.claimed)?;
        slots[slot].claimed = true;
        Some(ForeignPage { slot })
    }

    fn va(&self) -> u64 {
        PAGES.0.get() as u64 + (self.slot * PAGE) as u64
    }

    fn own_mfn(&self) -> Option<u64> {
        frames::initial_mfn(self.va())
    }

    /// The domain and frame the slot maps, if it maps a foreign one.
    pub fn mapping(&self) -> Option<(DomId, u64)> {
        SLOTS.lock()[self.slot].maps
    }

    /// Maps frame `mfn` of domain `domid` at the slot, writable: mmu_update of our own L1
    /// entry with `domid` as the page owner, then a local invlpg. 0 or the -errno of the
    /// failing call (the slot then maps nothing foreign).
    pub fn map(&mut self, domid: DomId, mfn: u64) -> i64 {
        let ret = self.set_pte((mfn << PAGE_SHIFT) | pte_flags(), u32::from(domid));
        // Until the own frame is back, count the slot as mapping the frame (if the entry was
        // written but the flush failed, it may).
        SLOTS.lock()[self.slot].maps = Some((domid, mfn));
        if ret != 0 {
            let _ = self.unmap();
        }
        ret
    }

    /// Gives the slot its own frame back (dropping its hold on the foreign one).
    pub fn unmap(&mut self) -> i64 {
        if self.mapping().is_none() {
            return 0;
        }
        let Some(own) = self.own_mfn() else {
            return hypercall_abi::Errno::Inval.to_ret();
        };
        let ret = self.set_pte((own << PAGE_SHIFT) | pte_flags(), u32::from(DOMID_SELF));
        if ret == 0 {
            SLOTS.lock()[self.slot].maps = None;
        }
        ret
    }

    fn set_pte(&mut self, pte: u64, foreigndom: u32) -> i64 {
        let Some(entry) = frames::initial_l1_entry_maddr(self.va()) else {
            return hypercall_abi::Errno::Inval.to_ret();
        };
        let req = MmuUpdate {
            ptr: entry | MMU_NORMAL_PT_UPDATE,
            val: pte,
        };
        let mut done = 0u32;
        // SAFETY: the request rewrites the L1 entry of this slot's page, which is only ever
        // accessed through this type's volatile accesses (see the top of this file); the
        // hypervisor reads the live request and writes the live `done`.
        let ret = unsafe {
            hc(
                Hypercall::MmuUpdate,
                &req as *const MmuUpdate as u64,
                1,
                &mut done as *mut u32 as u64,
                u64::from(foreigndom),
                0,
            )
        };
        if ret != 0 {
            return ret;
        }
        let flush = MmuextOp {
            cmd: MmuextCmd::InvlpgLocal as u32,
            pad: 0,
            arg1: self.va(),
            arg2: 0,
        };
        // SAFETY: a TLB flush of one of our addresses changes no memory; the hypervisor reads
        // the live op.
        unsafe {
            hc(
                Hypercall::MmuextOp,
                &flush as *const MmuextOp as u64,
                1,
                0,
                u64::from(DOMID_SELF),
                0,
            )
        }
    }

    /// The address of byte `offset`, if the slot maps a foreign frame and `len` bytes from
    /// `offset` stay inside the page.
    fn at(&self, offset: usize, len: usize) -> Option<*mut u8> {
        self.mapping()?;
        (offset.checked_add(len)? <= PAGE).then(|| (self.va() as usize + offset) as *mut u8)
    }

    /// Writes the whole page; false if the slot maps nothing foreign.
    pub fn write_page(&mut self, data: &[u8; PAGE]) -> bool {
        let Some(dst) = self.at(0, PAGE) else {
            return false;
        };
        let dst = dst.cast::<u64>();
        for (i, word) in data.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            // SAFETY: `dst` is the slot's page, mapped to a foreign frame (checked by `at`);
            // i < 512 keeps the write inside it; no Rust object lives there.
            unsafe { ptr::write_volatile(dst.add(i), u64::from_le_bytes(b)) };
        }
        true
    }

    /// Writes the u64 at byte `offset` (8-byte aligned); false if the slot maps nothing
    /// foreign or the offset is bad.
    pub fn write_u64(&mut self, offset: usize, value: u64) -> bool {
        match self.at(offset, 8).filter(|_| offset.is_multiple_of(8)) {
            Some(p) => {
                // SAFETY: aligned and inside the mapped foreign page (checked); no Rust object
                // of ours lives in a foreign frame.
                unsafe { ptr::write_volatile(p.cast::<u64>(), value) };
                true
            }
            None => false,
        }
    }

    /// Zeroes the whole page; false if the slot maps nothing foreign.
    pub fn zero(&mut self) -> bool {
        self.write_page(&[0; PAGE])
    }
}

/// A backend's view of a frontend's ring page: as [`RingMemory`], with the default x86 barriers.
impl dom0_tools::shared_ring::SharedRingMemory for ForeignPage {}

impl RingMemory for ForeignPage {
    fn read_u8(&self, offset: usize) -> u8 {
        match self.at(offset, 1) {
            // SAFETY: inside the mapped foreign page (checked by `at`); the other domain may
            // write it concurrently, hence volatile.
            Some(p) => unsafe { ptr::read_volatile(p) },
            None => 0,
        }
    }

    fn write_u8(&mut self, offset: usize, value: u8) {
        if let Some(p) = self.at(offset, 1) {
            // SAFETY: as in `read_u8`; no Rust object of ours lives in a foreign frame.
            unsafe { ptr::write_volatile(p, value) }
        }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        match self
            .at(offset, 4)
            .filter(|p| (*p as usize).is_multiple_of(4))
        {
            // SAFETY: aligned and inside the mapped foreign page (checked); volatile as above.
            Some(p) => unsafe { ptr::read_volatile(p.cast::<u32>()) },
            None => 0,
        }
    }

    fn write_u32(&mut self, offset: usize, value: u32) {
        if let Some(p) = self
            .at(offset, 4)
            .filter(|p| (*p as usize).is_multiple_of(4))
        {
            // SAFETY: as in `read_u32`; no Rust object of ours lives in a foreign frame.
            unsafe { ptr::write_volatile(p.cast::<u32>(), value) }
        }
    }
}

impl Drop for ForeignPage {
    fn drop(&mut self) {
        let _ = self.unmap();
        SLOTS.lock()[self.slot].claimed = false;
    }
}
