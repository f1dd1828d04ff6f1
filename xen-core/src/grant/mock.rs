//! Test doubles for the grant layer: shared entries that can race, frame allocation, page references, host PTEs and memory.

use std::collections::BTreeMap;

use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::{GNTST_GENERAL_ERROR, GrantRef};

use super::active::ActiveEntry;
use super::entry::{EntrySlot, GrantEntries, Header};
use super::ops::{FrameCopy, FrameRefs, GrantTables, HostMappings, PAGE_SIZE};
use super::request::MapFlags;
use super::table::{GrantLimits, GrantTable, SharedFrameAlloc};

/// Hands out shared frames `next, next + 1, ...`, optionally only `budget` of them.
pub struct Frames {
    next: u64,
    /// Frames still available (None: unlimited).
    pub budget: Option<u32>,
    /// Frames given back, in order.
    pub freed: Vec<u64>,
}

impl Frames {
    pub fn new(first: u64) -> Self {
        Frames {
            next: first,
            budget: None,
            freed: Vec::new(),
        }
    }
}

impl SharedFrameAlloc for Frames {
    fn alloc_shared_frame(&mut self) -> Option<u64> {
        if let Some(b) = self.budget.as_mut() {
            *b = b.checked_sub(1)?;
        }
        self.next += 1;
        Some(self.next - 1)
    }

    fn free_shared_frame(&mut self, mfn: u64) {
        self.freed.push(mfn);
    }
}

/// Grant entries by slot. `flips` are header values a racing guest stores, one just before
/// each of our next compare-and-swaps (on any entry).
#[derive(Default)]
pub struct MockEntries {
    entries: BTreeMap<EntrySlot, (u32, u32)>,
    pub flips: Vec<u32>,
    pub cmpxchgs: u32,
}

impl MockEntries {
    /// The guest writes a whole entry.
    pub fn set(&mut self, slot: EntrySlot, flags: u16, domid: DomId, frame: u32) {
        self.entries
            .insert(slot, (Header { flags, domid }.raw(), frame));
    }

    /// The guest rewrites the frame field only.
    pub fn set_frame(&mut self, slot: EntrySlot, frame: u32) {
        self.entries.entry(slot).or_default().1 = frame;
    }

    pub fn flags(&self, slot: EntrySlot) -> u16 {
        Header::from_raw(self.read_header(slot)).flags
    }
}

impl GrantEntries for MockEntries {
    fn read_header(&self, slot: EntrySlot) -> u32 {
        self.entries.get(&slot).map_or(0, |e| e.0)
    }

    fn read_frame(&self, slot: EntrySlot) -> u32 {
        self.entries.get(&slot).map_or(0, |e| e.1)
    }

    fn cmpxchg_header(&mut self, slot: EntrySlot, old: u32, new: u32) -> Result<(), u32> {
        self.cmpxchgs += 1;
        let e = self.entries.entry(slot).or_default();
        if !self.flips.is_empty() {
            e.0 = self.flips.remove(0);
        }
        if e.0 == old {
            e.0 = new;
            Ok(())
        } else {
            Err(e.0)
        }
    }

    fn clear_flags(&mut self, slot: EntrySlot, bits: u16) {
        self.entries.entry(slot).or_default().0 &= !u32::from(bits);
    }
}

/// A frame's references, as the page-type core would keep them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub owner: DomId,
    /// General references (1 = just the owner's allocation).
    pub count: u32,
    /// Writable type references.
    pub writable: u32,
    /// Typed as a page table: no writable type possible.
    pub page_table: bool,
}

/// Domains with grant tables, frames, the mapper's PTEs and memory.
pub struct World {
    pub tables: BTreeMap<DomId, (GrantTable, MockEntries)>,
    pub alloc: Frames,
    pub pages: BTreeMap<u64, Page>,
    /// Host mappings: address -> (frame, flags).
    pub ptes: BTreeMap<u64, (u64, MapFlags)>,
    pub fail_create: Option<i16>,
    pub fail_destroy: Option<i16>,
    pub mem: BTreeMap<u64, Vec<u8>>,
}

impl World {
    pub fn new() -> Self {
        World {
            tables: BTreeMap::new(),
            alloc: Frames::new(0x1000),
            pages: BTreeMap::new(),
            ptes: BTreeMap::new(),
            fail_create: None,
            fail_destroy: None,
            mem: BTreeMap::new(),
        }
    }

    pub fn add_domain(&mut self, dom: DomId, limits: GrantLimits) {
        let table = GrantTable::new(limits, &mut self.alloc).expect("table");
        self.tables.insert(dom, (table, MockEntries::default()));
    }

