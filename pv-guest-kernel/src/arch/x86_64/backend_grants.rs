//! The split-driver backends' grant operations (blkback and netback): a frontend's ring page mapped by grant into a page of ours, and GNTTABOP_copy between granted frames and our staging pages.
// Ring pages: .bss pages whose frames are replaced by a grant mapping (GNTTABOP_map_grant_ref
// with GNTMAP_host_map at the page's address) and given back their own frame once the grant is
// unmapped. Like the foreign pages, they are only accessed through the volatile accesses
// below, never through a Rust reference, so swapping their frames invalidates no Rust object.
// A grant whose unmap failed stays where it is: the slot is never reused nor remapped (Xen
// crashes a domain that overwrites a granted PTE).
//
// Staging comes in two kinds. Blkback's: STAGING_PAGES page-aligned .bss pages, handed out
// once, which the hypervisor writes only while a copy runs (`&mut self` of their one holder,
// so no borrow of the bytes is alive then). Netback's: pages of the page pool, which hold no
// Rust object and are only accessed volatile. One copier serves both: it lets an element
// through only if its local side is one of the staging frames it was given and its bytes stay
// in the page, and its granted side names another domain's grant: nothing else of ours is
// written. Only the two staging kinds make copiers, from their own frames.

use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::errno::Errno;
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTMAP_HOST_MAP, GNTST_OKAY, GNTTABOP_COPY,
    GNTTABOP_MAP_GRANT_REF, GNTTABOP_UNMAP_GRANT_REF, GnttabCopy, GnttabCopyPtr, GnttabMapGrantRef,
    GnttabUnmapGrantRef, GrantHandle, GrantRef,
};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::mmu::{MMU_NORMAL_PT_UPDATE, MmuUpdate, MmuextCmd, MmuextOp, PteFlags};
use spin::Mutex;

use dom0_tools::blkback::copier::{STAGING_BYTES, STAGING_PAGES, StagedCopier};
use dom0_tools::console_ring::RingMemory;
use dom0_tools::grant_copier::GrantCopier;
use dom0_tools::net_pages::PageAccess;

use super::calls::hc;
use super::frames;
use super::grant_calls::gnttab_op;
use super::page_pool::SharedPage;

/// Ring pages: one per connected block device, two per connected vif (the two backends'
/// former 16 each).
pub const RING_SLOTS: usize = 32;
/// Bytes in a page.
const PAGE: usize = 4096;

#[repr(C, align(4096))]
struct Pages<const N: usize>(UnsafeCell<[[u8; PAGE]; N]>);

// SAFETY: no reference into the pages is ever formed while the hypervisor may write them (see
// the top of this file); one vCPU.
unsafe impl<const N: usize> Sync for Pages<N> {}

static RING_PAGES: Pages<RING_SLOTS> = Pages(UnsafeCell::new([[0; PAGE]; RING_SLOTS]));
static STAGING: Pages<STAGING_PAGES> = Pages(UnsafeCell::new([[0; PAGE]; STAGING_PAGES]));
static STAGING_TAKEN: AtomicBool = AtomicBool::new(false);

/// A ring slot's state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Claimed,
    /// An unmap failed: the grant may still be mapped there.
    Leaked,
}

static SLOTS: Mutex<[SlotState; RING_SLOTS]> = Mutex::new([SlotState::Free; RING_SLOTS]);

/// Flushes our TLB entry of `va`.
fn invlpg(va: u64) -> i64 {
    let op = MmuextOp {
        cmd: MmuextCmd::InvlpgLocal as u32,
        pad: 0,
        arg1: va,
        arg2: 0,
    };
    // SAFETY: a TLB flush of one of our addresses changes no memory; the op is live.
    unsafe {
        hc(
            Hypercall::MmuextOp,
            &op as *const MmuextOp as u64,
            1,
            0,
            u64::from(DOMID_SELF),
            0,
        )
    }
}

/// A frontend's ring page, mapped by grant at one of our ring pages.
pub struct GrantedRing {
    slot: usize,
    handle: Option<GrantHandle>,
}

