//! The frame table: who owns each machine frame, its reference counts and its current type.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;

/// Who owns a machine frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Owner {
    /// Free or unknown to anyone.
    #[default]
    None,
    /// xen-core's own memory (image, page tables, M2P, frame table).
    Xen,
    /// A domain's memory.
    Domain(DomId),
    /// A xen-core page a domain may map (its shared_info page). Never typed as a page table.
    SharedWith(DomId),
}

/// The type a frame is currently used as (Xen's `PGT_*` type). A frame has one type at a time
/// while `type_count > 0`, so a page-table or descriptor frame can never also be mapped writable.
/// With no type reference left the frame falls back to `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageType {
    /// No typed use.
    #[default]
    None,
    /// Mapped writable somewhere (`type_count` writable mappings or other writers).
    Writable,
    /// A page table of this level (1..=4).
    PageTable(u8),
    /// A GDT/LDT page (Xen's `PGT_seg_desc_page`): every descriptor in it was checked.
    SegDesc,
}

/// Bookkeeping of one machine frame: Xen's `count_info` and `type_info` in plain fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameInfo {
    /// Who may map it.
    pub owner: Owner,
    /// General references (Xen's `count_info`), including the one held while `allocated`.
    /// A frame with no reference is free.
    pub count: u32,
    /// Xen's `PGC_allocated`: the owner's own reference, dropped by decrease_reservation.
    pub allocated: bool,
    /// What it is used as.
    pub page_type: PageType,
    /// References to `page_type` (writable mappings, parent entries, pins, base pointers).
    pub type_count: u32,
    /// The contents were checked for `page_type` (always true for `Writable` once typed). False
    /// while a validation or devalidation is under way.
    pub validated: bool,
    /// Xen's `PGT_pinned`: the guest pinned this page table (holds one type and one general
    /// reference).
    pub pinned: bool,
    /// Xen's `linear_pt_count`: above 0, how many read-only same-level ("linear") entries this
    /// page table holds; below 0, how many such entries of other tables point at it. A table is
    /// never both, which keeps linear references from forming cycles.
    pub linear_count: i16,
}

impl FrameInfo {
    /// Can `dom` map this frame at all?
    pub fn mappable_by(&self, dom: DomId) -> bool {
        matches!(self.owner, Owner::Domain(d) | Owner::SharedWith(d) if d == dom)
    }
}

/// The frame table, indexed by machine frame number.
pub struct FrameTable<'a> {
    frames: &'a mut [FrameInfo],
}

impl<'a> FrameTable<'a> {
    /// A table over `frames`, all unowned.
    pub fn new(frames: &'a mut [FrameInfo]) -> Self {
        frames.fill(FrameInfo::default());
        FrameTable { frames }
    }

    /// Number of frames described.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when it describes no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The entry of `mfn`, if it is a frame of this machine.
    pub fn get(&self, mfn: u64) -> Option<&FrameInfo> {
        usize::try_from(mfn).ok().and_then(|i| self.frames.get(i))
    }

    /// The entry of `mfn` for change; only the page-type core (`mm::page_type`) keeps the
    /// counts consistent, so this stays inside the crate.
    pub(crate) fn get_mut(&mut self, mfn: u64) -> Option<&mut FrameInfo> {
        usize::try_from(mfn)
            .ok()
            .and_then(|i| self.frames.get_mut(i))
    }

    /// Gives `mfn` to `owner` with no reference and no type.
    pub fn assign(&mut self, mfn: u64, owner: Owner) -> Result<(), Errno> {
        *self.get_mut(mfn).ok_or(Errno::Inval)? = FrameInfo {
            owner,
            ..FrameInfo::default()
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_resets_and_bounds_are_checked() {
        let mut frames = [FrameInfo::default(); 4];
        let mut t = FrameTable::new(&mut frames);
        t.assign(1, Owner::Domain(1)).unwrap();
        t.assign(2, Owner::SharedWith(0)).unwrap();
        assert!(t.get(1).unwrap().mappable_by(1));
        assert!(!t.get(1).unwrap().mappable_by(0));
        assert!(t.get(2).unwrap().mappable_by(0));
        assert_eq!(t.get(1).unwrap().count, 0);
        assert_eq!(t.get(1).unwrap().page_type, PageType::None);
        assert!(t.get(4).is_none());
        assert!(t.get(u64::MAX).is_none());
        assert_eq!(t.assign(99, Owner::Xen), Err(Errno::Inval));
    }
}
