//! The DomU's balloon: gives frames from the top of its pseudo-physical memory back to Xen (decrease_reservation) and takes them again (populate_physmap) to follow `memory/target`.
// The frames it uses lie beyond the initial mapping (the kernel's allocator never hands them
// out in this mode). The P2M list from the builder is read-only to this kernel, so the
// balloon keeps its own view of the frames it has touched: `moved[start - 1 - pfn]` is the
// frame's machine number now, or INVALID_P2M while it is given away.

use alloc::vec::Vec;

use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::memory::{
    XENMEM_CURRENT_RESERVATION, XENMEM_DECREASE_RESERVATION, XENMEM_POPULATE_PHYSMAP,
};

use dom0_tools::guest_balloon::{Balloon, BalloonStep, KIB_PER_PAGE};

use crate::arch::x86_64::{boot, frames, memory_calls};
use crate::selftest::report::{Detail, Ret};

/// A P2M entry for a frame that is not there (Linux's INVALID_P2M_ENTRY).
const INVALID_P2M: u64 = u64::MAX;
/// Frames per hypercall.
const BATCH: usize = 256;

/// The balloon and its view of the frames it moved.
pub struct BalloonDriver {
    plan: Balloon,
    moved: Vec<u64>,
}

impl BalloonDriver {
    /// A full balloon: the domain holds every page it booted with; the frames of the
    /// initial mapping are never given.
    pub fn new() -> Self {
        let start = boot::p2m().len() as u64;
        BalloonDriver {
            plan: Balloon::new(start, frames::initial_pages()),
            moved: Vec::new(),
        }
    }

    /// The arithmetic's state.
    pub fn plan(&self) -> &Balloon {
        &self.plan
    }

    /// KiB the domain holds now, by our count.
    pub fn current_kib(&self) -> u64 {
        self.plan.current_pages() * KIB_PER_PAGE
    }

    /// The most KiB the domain holds (what it booted with).
    pub fn max_kib(&self) -> u64 {
        self.plan.max_pages() * KIB_PER_PAGE
    }

    /// The hypervisor's count of our pages (XENMEM_current_reservation), or its -errno.
    pub fn reservation_pages() -> i64 {
        memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, DOMID_SELF).unwrap_or(-1)
    }

    /// The machine frame behind `pfn` now (INVALID_P2M while given away).
    fn mfn(&self, pfn: u64) -> u64 {
        let start = self.plan.max_pages();
        let slot = start.checked_sub(pfn + 1).map(|s| s as usize);
        match slot.and_then(|s| self.moved.get(s)) {
            Some(&mfn) => mfn,
            None => boot::p2m()
                .get(pfn as usize)
                .copied()
                .unwrap_or(INVALID_P2M),
        }
    }

    /// Records `mfn` as the frame behind `pfn` (growing the view if needed).
    fn set_mfn(&mut self, pfn: u64, mfn: u64) -> Result<(), Detail> {
        let slot = (self.plan.max_pages() - 1 - pfn) as usize;
        while self.moved.len() <= slot {
            let next = self.plan.max_pages() - 1 - self.moved.len() as u64;
            let original = boot::p2m()
                .get(next as usize)
                .copied()
                .unwrap_or(INVALID_P2M);
            self.moved
                .try_reserve(1)
                .map_err(|_| Detail::new(format_args!("no memory for the balloon's P2M view")))?;
            self.moved.push(original);
        }
        self.moved[slot] = mfn;
        Ok(())
    }

    /// Moves towards `target_pages` until it is reached (clamped to what the balloon can
    /// reach) or a step fails. Returns the pages moved (negative: given).
    pub fn reach(&mut self, target_pages: u64) -> Result<i64, Detail> {
        let mut moved = 0i64;
        // Frames the kernel took since (its device page pools) are never given.
        self.plan.raise_floor(frames::next_free_pfn());
        loop {
            frames::set_ballooned_from(self.plan.current_pages());
            match self.plan.plan(target_pages, BATCH as u64) {
                BalloonStep::Done => return Ok(moved),
                BalloonStep::Give(range) => moved -= self.give(range.start, range.end)? as i64,
                BalloonStep::Take(range) => moved += self.take(range.start, range.end)? as i64,
            }
        }
    }

    /// Gives frames `first..end` back, highest first; how many went.
    fn give(&mut self, first: u64, end: u64) -> Result<u64, Detail> {
        let n = (end - first) as usize;
        // Grow the view first, so a failure leaves nothing given and unrecorded.
        self.set_mfn(first, self.mfn(first))?;
        let mut extents = [0u64; BATCH];
        for (i, slot) in extents[..n].iter_mut().enumerate() {
            *slot = self.mfn(end - 1 - i as u64);
        }
        let done = memory_calls::reservation(
            XENMEM_DECREASE_RESERVATION,
            &mut extents[..n],
            0,
            0,
            DOMID_SELF,
        )
        .map_err(|d| Detail::new(format_args!("decrease_reservation: {}", d.0)))?;
        let done_n = u64::try_from(done).unwrap_or(0).min(n as u64);
        for i in 0..done_n {
            self.set_mfn(end - 1 - i, INVALID_P2M)?;
        }
        self.plan.gave(done_n);
        if done_n < n as u64 {
            return Err(Detail::new(format_args!(
                "decrease_reservation of {} frames returned {}",
                n,
                Ret(done)
            )));
        }
        Ok(done_n)
    }

    /// Populates frames `first..end` again, lowest first; how many came.
    fn take(&mut self, first: u64, end: u64) -> Result<u64, Detail> {
        let n = (end - first) as usize;
        let mut extents = [0u64; BATCH];
        for (i, slot) in extents[..n].iter_mut().enumerate() {
            *slot = first + i as u64;
        }
        let done =
            memory_calls::reservation(XENMEM_POPULATE_PHYSMAP, &mut extents[..n], 0, 0, DOMID_SELF)
                .map_err(|d| Detail::new(format_args!("populate_physmap: {}", d.0)))?;
        let done_n = u64::try_from(done).unwrap_or(0).min(n as u64);
        for (i, &mfn) in extents[..done_n as usize].iter().enumerate() {
            self.set_mfn(first + i as u64, mfn)?;
        }
        self.plan.took(done_n);
        if done_n < n as u64 {
            return Err(Detail::new(format_args!(
                "populate_physmap of {} frames returned {}",
                n,
                Ret(done)
            )));
        }
        Ok(done_n)
    }
}