impl GrantedRing {
    /// Maps grant `gref` of `domid` (read-write); the -errno or `GNTST_*` status on failure
    /// (nothing is left mapped then).
    pub fn map(domid: DomId, gref: GrantRef) -> Result<GrantedRing, i64> {
        let slot = {
            let mut slots = SLOTS.lock();
            let slot = slots
                .iter()
                .position(|s| *s == SlotState::Free)
                .ok_or(-28i64)?;
            slots[slot] = SlotState::Claimed;
            slot
        };
        let mut ring = GrantedRing { slot, handle: None };
        let mut op = GnttabMapGrantRef {
            host_addr: ring.va(),
            flags: GNTMAP_HOST_MAP,
            ref_: gref,
            dom: domid,
            ..GnttabMapGrantRef::default()
        };
        // SAFETY: one live element; a success replaces the PTE of our ring page (only
        // accessed through this type's volatile accesses) with the granted frame.
        let ret = unsafe { gnttab_op(GNTTABOP_MAP_GRANT_REF, &mut op as *mut _ as u64, 1) };
        if ret != 0 {
            return Err(ret);
        }
        if op.status != GNTST_OKAY {
            return Err(i64::from(op.status));
        }
        ring.handle = Some(op.handle);
        // The page's old translation (its own frame) may still be in the TLB.
        let _ = invlpg(ring.va());
        Ok(ring)
    }

    fn va(&self) -> u64 {
        RING_PAGES.0.get() as u64 + (self.slot * PAGE) as u64
    }

    /// Unmaps the grant and gives the page its own frame back; 0 or the failing -errno or
    /// status (the slot is then never reused).
    pub fn unmap(&mut self) -> i64 {
        let Some(handle) = self.handle.take() else {
            return 0;
        };
        let mut op = GnttabUnmapGrantRef {
            host_addr: self.va(),
            dev_bus_addr: 0,
            handle,
            ..GnttabUnmapGrantRef::default()
        };
        // SAFETY: one live element; it removes the grant mapping of our ring page (the
        // hypervisor flushes the TLB), which leaves the page unmapped until below.
        let ret = unsafe { gnttab_op(GNTTABOP_UNMAP_GRANT_REF, &mut op as *mut _ as u64, 1) };
        let ret = if ret != 0 { ret } else { i64::from(op.status) };
        if ret != 0 {
            SLOTS.lock()[self.slot] = SlotState::Leaked;
            return ret;
        }
        self.restore_own_frame()
    }

    /// Maps the page's own .bss frame again.
    fn restore_own_frame(&mut self) -> i64 {
        let va = self.va();
        let (Some(entry), Some(own)) =
            (frames::initial_l1_entry_maddr(va), frames::initial_mfn(va))
        else {
            SLOTS.lock()[self.slot] = SlotState::Leaked;
            return hypercall_abi::Errno::Inval.to_ret();
        };
        let flags = PteFlags::PRESENT
            | PteFlags::RW
            | PteFlags::ACCESSED
            | PteFlags::DIRTY
            | PteFlags::USER;
        let req = MmuUpdate {
            ptr: entry | MMU_NORMAL_PT_UPDATE,
            val: (own << PAGE_SHIFT) | flags.bits(),
        };
        let mut done = 0u32;
        // SAFETY: rewrites the (now empty) L1 entry of our ring page with its own frame,
        // which nothing else uses; request and `done` are live.
        let ret = unsafe {
            hc(
                Hypercall::MmuUpdate,
                &req as *const MmuUpdate as u64,
                1,
                &mut done as *mut u32 as u64,
                u64::from(DOMID_SELF),
                0,
            )
        };
        if ret != 0 {
            SLOTS.lock()[self.slot] = SlotState::Leaked;
            return ret;
        }
        invlpg(va)
    }

