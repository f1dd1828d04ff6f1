//! The split drivers' shared pages (the frontends' rings, buffers and grant table; netback's staging): free frames (and grant-table frames) mapped read-write in one region of their own, under fresh L1 tables, and accessed only volatile.
// The region is 12 MiB at VIRT_BASE + 512 MiB: entries 256..262 of the L2 table that maps the
// kernel (the initial mapping uses its first entries only). The block and network drivers
// share it (their two former regions' pages together). When a page needs an L1 table that
// is not there yet, a free frame (one outside the initial mapping, so no Rust object lives
// there) is cleared (MMUEXT_CLEAR_PAGE) and installed as that L2 entry's L1 table with
// mmu_update; the hypervisor validates it. Each
// page of the region is then one frame, mapped once and never unmapped: a page given back
// with `free` keeps its frame for the next `alloc`. Nothing in the region is ever accessed
// through a Rust reference (the other end writes it concurrently), only through the volatile
// accesses below, bounds-checked against the page.

use alloc::vec::Vec;
use core::ptr;

use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::mmu::{MMU_NORMAL_PT_UPDATE, MmuUpdate, MmuextCmd, MmuextOp, PteFlags};
use spin::Mutex;

use dom0_tools::console_ring::RingMemory;

use super::calls::hc;
use super::frames;
use super::layout::VIRT_BASE;
use super::ring_page::initial_frame_va;

/// Start of the region.
const REGION: u64 = VIRT_BASE + 0x2000_0000;
/// Pages in the region (six L1 tables).
pub const REGION_PAGES: usize = 3072;
/// Entries in a page table.
const ENTRIES: usize = 512;
/// Bytes in a page.
pub const PAGE: usize = 4096;

/// Why the region could not give a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// The kernel's page tables do not look as expected (or the region is in use).
    NoRegion,
    /// The L1 table could not be installed: the hypercall's result.
    Install(i64),
    /// Every page of the region is in use.
    Full,
    /// No free frame is left.
    NoFrame,
    /// Mapping a frame failed: the hypercall's result.
    Map(i64),
}

struct Region {
    /// The next page never used.
    next: usize,
    /// Pages given back, with their frames still mapped.
    free: Vec<(usize, u64)>,
}

static REGION_STATE: Mutex<Option<Region>> = Mutex::new(None);

/// A page of the region, mapped read-write to `mfn`.
#[derive(Debug, PartialEq, Eq)]
pub struct SharedPage {
    index: usize,
    mfn: u64,
}

/// Entry `index` of the initial page-table frame `mfn`, if it is one of the initial mapping.
fn table_entry(mfn: u64, index: u64) -> Option<u64> {
    let va = initial_frame_va(mfn)?;
    // SAFETY: `va` maps a frame of the initial mapping (a page table, which the builder maps
    // read-only for the kernel's lifetime); index < 512 keeps the read in the page. The
    // hypervisor may change entries, hence volatile.
    Some(unsafe { ptr::read_volatile((va as *const u64).add((index & 511) as usize)) })
}

/// The frame of the L2 table covering the region, if the L4 and L3 entries above it are
/// present (they are the kernel's own).
fn region_l2() -> Option<u64> {
    let l4 = frames::initial_l4_mfn()?;
    let l3e = table_entry(l4, index(REGION, 4)).filter(|&e| present(e))?;
    let l2e = table_entry(frame(l3e), index(REGION, 3)).filter(|&e| present(e))?;
    Some(frame(l2e))
}

fn present(entry: u64) -> bool {
    entry & PteFlags::PRESENT.bits() != 0
}

fn frame(entry: u64) -> u64 {
    (entry & hypercall_abi::mmu::PTE_ADDR_MASK) >> PAGE_SHIFT
}

/// Index of `va` in its page table at `level` (1..=4).
fn index(va: u64, level: u32) -> u64 {
    (va >> (PAGE_SHIFT + 9 * (level - 1))) & (ENTRIES as u64 - 1)
}

/// Writes page-table entries with mmu_update; the hypercall's result.
fn mmu_update(reqs: &[MmuUpdate]) -> i64 {
    let mut done = 0u32;
    // SAFETY: the hypervisor reads the live requests and writes the live `done`. Every request
    // (see the callers) writes an entry of the region's L1 table or the empty L2 entry of the
    // region, so only pages of the region change, which no Rust object lives in.
    unsafe {
        hc(
            Hypercall::MmuUpdate,
            reqs.as_ptr() as u64,
            reqs.len() as u64,
            &mut done as *mut u32 as u64,
            u64::from(hypercall_abi::domid::DOMID_SELF),
            0,
        )
    }
}

