//! A domain's grant table: its shared v1 frames (grown by setup_table), its active entries and its version.
//!
//! Facts from Xen 4.17 (`common/grant_table.c`), in our words:
//! - Limits per domain: at most `gnttab_max_frames` shared frames (default 64) and
//!   `gnttab_max_maptrack_frames` maptrack frames (default 1024). A domain's limits must lie in
//!   1..=64 and 0..=1024 (creation fails with -EINVAL otherwise).
//! - A new table has one shared frame (`INITIAL_NR_GRANT_FRAMES` on x86), zeroed and shared
//!   writable with the domain; it grows, never shrinks. Growing allocates every new frame first
//!   and gives all of them back if one allocation fails (-ENOMEM), so a failed growth changes
//!   nothing.
//! - A v1 frame holds 512 entries; `nr_entries = 512 * nr_frames`.
//! - Version: a table is v1 from creation. set_version(1) on a v1 table is a no-op success;
//!   set_version(2) is -ENOSYS when v2 is not available to the domain (Xen's `max_version` 1,
//!   which is what we always are); any other number is -EINVAL. In every case the version in
//!   force (1) is written back. get_version reports 1.

use alloc::vec::Vec;

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::{GNTST_BAD_GNTREF, GNTST_GENERAL_ERROR, GrantRef};

use super::active::ActiveEntry;
use super::entry::{
    ENTRIES_PER_FRAME, ENTRY_BYTES, EntrySlot, EntryUse, GrantEntries, clear_unused, mark_in_use,
};

/// Xen 4.17's default and highest `gnttab_max_frames`.
pub const DEFAULT_MAX_GRANT_FRAMES: u32 = 64;
/// Xen 4.17's default and highest `gnttab_max_maptrack_frames`.
pub const DEFAULT_MAX_MAPTRACK_FRAMES: u32 = 1024;
/// Shared frames a new table starts with on x86.
pub const INITIAL_NR_GRANT_FRAMES: u32 = 1;
/// The only grant table version implemented.
pub const GRANT_TABLE_VERSION: u32 = 1;

/// A domain's grant limits (Xen's `max_grant_frames` and `max_maptrack_frames`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantLimits {
    max_grant_frames: u32,
    max_maptrack_frames: u32,
}

impl GrantLimits {
    /// Xen's defaults: 64 grant frames, 1024 maptrack frames.
    pub const DEFAULT: GrantLimits = GrantLimits {
        max_grant_frames: DEFAULT_MAX_GRANT_FRAMES,
        max_maptrack_frames: DEFAULT_MAX_MAPTRACK_FRAMES,
    };

    /// Checked limits: grant frames in 1..=64, maptrack frames in 0..=1024, else -EINVAL.
    pub fn new(max_grant_frames: u32, max_maptrack_frames: u32) -> Result<Self, Errno> {
        if !(INITIAL_NR_GRANT_FRAMES..=DEFAULT_MAX_GRANT_FRAMES).contains(&max_grant_frames)
            || max_maptrack_frames > DEFAULT_MAX_MAPTRACK_FRAMES
        {
            return Err(Errno::Inval);
        }
        Ok(GrantLimits {
            max_grant_frames,
            max_maptrack_frames,
        })
    }

    /// Most shared grant frames the domain may have.
    pub const fn max_grant_frames(&self) -> u32 {
        self.max_grant_frames
    }

    /// Most maptrack frames (256 handles each) the domain may use for its own mappings.
    pub const fn max_maptrack_frames(&self) -> u32 {
        self.max_maptrack_frames
    }
}

impl Default for GrantLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where the shared grant frames come from: the binary allocates a frame, zeroes it and shares
/// it writable with the domain (Xen: `alloc_xenheap_page`, `clear_page`,
/// `share_xen_page_with_guest(.., SHARE_rw)`; here `Mm::share_with`).
pub trait SharedFrameAlloc {
    /// A fresh zeroed frame shared with the table's domain, or None when memory is short.
    fn alloc_shared_frame(&mut self) -> Option<u64>;
    /// Takes back a frame from [`Self::alloc_shared_frame`] that the table did not keep.
    fn free_shared_frame(&mut self, mfn: u64);
}