    /// The address of byte `offset` (aligned to `align`) while the grant is mapped.
    fn at(&self, offset: usize, len: usize, align: usize) -> Option<*mut u8> {
        self.handle?;
        (offset.checked_add(len)? <= PAGE && offset.is_multiple_of(align))
            .then(|| (self.va() as usize + offset) as *mut u8)
    }
}

impl Drop for GrantedRing {
    fn drop(&mut self) {
        let _ = self.unmap();
        let mut slots = SLOTS.lock();
        if slots[self.slot] == SlotState::Claimed {
            slots[self.slot] = SlotState::Free;
        }
    }
}

impl RingMemory for GrantedRing {
    fn read_u8(&self, offset: usize) -> u8 {
        match self.at(offset, 1, 1) {
            // SAFETY: inside the mapped granted page (checked); the frontend writes it
            // concurrently, hence volatile.
            Some(p) => unsafe { ptr::read_volatile(p) },
            None => 0,
        }
    }

    fn write_u8(&mut self, offset: usize, value: u8) {
        if let Some(p) = self.at(offset, 1, 1) {
            // SAFETY: as in `read_u8`; no Rust object of ours lives in the granted frame.
            unsafe { ptr::write_volatile(p, value) }
        }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        match self.at(offset, 4, 4) {
            // SAFETY: aligned and inside the mapped granted page (checked); volatile as above.
            Some(p) => unsafe { ptr::read_volatile(p.cast::<u32>()) },
            None => 0,
        }
    }

    fn write_u32(&mut self, offset: usize, value: u32) {
        if let Some(p) = self.at(offset, 4, 4) {
            // SAFETY: as in `read_u32`; no Rust object of ours lives in the granted frame.
            unsafe { ptr::write_volatile(p.cast::<u32>(), value) }
        }
    }
}

/// A backend's view of the frontend's ring: volatile accesses, default x86 barriers.
impl dom0_tools::shared_ring::SharedRingMemory for GrantedRing {}

/// GNTTABOP_copy, only between the staging frames it was given and other domains' grants.
pub struct StagingCopier {
    frames: Vec<u64>,
}

impl StagingCopier {
    /// A copier through `frames` (only the staging kinds below make one, from their own
    /// frames); `None` if out of memory.
    fn new(frames: impl ExactSizeIterator<Item = u64>) -> Option<StagingCopier> {
        let mut list = Vec::new();
        list.try_reserve_exact(frames.len()).ok()?;
        list.extend(frames);
        Some(StagingCopier { frames: list })
    }

    /// Whether the local side `p` is inside one of our staging frames for `len` bytes.
    fn local_ok(&self, p: &GnttabCopyPtr, len: u16) -> bool {
        p.domid == DOMID_SELF
            && self.frames.contains(&p.u)
            && usize::from(p.offset) + usize::from(len) <= PAGE
    }

    /// Whether `op` only writes our staging pages or another domain's grant.
    fn allowed(&self, op: &GnttabCopy) -> bool {
        let src_gref = op.flags & GNTCOPY_SOURCE_GREF != 0;
        let dst_gref = op.flags & GNTCOPY_DEST_GREF != 0;
        let foreign = |p: &GnttabCopyPtr| p.domid != DOMID_SELF && p.domid != 0;
        match (src_gref, dst_gref) {
            (true, false) => foreign(&op.source) && self.local_ok(&op.dest, op.len),
            (false, true) => self.local_ok(&op.source, op.len) && foreign(&op.dest),
            _ => false,
        }
    }
}

impl GrantCopier for StagingCopier {
    fn copy(&mut self, ops: &mut [GnttabCopy]) -> Result<(), Errno> {
        if ops.is_empty() {
            return Ok(());
        }
        if !ops.iter().all(|op| self.allowed(op)) {
            return Err(Errno::Inval);
        }
        // SAFETY: live elements; every element writes either one of our staging frames inside
        // the page (checked above) or another domain's granted frame. Staging frames are
        // blkback's .bss pages, whose one holder (`Staging`) runs this under its `&mut self`,
        // so no borrow of their bytes is alive, or page-pool pages, which hold no Rust object
        // and are accessed only volatile (a copier lives only as long as its engine holds them).
        let ret = unsafe { gnttab_op(GNTTABOP_COPY, ops.as_mut_ptr() as u64, ops.len() as u32) };
        if ret == 0 {
            Ok(())
        } else {
            Err(Errno::from_ret(ret).unwrap_or(Errno::Inval))
        }
    }
}

