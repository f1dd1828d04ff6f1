//! The mapping domain's maptrack: handles it got from map_grant_ref and the grant each one maps.
//!
//! As in Xen 4.17: handles are indices into a table that grows one maptrack frame (256
//! entries of 16 bytes) at a time, up to the domain's `max_maptrack_frames`; a handle at or
//! above the current size, or of a free entry, is a bad handle. Handles come out in order
//! (0, 1, 2, ...) from fresh frames, and freed handles are reused in the order they were freed
//! (Xen's per-vCPU free lists append at the tail; we keep one list). Running out, by the limit
//! or by memory, makes the map fail with `GNTST_no_device_space`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::{GrantHandle, GrantRef};

use super::request::MapFlags;

/// Maptrack entries per 4 KiB frame (Xen's `MAPTRACK_PER_PAGE`, with 16-byte entries).
pub const MAPTRACK_PER_FRAME: u32 = 256;

/// One live mapping, as recorded under its handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The granting domain.
    pub granter: DomId,
    /// The grant reference mapped.
    pub gref: GrantRef,
    /// How it was mapped.
    pub flags: MapFlags,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    /// Handed out by [`Maptrack::reserve`], map still under way.
    Reserved,
    Used(Mapping),
}

/// A domain's maptrack. The caller holds its lock.
#[derive(Debug)]
pub struct Maptrack {
    max_frames: u32,
    slots: Vec<Slot>,
    free: VecDeque<GrantHandle>,
}

impl Maptrack {
    /// An empty maptrack that may grow to `max_frames` frames.
    pub const fn new(max_frames: u32) -> Self {
        Maptrack {
            max_frames,
            slots: Vec::new(),
            free: VecDeque::new(),
        }
    }

    /// Entries allocated so far (Xen's `maptrack_limit`): valid handles are below it.
    pub fn limit(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Largest number of entries this maptrack may have.
    pub fn capacity(&self) -> u64 {
        u64::from(self.max_frames) * u64::from(MAPTRACK_PER_FRAME)
    }

    /// Handles reserved or mapped.
    pub fn in_use(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Reserves a handle for a map under way: the oldest freed one, or the first of a new
    /// frame. None when the limit is reached or memory is short (nothing changed).
    pub fn reserve(&mut self) -> Option<GrantHandle> {
        if self.free.is_empty() {
            self.grow()?;
        }
        let handle = self.free.pop_front()?;
        let slot = self.slots.get_mut(handle as usize)?;
        *slot = Slot::Reserved;
        Some(handle)
    }

    /// Records the mapping under a reserved handle; false (nothing changed) if `handle` is not
    /// reserved.
    pub fn fill(&mut self, handle: GrantHandle, mapping: Mapping) -> bool {
        match self.slots.get_mut(handle as usize) {
            Some(slot @ Slot::Reserved) => {
                *slot = Slot::Used(mapping);
                true
            }
            _ => false,
        }
    }

    /// The mapping under `handle`, if it is one.
    pub fn get(&self, handle: GrantHandle) -> Option<Mapping> {
        match self.slots.get(handle as usize) {
            Some(Slot::Used(m)) => Some(*m),
            _ => None,
        }
    }

    /// Frees a reserved or used handle (a free or unknown one is left alone). It goes to the
    /// back of the free list.
    pub fn release(&mut self, handle: GrantHandle) {
        if let Some(slot) = self.slots.get_mut(handle as usize)
            && *slot != Slot::Free
        {
            *slot = Slot::Free;
            // Room was reserved when the frame was added: never allocates.
            self.free.push_back(handle);
        }
    }

    /// Every live mapping with its handle, in handle order.
    pub fn mappings(&self) -> impl Iterator<Item = (GrantHandle, Mapping)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Used(m) => Some((i as GrantHandle, *m)),
            _ => None,
        })
    }

    /// Adds one maptrack frame of free entries.
    fn grow(&mut self) -> Option<()> {
        let old = self.slots.len();
        let new = old.checked_add(MAPTRACK_PER_FRAME as usize)?;
        if new as u64 > self.capacity() {
            return None;
        }
        self.slots.try_reserve_exact(new - old).ok()?;
        // The free list may have to hold every entry at once.
        self.free.try_reserve(new - self.free.len()).ok()?;
        self.slots.resize(new, Slot::Free);
        self.free.extend((old as GrantHandle)..(new as GrantHandle));
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(gref: GrantRef) -> Mapping {
        Mapping {
            granter: 1,
            gref,
            flags: MapFlags::default(),
        }
    }

    #[test]
    fn handles_come_in_order_and_grow_a_frame_at_a_time() {
        let mut mt = Maptrack::new(2);
        assert_eq!(mt.limit(), 0);
        assert_eq!(mt.capacity(), 512);
        assert_eq!(mt.reserve(), Some(0));
        assert_eq!(mt.limit(), 256);
        assert_eq!(mt.reserve(), Some(1));
        assert_eq!(mt.in_use(), 2);
        for h in 2..256 {
            assert_eq!(mt.reserve(), Some(h));
        }
        assert_eq!(mt.limit(), 256);
        assert_eq!(mt.reserve(), Some(256));
        assert_eq!(mt.limit(), 512);
    }

    #[test]
    fn the_limit_is_enforced() {
        let mut mt = Maptrack::new(1);
        for h in 0..256 {
            assert_eq!(mt.reserve(), Some(h));
        }
        assert_eq!(mt.reserve(), None);
        assert_eq!(mt.limit(), 256);
        mt.release(17);
        assert_eq!(mt.reserve(), Some(17));
        let mut none = Maptrack::new(0);
        assert_eq!(none.reserve(), None);
        assert_eq!(none.limit(), 0);
    }

    #[test]
    fn freed_handles_are_reused_oldest_first() {
        let mut mt = Maptrack::new(1);
        let hs: Vec<_> = (0..4).map(|_| mt.reserve().unwrap()).collect();
        assert_eq!(hs, [0, 1, 2, 3]);
        mt.release(2);
        mt.release(0);
        // Fresh entries of the frame come before the freed ones.
        let next: Vec<_> = (0..252).map(|_| mt.reserve().unwrap()).collect();
        assert_eq!(next.first(), Some(&4));
        assert_eq!(next.last(), Some(&255));
        assert_eq!(mt.reserve(), Some(2));
        assert_eq!(mt.reserve(), Some(0));
        assert_eq!(mt.reserve(), None);
    }

    #[test]
    fn only_filled_handles_are_mappings() {
        let mut mt = Maptrack::new(1);
        let h = mt.reserve().unwrap();
        assert_eq!(mt.get(h), None);
        assert!(mt.fill(h, mapping(5)));
        assert!(!mt.fill(h, mapping(6)));
        assert!(!mt.fill(200, mapping(6)));
        assert!(!mt.fill(9999, mapping(6)));
        assert_eq!(mt.get(h), Some(mapping(5)));
        assert_eq!(mt.get(h + 1), None);
        assert_eq!(mt.get(u32::MAX), None);
        assert_eq!(mt.mappings().collect::<Vec<_>>(), [(h, mapping(5))]);
        mt.release(h);
        assert_eq!(mt.get(h), None);
        assert_eq!(mt.in_use(), 0);
        // Releasing again, or an unknown handle, changes nothing.
        mt.release(h);
        mt.release(u32::MAX);
        assert_eq!(mt.in_use(), 0);
        assert_eq!(mt.free.len(), 256);
    }
}