/// Result of set_version: the status and the version to write back to the guest (always the
/// version in force, also on error, as Xen does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetVersion {
    /// 0 or -errno for the hypercall.
    pub result: Result<(), Errno>,
    /// Value for `gnttab_set_version.version`.
    pub version: u32,
}

/// A pin just taken on an entry (see [`GrantTable::pin`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pinned {
    /// The granted frame.
    pub frame: u64,
    /// The entry had no pin before.
    pub first: bool,
    /// The shared entry's in-use flags were (re)checked and set (first pin, or first writable
    /// pin on a read-only pinned entry).
    pub checked: bool,
}

/// One domain's grant table. The caller holds its lock for every call.
#[derive(Debug)]
pub struct GrantTable {
    limits: GrantLimits,
    frames: Vec<u64>,
    active: Vec<ActiveEntry>,
}

impl GrantTable {
    /// A table with [`INITIAL_NR_GRANT_FRAMES`] shared frame. -ENOMEM when the frame or the
    /// bookkeeping cannot be allocated (nothing kept).
    pub fn new(limits: GrantLimits, alloc: &mut impl SharedFrameAlloc) -> Result<Self, Errno> {
        let mut table = GrantTable {
            limits,
            frames: Vec::new(),
            active: Vec::new(),
        };
        table.grow(INITIAL_NR_GRANT_FRAMES, alloc)?;
        Ok(table)
    }

    /// The table's limits.
    pub const fn limits(&self) -> GrantLimits {
        self.limits
    }

    /// Shared frames now.
    pub fn nr_frames(&self) -> u32 {
        self.frames.len() as u32
    }

    /// Most shared frames allowed.
    pub const fn max_frames(&self) -> u32 {
        self.limits.max_grant_frames
    }

    /// Grant entries now (512 per frame); valid references are below this.
    pub fn nr_entries(&self) -> u32 {
        self.nr_frames() * ENTRIES_PER_FRAME
    }

    /// The shared frames, in guest order (frame `i` holds references `512 * i ..`).
    pub fn frames(&self) -> &[u64] {
        &self.frames
    }

    /// Version in force: always 1.
    pub const fn version(&self) -> u32 {
        GRANT_TABLE_VERSION
    }

    /// GNTTABOP_set_version (see the module documentation).
    pub fn set_version(&self, version: u32) -> SetVersion {
        let result = match version {
            GRANT_TABLE_VERSION => Ok(()),
            2 => Err(Errno::NoSys),
            _ => Err(Errno::Inval),
        };
        SetVersion {
            result,
            version: self.version(),
        }
    }

    /// Where entry `gref` lives, if `gref` is in the table.
    pub fn slot(&self, gref: GrantRef) -> Option<EntrySlot> {
        let frame = self.frames.get((gref / ENTRIES_PER_FRAME) as usize)?;
        Some(EntrySlot {
            mfn: *frame,
            offset: (gref % ENTRIES_PER_FRAME) as usize * ENTRY_BYTES,
        })
    }

    /// The active entry of `gref`, if `gref` is in the table.
    pub fn active(&self, gref: GrantRef) -> Option<&ActiveEntry> {
        self.active.get(gref as usize)
    }