/// Blkback's staging pages and the copier through them (the only holder of the pages).
pub struct Staging {
    copier: StagingCopier,
}

impl Staging {
    /// The staging pages, once; `None` if already taken, a frame is unknown or out of memory.
    pub fn take() -> Option<Staging> {
        if STAGING_TAKEN.swap(true, Ordering::AcqRel) {
            return None;
        }
        let base = STAGING.0.get() as u64;
        let mut frames = [0u64; STAGING_PAGES];
        for (i, f) in frames.iter_mut().enumerate() {
            *f = frames::initial_mfn(base + (i * PAGE) as u64)?;
        }
        let copier = StagingCopier::new(frames.into_iter())?;
        Some(Staging { copier })
    }
}

impl GrantCopier for Staging {
    fn copy(&mut self, ops: &mut [GnttabCopy]) -> Result<(), Errno> {
        self.copier.copy(ops)
    }
}

impl StagedCopier for Staging {
    fn staging_frame(&self, page: usize) -> u64 {
        self.copier.frames.get(page).copied().unwrap_or(0)
    }

    fn staging(&mut self) -> &mut [u8] {
        // SAFETY: the pages are handed out once (`take`), so this is the only way to them;
        // the borrow is tied to `&mut self`, so no copy runs while it lives.
        let pages: &mut [[u8; PAGE]; STAGING_PAGES] = unsafe { &mut *STAGING.0.get() };
        let bytes = pages.as_flattened_mut();
        debug_assert_eq!(bytes.len(), STAGING_BYTES);
        bytes
    }
}

/// The machine frame and page offset of staging byte address `va`, if it lies in the staging
/// pages.
pub fn staging_frame_at(va: u64) -> Option<(u64, usize)> {
    let base = STAGING.0.get() as u64;
    let off = usize::try_from(va.checked_sub(base)?).ok()?;
    if off >= STAGING_BYTES {
        return None;
    }
    Some((
        frames::initial_mfn(base + (off / PAGE * PAGE) as u64)?,
        off % PAGE,
    ))
}

/// Netback's staging pages: pages of the page pool, read and written volatile.
pub struct NetStaging {
    pages: Vec<SharedPage>,
}

impl NetStaging {
    /// `n` pages of the page pool; `None` if the pool is exhausted (what was taken goes
    /// back).
    pub fn take(n: usize) -> Option<NetStaging> {
        let mut pages = Vec::new();
        pages.try_reserve_exact(n).ok()?;
        for _ in 0..n {
            match SharedPage::alloc() {
                Ok(p) => pages.push(p),
                Err(_) => {
                    pages.into_iter().for_each(SharedPage::free);
                    return None;
                }
            }
        }
        Some(NetStaging { pages })
    }

    /// The staging pages' frames, in order (page index `i` is `frames()[i]`).
    pub fn frames(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.pages.iter().map(SharedPage::mfn)
    }

    /// Gives the pages back to the pool (no copy runs once the engine is gone).
    pub fn release(self) {
        self.pages.into_iter().for_each(SharedPage::free);
    }

    /// The copier through these pages (the engine is given both at once); `None` if out of
    /// memory.
    pub fn copier(&self) -> Option<StagingCopier> {
        StagingCopier::new(self.frames())
    }
}

impl PageAccess for NetStaging {
    fn read(&self, page: usize, offset: usize, buf: &mut [u8]) {
        if let Some(p) = self.pages.get(page) {
            p.read(offset, buf);
        }
    }

    fn write(&mut self, page: usize, offset: usize, data: &[u8]) {
        if let Some(p) = self.pages.get_mut(page) {
            p.write(offset, data);
        }
    }
}
