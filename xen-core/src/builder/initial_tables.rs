//! The initial page tables of a new PV guest: its whole boot mapping, page tables read-only.

use heapless::Vec;

use super::boot_layout::BootLayout;
use crate::layout::{PAGE_SIZE, table_index};

/// Flags of an L4/L3/L2 entry: present, writable, accessed, dirty, user.
pub const UPPER_FLAGS: u64 = 0x67;
/// Flags of an ordinary L1 entry: present, writable, accessed, user.
pub const L1_FLAGS: u64 = 0x27;
/// Flags of the L1 entry of a page-table frame: present, accessed, user (read-only).
pub const L1_PT_FLAGS: u64 = 0x25;

/// Most page-table frames an initial mapping may use.
pub const MAX_TABLES: usize = 64;

/// Where the builder writes table entries (guest frames through the direct map on hardware).
pub trait TableMemory {
    /// Writes entry `index` of the page-table frame `mfn`.
    fn write_entry(&mut self, mfn: u64, index: usize, value: u64);
}

/// The frames that became page tables, with their level (4 = the root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltTables {
    /// The root (the guest's first CR3 is `l4_mfn << 12`).
    pub l4_mfn: u64,
    /// Every table frame and its level.
    pub tables: Vec<(u64, u8), MAX_TABLES>,
}

/// Builds the tables mapping `[v_start, v_end)` of `layout` in the page-table frames the layout
/// reserved. `mfn_of` is the guest's P2M; `xen_slots` are the hypervisor's L4 entries that go
/// into every guest L4.
pub fn build(
    layout: &BootLayout,
    mfn_of: &dyn Fn(u64) -> u64,
    xen_slots: &[(usize, u64)],
    mem: &mut dyn TableMemory,
) -> Option<BuiltTables> {
    let first_pt_pfn = layout.pfn_of(layout.page_tables);
    let mut next = 0u64;
    let mut take = |level: u8, tables: &mut Vec<(u64, u8), MAX_TABLES>| -> Option<u64> {
        if next >= layout.nr_pt_frames {
            return None;
        }
        let mfn = mfn_of(first_pt_pfn + next);
        next += 1;
        tables.push((mfn, level)).ok()?;
        Some(mfn)
    };
    let mut tables = Vec::new();
    let l4 = take(4, &mut tables)?;
    for &(slot, entry) in xen_slots {
        mem.write_entry(l4, slot, entry);
    }
    let (mut l3, mut l2, mut l1) = (None::<(u64, u64)>, None::<(u64, u64)>, None::<(u64, u64)>);
    let mut va = layout.v_start;
    while va < layout.v_end {
        if l3.is_none_or(|(key, _)| key != va >> 39) {
            let mfn = take(3, &mut tables)?;
            mem.write_entry(l4, table_index(va, 4), (mfn << 12) | UPPER_FLAGS);
            l3 = Some((va >> 39, mfn));
        }
        if l2.is_none_or(|(key, _)| key != va >> 30) {
            let mfn = take(2, &mut tables)?;
            mem.write_entry(l3?.1, table_index(va, 3), (mfn << 12) | UPPER_FLAGS);
            l2 = Some((va >> 30, mfn));
        }
        if l1.is_none_or(|(key, _)| key != va >> 21) {
            let mfn = take(1, &mut tables)?;
            mem.write_entry(l2?.1, table_index(va, 2), (mfn << 12) | UPPER_FLAGS);
            l1 = Some((va >> 21, mfn));
        }
        let pfn = layout.pfn_of(va);
        let flags = if layout.is_page_table_pfn(pfn) {
            L1_PT_FLAGS
        } else {
            L1_FLAGS
        };
        mem.write_entry(l1?.1, table_index(va, 1), (mfn_of(pfn) << 12) | flags);
        va += PAGE_SIZE;
    }
    Some(BuiltTables { l4_mfn: l4, tables })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::boot_layout::compute;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(HashMap<(u64, usize), u64>);
    impl TableMemory for Mem {
        fn write_entry(&mut self, mfn: u64, index: usize, value: u64) {
            assert!(index < 512);
            assert!(
                self.0.insert((mfn, index), value).is_none(),
                "entry written twice"
            );
        }
    }

    fn walk(mem: &Mem, l4: u64, va: u64) -> Option<u64> {
        let mut table = l4;
        for level in (1..=4).rev() {
            let e = *mem.0.get(&(table, table_index(va, level)))?;
            if level == 1 {
                return Some(e);
            }
            assert_eq!(e & 0xfff, UPPER_FLAGS);
            table = e >> 12;
        }
        None
    }

    #[test]
    fn maps_the_whole_boot_range_with_read_only_tables() {
        const BASE: u64 = 0xFFFF_FFFF_8000_0000;
        let layout = compute(BASE, BASE, BASE + 0x40_0000, 0, 16384, false).unwrap();
        let mfn_of = |pfn: u64| 0x1000 + pfn * 3; // scattered machine frames
        let mut mem = Mem::default();
        let built = build(&layout, &mfn_of, &[(256, 0xabc067)], &mut mem).unwrap();
        assert_eq!(built.l4_mfn, mfn_of(layout.pfn_of(layout.page_tables)));
        assert_eq!(built.tables.len() as u64, layout.nr_pt_frames);
        assert_eq!(mem.0[&(built.l4_mfn, 256)], 0xabc067);
        let mut va = layout.v_start;
        while va < layout.v_end {
            let pfn = layout.pfn_of(va);
            let e = walk(&mem, built.l4_mfn, va).expect("mapped");
            assert_eq!(e >> 12, mfn_of(pfn));
            let expect = if layout.is_page_table_pfn(pfn) {
                L1_PT_FLAGS
            } else {
                L1_FLAGS
            };
            assert_eq!(e & 0xfff, expect);
            va += PAGE_SIZE;
        }
        assert_eq!(walk(&mem, built.l4_mfn, layout.v_end), None);
        for (mfn, _) in &built.tables {
            let pfn = (mfn - 0x1000) / 3;
            assert!(layout.is_page_table_pfn(pfn));
        }
    }
}