/// The L1 table frame of page `page` of the region, installing it if needed.
fn l1_table(page: usize) -> Result<u64, PoolError> {
    let l2 = region_l2().ok_or(PoolError::NoRegion)?;
    let slot = index(REGION, 2) + (page / ENTRIES) as u64;
    let entry = table_entry(l2, slot).ok_or(PoolError::NoRegion)?;
    if present(entry) {
        return Ok(frame(entry));
    }
    let l1 = frames::take_free().ok_or(PoolError::NoFrame)?;
    let clear = MmuextOp {
        cmd: MmuextCmd::ClearPage as u32,
        pad: 0,
        arg1: l1.mfn,
        arg2: 0,
    };
    let mut done = 0u32;
    // SAFETY: clears a free frame (outside the initial mapping, mapped nowhere): no Rust object
    // lives there. The hypervisor reads the live op and writes the live `done`.
    let ret = unsafe {
        hc(
            Hypercall::MmuextOp,
            &clear as *const MmuextOp as u64,
            1,
            &mut done as *mut u32 as u64,
            u64::from(hypercall_abi::domid::DOMID_SELF),
            0,
        )
    };
    if ret != 0 {
        return Err(PoolError::Install(ret));
    }
    let flags = PteFlags::PRESENT | PteFlags::RW | PteFlags::USER | PteFlags::ACCESSED;
    let req = MmuUpdate {
        ptr: ((l2 << PAGE_SHIFT) + slot * 8) | MMU_NORMAL_PT_UPDATE,
        val: (l1.mfn << PAGE_SHIFT) | flags.bits(),
    };
    match mmu_update(&[req]) {
        0 => Ok(l1.mfn),
        e => Err(PoolError::Install(e)),
    }
}

/// Maps frame `mfn` read-write at page `index` of the region (flushing its address).
fn map_at(index: usize, mfn: u64) -> Result<(), PoolError> {
    if index >= REGION_PAGES {
        return Err(PoolError::Full);
    }
    let l1 = l1_table(index)?;
    let entry = (l1 << PAGE_SHIFT) + (index % ENTRIES) as u64 * 8;
    let flags =
        PteFlags::PRESENT | PteFlags::RW | PteFlags::USER | PteFlags::ACCESSED | PteFlags::DIRTY;
    let req = MmuUpdate {
        ptr: entry | MMU_NORMAL_PT_UPDATE,
        val: (mfn << PAGE_SHIFT) | flags.bits(),
    };
    // The entry was never present before (pages are mapped once), so no TLB holds it.
    match mmu_update(&[req]) {
        0 => Ok(()),
        e => Err(PoolError::Map(e)),
    }
}

/// Takes the next unused page index.
fn next_index(state: &mut Option<Region>) -> Result<usize, PoolError> {
    let region = state.get_or_insert_with(|| Region {
        next: 0,
        free: Vec::new(),
    });
    if region.next >= REGION_PAGES {
        return Err(PoolError::Full);
    }
    region.next += 1;
    Ok(region.next - 1)
}

impl SharedPage {
    /// A page of ours for sharing: one given back earlier, or a free frame newly mapped.
    pub fn alloc() -> Result<SharedPage, PoolError> {
        let mut state = REGION_STATE.lock();
        if let Some((index, mfn)) = state.as_mut().and_then(|r| r.free.pop()) {
            return Ok(SharedPage { index, mfn });
        }
        let index = next_index(&mut state)?;
        let frame = frames::take_free().ok_or(PoolError::NoFrame)?;
        map_at(index, frame.mfn)?;
        Ok(SharedPage {
            index,
            mfn: frame.mfn,
        })
    }

    /// Maps `mfn`, a frame the hypervisor shares with us (a grant-table frame: not in our
    /// P2M list), read-write in the region. It is never given back.
    pub fn map_xen_frame(mfn: u64) -> Result<SharedPage, PoolError> {
        if frames::in_p2m(mfn) {
            return Err(PoolError::Map(-1));
        }
        let mut state = REGION_STATE.lock();
        let index = next_index(&mut state)?;
        map_at(index, mfn)?;
        Ok(SharedPage { index, mfn })
    }

    /// Gives the page back for a later `alloc` (the caller made sure nobody else can still
    /// write it: its grants ended).
    pub fn free(self) {
        if let Some(region) = REGION_STATE.lock().as_mut() {
            region.free.push((self.index, self.mfn));
        }
    }

