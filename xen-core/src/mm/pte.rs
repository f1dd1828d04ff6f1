//! Validation of the page-table entries a PV guest asks xen-core to write on its behalf.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::mmu::{PTE_ADDR_MASK, PteFlags};

use super::frame_table::FrameTable;

/// Bits 52..=62 of a PTE: reserved or protection keys, never accepted from a guest.
pub const L1_DISALLOW_MASK: u64 = 0x7FF0_0000_0000_0000;

/// A checked L1 entry, ready to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L1Entry {
    /// Not present: maps nothing.
    Empty(u64),
    /// Maps guest-owned `mfn`; `writable` says whether a writable-type reference is needed.
    Frame {
        /// The entry to write (with `_PAGE_USER` forced on, since PV kernels run at CPL 3).
        value: u64,
        /// The machine frame mapped.
        mfn: u64,
        /// Whether the mapping is writable.
        writable: bool,
    },
}

impl L1Entry {
    /// The value to store in the page table.
    pub fn value(&self) -> u64 {
        match *self {
            L1Entry::Empty(v) => v,
            L1Entry::Frame { value, .. } => value,
        }
    }
}

/// The machine frame an entry points at.
pub fn pte_mfn(value: u64) -> u64 {
    (value & PTE_ADDR_MASK) >> 12
}

/// Checks `value` as a new L1 entry of `dom`. The frame must be `dom`'s (or shared with it by
/// xen-core), a page-table frame is never mapped writable, and reserved bits are refused.
pub fn check_l1e(frames: &FrameTable<'_>, dom: DomId, value: u64) -> Result<L1Entry, Errno> {
    let flags = PteFlags::from_bits_retain(value);
    if !flags.contains(PteFlags::PRESENT) {
        return Ok(L1Entry::Empty(value));
    }
    if value & L1_DISALLOW_MASK != 0 {
        return Err(Errno::Inval);
    }
    let mfn = pte_mfn(value);
    let writable = flags.contains(PteFlags::RW);
    frames.check_map(dom, mfn, writable)?;
    Ok(L1Entry::Frame {
        value: value | PteFlags::USER.bits(),
        mfn,
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::frame_table::{FrameInfo, Owner};

    fn table(frames: &mut [FrameInfo]) -> FrameTable<'_> {
        let mut t = FrameTable::new(frames);
        t.assign(5, Owner::Domain(0)).unwrap();
        t.assign(6, Owner::Domain(0)).unwrap();
        t.set_page_table(6, 1).unwrap();
        t.assign(7, Owner::Domain(1)).unwrap();
        t
    }

    #[test]
    fn accepts_own_frames_and_forces_user() {
        let mut f = [FrameInfo::default(); 16];
        let t = table(&mut f);
        let e = check_l1e(&t, 0, (5 << 12) | 0x3).unwrap();
        assert_eq!(
            e,
            L1Entry::Frame {
                value: (5 << 12) | 0x7,
                mfn: 5,
                writable: true
            }
        );
        assert_eq!(
            check_l1e(&t, 0, (6 << 12) | 0x1).unwrap().value(),
            (6 << 12) | 0x5
        );
        assert_eq!(
            check_l1e(&t, 0, 0xdead_0000).unwrap(),
            L1Entry::Empty(0xdead_0000)
        );
    }

    #[test]
    fn refuses_bad_entries() {
        let mut f = [FrameInfo::default(); 16];
        let t = table(&mut f);
        assert_eq!(check_l1e(&t, 0, (6 << 12) | 0x3), Err(Errno::Busy));
        assert_eq!(check_l1e(&t, 0, (7 << 12) | 0x1), Err(Errno::Inval));
        assert_eq!(check_l1e(&t, 0, (99 << 12) | 0x1), Err(Errno::Inval));
        assert_eq!(
            check_l1e(&t, 0, (5 << 12) | 0x1 | (1 << 55)),
            Err(Errno::Inval)
        );
    }
}