    /// A frame allocated to `owner` (one general reference).
    pub fn add_page(&mut self, mfn: u64, owner: DomId) {
        self.pages.insert(
            mfn,
            Page {
                owner,
                count: 1,
                writable: 0,
                page_table: false,
            },
        );
    }

    pub fn page(&self, mfn: u64) -> Page {
        self.pages[&mfn]
    }

    pub fn slot(&self, dom: DomId, gref: GrantRef) -> EntrySlot {
        self.tables[&dom].0.slot(gref).expect("gref in table")
    }

    /// The guest `dom` writes entry `gref`.
    pub fn grant(&mut self, dom: DomId, gref: GrantRef, flags: u16, domid: DomId, frame: u32) {
        let slot = self.slot(dom, gref);
        self.entries(dom).set(slot, flags, domid, frame);
    }

    pub fn entries(&mut self, dom: DomId) -> &mut MockEntries {
        &mut self.tables.get_mut(&dom).expect("domain").1
    }

    pub fn flags(&self, dom: DomId, gref: GrantRef) -> u16 {
        self.tables[&dom].1.flags(self.slot(dom, gref))
    }

    pub fn active(&self, dom: DomId, gref: GrantRef) -> ActiveEntry {
        *self.tables[&dom].0.active(gref).expect("gref in table")
    }

    pub fn table(&mut self, dom: DomId) -> &mut GrantTable {
        &mut self.tables.get_mut(&dom).expect("domain").0
    }

    pub fn bytes(&mut self, mfn: u64) -> &mut Vec<u8> {
        self.mem.entry(mfn).or_insert_with(|| vec![0; PAGE_SIZE])
    }
}

impl GrantTables for World {
    type Entries = MockEntries;

    fn with_table<R>(
        &mut self,
        dom: DomId,
        f: impl FnOnce(&mut GrantTable, &mut MockEntries) -> R,
    ) -> Option<R> {
        assert!(dom < 0x7FF0, "reserved id {dom:#x} reached with_table");
        self.tables.get_mut(&dom).map(|(t, e)| f(t, e))
    }
}

impl FrameRefs for World {
    fn get_page(&mut self, mfn: u64, owner: DomId) -> bool {
        match self.pages.get_mut(&mfn) {
            Some(p) if p.owner == owner && p.count > 0 => {
                p.count += 1;
                true
            }
            _ => false,
        }
    }

    fn get_writable(&mut self, mfn: u64, owner: DomId) -> bool {
        let p = self.pages.get_mut(&mfn).expect("referenced page");
        assert!(p.count > 1, "type reference without a general one");
        if p.owner != owner || p.page_table {
            return false;
        }
        p.writable += 1;
        true
    }

    fn put_writable(&mut self, mfn: u64) {
        let p = self.pages.get_mut(&mfn).expect("page");
        assert!(p.writable > 0, "type reference underflow on {mfn:#x}");
        p.writable -= 1;
    }

    fn put_page(&mut self, mfn: u64) {
        let p = self.pages.get_mut(&mfn).expect("page");
        assert!(p.count > 0, "reference underflow on {mfn:#x}");
        p.count -= 1;
    }
}

impl HostMappings for World {
    fn create_host_mapping(
        &mut self,
        host_addr: u64,
        mfn: u64,
        flags: MapFlags,
    ) -> Result<(), i16> {
        if let Some(status) = self.fail_create {
            return Err(status);
        }
        if self.ptes.contains_key(&host_addr) {
            return Err(GNTST_GENERAL_ERROR);
        }
        self.ptes.insert(host_addr, (mfn, flags));
        Ok(())
    }

    fn destroy_host_mapping(
        &mut self,
        host_addr: u64,
        mfn: u64,
        flags: MapFlags,
    ) -> Result<(), i16> {
        if let Some(status) = self.fail_destroy {
            return Err(status);
        }
        match self.ptes.get(&host_addr) {
            Some(&(m, f)) if m == mfn && f.readonly == flags.readonly => {
                self.ptes.remove(&host_addr);
                Ok(())
            }
            _ => Err(GNTST_GENERAL_ERROR),
        }
    }
}

impl FrameCopy for World {
    fn copy_bytes(
        &mut self,
        dest_mfn: u64,
        dest_offset: usize,
        src_mfn: u64,
        src_offset: usize,
        len: usize,
    ) {
        let data = self.bytes(src_mfn)[src_offset..src_offset + len].to_vec();
        self.bytes(dest_mfn)[dest_offset..dest_offset + len].copy_from_slice(&data);
    }
}