    /// The frame behind the page.
    pub fn mfn(&self) -> u64 {
        self.mfn
    }

    /// The page's virtual address.
    fn va(&self) -> u64 {
        REGION + (self.index as u64) * PAGE as u64
    }

    fn at(&self, offset: usize, len: usize, align: usize) -> Option<*mut u8> {
        let end = offset.checked_add(len)?;
        (end <= PAGE && offset.is_multiple_of(align))
            .then(|| (self.va() as usize + offset) as *mut u8)
    }

    /// Copies `buf.len()` bytes from `offset` of the page into `buf` (nothing if out of it).
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        if let Some(p) = self.at(offset, buf.len(), 8) {
            let mut words = buf.chunks_exact_mut(8);
            for (i, chunk) in (&mut words).enumerate() {
                // SAFETY: inside the page (checked, 8-aligned), mapped read-write to our frame
                // for the kernel's lifetime; the other end may write it, hence volatile.
                let w = unsafe { ptr::read_volatile(p.cast::<u64>().add(i)) };
                chunk.copy_from_slice(&w.to_le_bytes());
            }
            let done = buf.len() / 8 * 8;
            self.read_bytes(offset + done, &mut buf[done..]);
            return;
        }
        self.read_bytes(offset, buf);
    }

    fn read_bytes(&self, offset: usize, buf: &mut [u8]) {
        if let Some(p) = self.at(offset, buf.len(), 1) {
            for (i, b) in buf.iter_mut().enumerate() {
                // SAFETY: inside the page (checked), mapped read-write to our frame for the
                // kernel's lifetime; the other end may write it, hence volatile.
                *b = unsafe { ptr::read_volatile(p.add(i)) };
            }
        }
    }

    /// Copies `bytes` into the page at `offset` (nothing if out of it).
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(p) = self.at(offset, bytes.len(), 8) {
            let mut words = bytes.chunks_exact(8);
            for (i, chunk) in (&mut words).enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                // SAFETY: as in `read`; no Rust object lives in the region.
                unsafe { ptr::write_volatile(p.cast::<u64>().add(i), u64::from_le_bytes(w)) };
            }
            let done = bytes.len() / 8 * 8;
            self.write_bytes(offset + done, &bytes[done..]);
            return;
        }
        self.write_bytes(offset, bytes);
    }

    fn write_bytes(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(p) = self.at(offset, bytes.len(), 1) {
            for (i, &b) in bytes.iter().enumerate() {
                // SAFETY: as in `read`; no Rust object lives in the region.
                unsafe { ptr::write_volatile(p.add(i), b) };
            }
        }
    }

    /// Reads the aligned u16 at `offset` atomically and, if it is `current`, replaces it
    /// with `new`; the value found.
    pub fn compare_exchange_u16(&mut self, offset: usize, current: u16, new: u16) -> u16 {
        let Some(p) = self.at(offset, 2, 2) else {
            return current ^ 1;
        };
        // SAFETY: aligned, inside the page (checked); the other end (the hypervisor, for a
        // grant-table frame) changes this word only with atomic operations, so an atomic
        // view of it is sound.
        let word = unsafe { core::sync::atomic::AtomicU16::from_ptr(p.cast::<u16>()) };
        match word.compare_exchange(
            current,
            new,
            core::sync::atomic::Ordering::SeqCst,
            core::sync::atomic::Ordering::SeqCst,
        ) {
            Ok(v) | Err(v) => v,
        }
    }
}

impl RingMemory for SharedPage {
    fn read_u8(&self, offset: usize) -> u8 {
        let mut b = [0u8; 1];
        self.read(offset, &mut b);
        b[0]
    }

    fn write_u8(&mut self, offset: usize, value: u8) {
        self.write(offset, &[value]);
    }

    fn read_u32(&self, offset: usize) -> u32 {
        // SAFETY: aligned and inside the page (checked); volatile as in `read`.
        self.at(offset, 4, 4)
            .map_or(0, |p| unsafe { ptr::read_volatile(p.cast::<u32>()) })
    }

    fn write_u32(&mut self, offset: usize, value: u32) {
        if let Some(p) = self.at(offset, 4, 4) {
            // SAFETY: as in `read_u32`.
            unsafe { ptr::write_volatile(p.cast::<u32>(), value) }
        }
    }
}

/// Split-driver rings in a shared page: volatile accesses and the default x86 barriers.
impl dom0_tools::shared_ring::SharedRingMemory for SharedPage {}