    /// Pinned entries, in reference order.
    pub fn pinned(&self) -> impl Iterator<Item = (GrantRef, &ActiveEntry)> {
        self.active
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_pinned())
            .map(|(i, a)| (i as GrantRef, a))
    }

    /// Is `mfn` the frame of a pinned grant (mapped or being copied by another domain)?
    /// The mm layer may use it to explain why a frame stays referenced; the references the
    /// grant holds are what actually keep the frame from being freed or retyped.
    pub fn frame_in_use(&self, mfn: u64) -> bool {
        self.pinned().any(|(_, a)| a.frame() == Some(mfn))
    }

    /// Grows the table to `nr_frames` shared frames (Xen's `gnttab_grow_table`). No-op when it
    /// already has that many; -EINVAL above the limit; -ENOMEM when an allocation fails, with
    /// every frame allocated here given back.
    pub fn grow(&mut self, nr_frames: u32, alloc: &mut impl SharedFrameAlloc) -> Result<(), Errno> {
        if nr_frames > self.limits.max_grant_frames {
            return Err(Errno::Inval);
        }
        let have = self.frames.len();
        let want = nr_frames as usize;
        if want <= have {
            return Ok(());
        }
        let entries = want * ENTRIES_PER_FRAME as usize;
        self.frames
            .try_reserve_exact(want - have)
            .map_err(|_| Errno::NoMem)?;
        self.active
            .try_reserve_exact(entries - self.active.len())
            .map_err(|_| Errno::NoMem)?;
        while self.frames.len() < want {
            match alloc.alloc_shared_frame() {
                Some(mfn) => self.frames.push(mfn),
                None => {
                    for mfn in self.frames.drain(have..) {
                        alloc.free_shared_frame(mfn);
                    }
                    return Err(Errno::NoMem);
                }
            }
        }
        self.active.resize(entries, ActiveEntry::default());
        Ok(())
    }

    /// Takes one host pin on `gref` for `user` (the first half of Xen's map_grant_ref and
    /// acquire_grant_for_copy): reference in range (else `GNTST_bad_gntref`); an existing pin
    /// must be `user`'s and not near overflow (else `GNTST_general_error`); the shared entry is
    /// checked and marked in use when it had no pin, or had no writable pin and this one is
    /// writable; on the first pin the frame is read from the entry and recorded. Page
    /// references are the caller's: it drops the pin again with [`Self::unpin`] if it cannot
    /// get them.
    pub fn pin<E: GrantEntries + ?Sized>(
        &mut self,
        entries: &mut E,
        gref: GrantRef,
        user: DomId,
        readonly: bool,
        mapping: bool,
    ) -> Result<Pinned, i16> {
        let slot = self.slot(gref).ok_or(GNTST_BAD_GNTREF)?;
        let act = self.active.get_mut(gref as usize).ok_or(GNTST_BAD_GNTREF)?;
        if !act.may_pin(user) {
            return Err(GNTST_GENERAL_ERROR);
        }
        let first = !act.is_pinned();
        let checked = first || (!readonly && !act.has_writers());
        if checked {
            let how = EntryUse {
                user,
                readonly,
                mapping,
                pinned: !first,
            };
            mark_in_use(entries, slot, how)?;
            if first {
                act.start(user, u64::from(entries.read_frame(slot)));
            }
        }
        act.add_host(readonly);
        let frame = act.frame().unwrap_or_default();
        Ok(Pinned {
            frame,
            first,
            checked,
        })
    }

    /// Drops one host pin taken by [`Self::pin`] and clears the entry's in-use flags that no
    /// remaining pin covers. False (nothing changed) when `gref` has no such pin.
    pub fn unpin<E: GrantEntries + ?Sized>(
        &mut self,
        entries: &mut E,
        gref: GrantRef,
        readonly: bool,
    ) -> bool {
        let Some(slot) = self.slot(gref) else {
            return false;
        };
        let Some(act) = self.active.get_mut(gref as usize) else {
            return false;
        };
        if !act.drop_host(readonly) {
            return false;
        }
        clear_unused(entries, slot, readonly, act.has_writers(), act.is_pinned());
        true
    }

    /// Tears the table down and hands back its shared frames (for the caller to release once
    /// the domain is gone). Pinned entries should be gone first: see [`Self::pinned`].
    pub fn into_frames(self) -> Vec<u64> {
        self.frames
    }

    /// Empties the table in place for a dying domain and hands back its shared frames: no
    /// frame and no entry is left, so every reference is out of range from now on. None (and
    /// nothing changed) while an entry is pinned: a mapper still needs the shared entry to
    /// clear its in-use flags, so the frames must outlive the pins.
    pub fn release_frames(&mut self) -> Option<Vec<u64>> {
        if self.pinned().next().is_some() {
            return None;
        }
        self.active = Vec::new();
        Some(core::mem::take(&mut self.frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::mock::{Frames, MockEntries};
    use hypercall_abi::grant_table::{GTF_PERMIT_ACCESS, GTF_READING, GTF_WRITING};

    #[test]
    fn limits_are_checked_like_grant_table_init() {
        assert_eq!(GrantLimits::default(), GrantLimits::new(64, 1024).unwrap());
        assert_eq!(GrantLimits::new(0, 10), Err(Errno::Inval));
        assert_eq!(GrantLimits::new(65, 10), Err(Errno::Inval));
        assert_eq!(GrantLimits::new(4, 1025), Err(Errno::Inval));
        let l = GrantLimits::new(1, 0).unwrap();
        assert_eq!((l.max_grant_frames(), l.max_maptrack_frames()), (1, 0));
    }

    #[test]
    fn a_new_table_has_one_frame_of_512_entries() {
        let mut alloc = Frames::new(100);
        let t = GrantTable::new(GrantLimits::DEFAULT, &mut alloc).unwrap();
        assert_eq!(t.nr_frames(), 1);
        assert_eq!(t.max_frames(), 64);
        assert_eq!(t.nr_entries(), 512);
        assert_eq!(t.frames(), &[100]);
        assert_eq!(t.version(), 1);
        assert!(t.active(511).is_some() && t.active(512).is_none());
        assert_eq!(t.pinned().count(), 0);
    }

    #[test]
    fn slots_follow_frames_and_offsets() {
        let mut alloc = Frames::new(100);
        let mut t = GrantTable::new(GrantLimits::DEFAULT, &mut alloc).unwrap();
        t.grow(3, &mut alloc).unwrap();
        assert_eq!(t.frames(), &[100, 101, 102]);
        assert_eq!(
            t.slot(0),
            Some(EntrySlot {
                mfn: 100,
                offset: 0
            })
        );
        assert_eq!(
            t.slot(511),
            Some(EntrySlot {
                mfn: 100,
                offset: 4088
            })
        );
        assert_eq!(
            t.slot(513),
            Some(EntrySlot {
                mfn: 101,
                offset: 8
            })
        );
        assert_eq!(
            t.slot(1535),
            Some(EntrySlot {
                mfn: 102,
                offset: 4088
            })
        );
        assert_eq!(t.slot(1536), None);
        assert_eq!(t.slot(u32::MAX), None);
    }

    #[test]
    fn growth_is_bounded_and_all_or_nothing() {
        let mut alloc = Frames::new(100);
        let limits = GrantLimits::new(4, 0).unwrap();
        let mut t = GrantTable::new(limits, &mut alloc).unwrap();
        assert_eq!(t.grow(5, &mut alloc), Err(Errno::Inval));
        assert_eq!(t.grow(0, &mut alloc), Ok(()));
        assert_eq!(t.nr_frames(), 1);
        // Memory for only one more frame: growing to 4 fails and keeps nothing.
        alloc.budget = Some(1);
        assert_eq!(t.grow(4, &mut alloc), Err(Errno::NoMem));
        assert_eq!(t.nr_frames(), 1);
        assert_eq!(alloc.freed, vec![101]);
        assert_eq!(t.nr_entries(), 512);
        alloc.budget = None;
        assert_eq!(t.grow(4, &mut alloc), Ok(()));
        assert_eq!(t.nr_frames(), 4);
        assert_eq!(t.nr_entries(), 2048);
        assert!(t.active(2047).is_some());
        // No shrinking.
        assert_eq!(t.grow(2, &mut alloc), Ok(()));
        assert_eq!(t.nr_frames(), 4);
        assert_eq!(t.into_frames().len(), 4);
    }

    #[test]
    fn new_fails_cleanly_without_memory() {
        let mut alloc = Frames::new(100);
        alloc.budget = Some(0);
        assert!(matches!(
            GrantTable::new(GrantLimits::DEFAULT, &mut alloc),
            Err(Errno::NoMem)
        ));
        assert!(alloc.freed.is_empty());
    }

    #[test]
    fn set_version_only_knows_v1() {
        let mut alloc = Frames::new(100);
        let t = GrantTable::new(GrantLimits::DEFAULT, &mut alloc).unwrap();
        let ok = SetVersion {
            result: Ok(()),
            version: 1,
        };
        assert_eq!(t.set_version(1), ok);
        assert_eq!(
            t.set_version(2),
            SetVersion {
                result: Err(Errno::NoSys),
                version: 1
            }
        );
        for v in [0, 3, u32::MAX] {
            assert_eq!(t.set_version(v).result, Err(Errno::Inval));
            assert_eq!(t.set_version(v).version, 1);
        }
    }

    #[test]
    fn release_frames_waits_for_the_pins() {
        let mut alloc = Frames::new(100);
        let mut t = GrantTable::new(GrantLimits::DEFAULT, &mut alloc).unwrap();
        t.grow(2, &mut alloc).unwrap();
        let mut e = MockEntries::default();
        let slot = t.slot(600).unwrap();
        e.set(slot, GTF_PERMIT_ACCESS, 2, 0x555);
        t.pin(&mut e, 600, 2, true, true).unwrap();
        assert_eq!(t.release_frames(), None);
        assert_eq!(t.nr_frames(), 2);
        assert!(t.unpin(&mut e, 600, true));
        assert_eq!(t.release_frames(), Some(vec![100, 101]));
        assert_eq!((t.nr_frames(), t.nr_entries()), (0, 0));
        assert_eq!(t.slot(0), None);
        assert!(t.active(0).is_none());
        assert_eq!(t.pin(&mut e, 0, 2, true, true), Err(GNTST_BAD_GNTREF));
        assert_eq!(t.release_frames(), Some(vec![]));
    }

    #[test]
    fn pin_and_unpin_track_counts_and_flags() {
        let mut alloc = Frames::new(100);
        let mut t = GrantTable::new(GrantLimits::DEFAULT, &mut alloc).unwrap();
        let mut e = MockEntries::default();
        let slot = t.slot(9).unwrap();
        e.set(slot, GTF_PERMIT_ACCESS, 2, 0x555);
        let p = t.pin(&mut e, 9, 2, true, true).unwrap();
        assert_eq!(
            p,
            Pinned {
                frame: 0x555,
                first: true,
                checked: true
            }
        );
        // The guest changing the frame later does not change what is pinned.
        e.set_frame(slot, 0x777);
        let p = t.pin(&mut e, 9, 2, false, true).unwrap();
        assert_eq!((p.frame, p.first, p.checked), (0x555, false, true));
        assert_eq!(e.flags(slot), GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING);
        let p = t.pin(&mut e, 9, 2, false, true).unwrap();
        assert!(!p.checked);
        assert_eq!(t.pin(&mut e, 9, 3, true, true), Err(GNTST_GENERAL_ERROR));
        assert_eq!(t.pin(&mut e, 512, 2, true, true), Err(GNTST_BAD_GNTREF));
        assert!(t.frame_in_use(0x555) && !t.frame_in_use(0x777));
        assert_eq!(t.active(9).unwrap().host_rw(), 2);
        assert!(t.unpin(&mut e, 9, false));
        assert_eq!(e.flags(slot), GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING);
        assert!(t.unpin(&mut e, 9, false));
        assert_eq!(e.flags(slot), GTF_PERMIT_ACCESS | GTF_READING);
        assert!(!t.unpin(&mut e, 9, false));
        assert!(t.unpin(&mut e, 9, true));
        assert_eq!(e.flags(slot), GTF_PERMIT_ACCESS);
        assert!(!t.unpin(&mut e, 9, true));
        assert!(!t.unpin(&mut e, 4096, true));
        assert!(!t.frame_in_use(0x555));
    }
}
