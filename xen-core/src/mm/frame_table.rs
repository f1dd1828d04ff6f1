//! The frame table: who owns each machine frame and what type of use it is pinned to.

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

/// The type a frame is currently used as. A frame has one type at a time, so a page-table
/// frame can never also be mapped writable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageType {
    /// No typed use.
    #[default]
    None,
    /// Mapped writable somewhere (`type_count` mappings).
    Writable,
    /// A page table of this level (1..=4), validated.
    PageTable(u8),
}

/// Bookkeeping of one machine frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameInfo {
    /// Who may map it.
    pub owner: Owner,
    /// What it is used as.
    pub page_type: PageType,
    /// References to `page_type` (writable mappings, or uses as a page table).
    pub type_count: u32,
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

    fn get_mut(&mut self, mfn: u64) -> Result<&mut FrameInfo, Errno> {
        usize::try_from(mfn)
            .ok()
            .and_then(|i| self.frames.get_mut(i))
            .ok_or(Errno::Inval)
    }

    /// Gives `mfn` to `owner` with no type.
    pub fn assign(&mut self, mfn: u64, owner: Owner) -> Result<(), Errno> {
        *self.get_mut(mfn)? = FrameInfo {
            owner,
            page_type: PageType::None,
            type_count: 0,
        };
        Ok(())
    }

    /// Checks that `dom` may map `mfn`, writable or not; changes nothing.
    pub fn check_map(&self, dom: DomId, mfn: u64, writable: bool) -> Result<(), Errno> {
        let info = self.get(mfn).ok_or(Errno::Inval)?;
        if !info.mappable_by(dom) {
            return Err(Errno::Inval);
        }
        // A page table is busy: it cannot become writable (Xen's answer is -EBUSY too).
        if writable && matches!(info.page_type, PageType::PageTable(_)) {
            return Err(Errno::Busy);
        }
        Ok(())
    }

    /// Takes a writable-type reference on `mfn` (after [`Self::check_map`] said yes).
    pub fn get_writable(&mut self, mfn: u64) -> Result<(), Errno> {
        let info = self.get_mut(mfn)?;
        match info.page_type {
            PageType::None | PageType::Writable => {
                info.page_type = PageType::Writable;
                info.type_count = info.type_count.saturating_add(1);
                Ok(())
            }
            PageType::PageTable(_) => Err(Errno::Inval),
        }
    }

    /// Drops a writable-type reference on `mfn`; the frame loses its type with the last one.
    pub fn put_writable(&mut self, mfn: u64) {
        if let Ok(info) = self.get_mut(mfn)
            && info.page_type == PageType::Writable
        {
            info.type_count = info.type_count.saturating_sub(1);
            if info.type_count == 0 {
                info.page_type = PageType::None;
            }
        }
    }

    /// Types `mfn` as a page table of `level`; it must not be mapped writable.
    pub fn set_page_table(&mut self, mfn: u64, level: u8) -> Result<(), Errno> {
        let info = self.get_mut(mfn)?;
        match info.page_type {
            PageType::None => {
                info.page_type = PageType::PageTable(level);
                info.type_count = 1;
                Ok(())
            }
            PageType::PageTable(l) if l == level => {
                info.type_count = info.type_count.saturating_add(1);
                Ok(())
            }
            _ => Err(Errno::Inval),
        }
    }

    /// Is `mfn` a page table of `level` owned by `dom`?
    pub fn is_page_table(&self, dom: DomId, mfn: u64, level: u8) -> bool {
        self.get(mfn).is_some_and(|i| {
            i.owner == Owner::Domain(dom) && i.page_type == PageType::PageTable(level)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tables_are_never_writable() {
        let mut frames = [FrameInfo::default(); 8];
        let mut t = FrameTable::new(&mut frames);
        t.assign(1, Owner::Domain(0)).unwrap();
        t.assign(2, Owner::Domain(0)).unwrap();
        t.set_page_table(1, 4).unwrap();
        assert_eq!(t.check_map(0, 1, true), Err(Errno::Busy));
        assert_eq!(t.check_map(0, 1, false), Ok(()));
        assert!(t.is_page_table(0, 1, 4));
        assert!(!t.is_page_table(0, 1, 1));
        t.get_writable(2).unwrap();
        assert_eq!(t.set_page_table(2, 1), Err(Errno::Inval));
        t.put_writable(2);
        assert_eq!(t.set_page_table(2, 1), Ok(()));
    }

    #[test]
    fn foreign_and_out_of_range_frames_are_refused() {
        let mut frames = [FrameInfo::default(); 4];
        let mut t = FrameTable::new(&mut frames);
        t.assign(0, Owner::Xen).unwrap();
        t.assign(1, Owner::Domain(1)).unwrap();
        t.assign(2, Owner::SharedWith(0)).unwrap();
        assert_eq!(t.check_map(0, 0, false), Err(Errno::Inval));
        assert_eq!(t.check_map(0, 1, false), Err(Errno::Inval));
        assert_eq!(t.check_map(0, 2, true), Ok(()));
        assert_eq!(t.check_map(0, 4, false), Err(Errno::Inval));
        assert_eq!(t.check_map(0, u64::MAX, false), Err(Errno::Inval));
        assert_eq!(t.assign(99, Owner::Xen), Err(Errno::Inval));
    }

    #[test]
    fn writable_count_is_balanced() {
        let mut frames = [FrameInfo::default(); 2];
        let mut t = FrameTable::new(&mut frames);
        t.assign(0, Owner::Domain(3)).unwrap();
        t.get_writable(0).unwrap();
        t.get_writable(0).unwrap();
        t.put_writable(0);
        assert_eq!(t.get(0).unwrap().page_type, PageType::Writable);
        t.put_writable(0);
        assert_eq!(t.get(0).unwrap().page_type, PageType::None);
        t.put_writable(0);
        assert_eq!(t.get(0).unwrap().type_count, 0);
    }
}
