//! Host tests of the page-type core against a mock memory, each checked by a full recount.

use std::collections::BTreeMap;

use super::*;
use crate::mm::pte::{GLOBAL, GUEST_KERNEL, PRESENT, PSE, USER};

/// Frames in the test machine.
const N: usize = 64;
/// Hypervisor L4 entries the mock hands out (one outside the range, to be ignored).
const XEN_SLOTS: [(usize, u64); 3] = [(256, 0xAA_A063), (261, 0xBB_B063), (300, 0xCC_C063)];

const P: u64 = PRESENT;
const U: u64 = USER;
const A: u64 = ACCESSED;
const D: u64 = DIRTY;

fn pte(mfn: u64, flags: u64) -> u64 {
    (mfn << 12) | flags
}

struct MockMem {
    pages: BTreeMap<u64, Box<[u64; ENTRIES]>>,
    slots: Vec<(usize, u64)>,
    freed: Vec<(u64, DomId)>,
    io_doms: Vec<DomId>,
}

impl PageMemory for MockMem {
    fn read(&self, mfn: u64, index: usize) -> u64 {
        assert!(mfn < N as u64 && index < ENTRIES, "read {mfn}/{index}");
        self.pages.get(&mfn).map_or(0, |p| p[index])
    }

    fn write(&mut self, mfn: u64, index: usize, value: u64) {
        assert!(mfn < N as u64 && index < ENTRIES, "write {mfn}/{index}");
        self.pages
            .entry(mfn)
            .or_insert_with(|| Box::new([0; ENTRIES]))[index] = value;
    }

    fn xen_l4_slots(&self) -> &[(usize, u64)] {
        &self.slots
    }

    fn free(&mut self, mfn: u64, owner: DomId) {
        self.freed.push((mfn, owner));
    }

    fn cache_attrs_allowed(&self, dom: DomId) -> bool {
        self.io_doms.contains(&dom)
    }
}

/// The machine: frame table, memory, and the references the test itself holds.
struct World {
    frames: FrameTable<'static>,
    mem: MockMem,
    /// (general, type) references held by the test, per frame.
    ext: BTreeMap<u64, (i64, i64)>,
}

impl World {
    fn new() -> Self {
        let slice = Box::leak(vec![FrameInfo::default(); N].into_boxed_slice());
        World {
            frames: FrameTable::new(slice),
            mem: MockMem {
                pages: BTreeMap::new(),
                slots: XEN_SLOTS.to_vec(),
                freed: Vec::new(),
                io_doms: Vec::new(),
            },
            ext: BTreeMap::new(),
        }
    }

    fn mm(&mut self) -> Mm<'_, MockMem> {
        Mm::new(&mut self.frames, &mut self.mem)
    }

    fn alloc(&mut self, dom: DomId, mfns: impl IntoIterator<Item = u64>) {
        for m in mfns {
            self.mm().allocate(dom, m).unwrap();
        }
    }

    /// A guest store into a frame it may write (not a table or descriptor page).
    fn set(&mut self, mfn: u64, index: usize, value: u64) {
        let ty = self.info(mfn).page_type;
        assert!(
            matches!(ty, PageType::None | PageType::Writable),
            "{mfn} is {ty:?}"
        );
        self.mem.write(mfn, index, value);
    }

    fn get(&self, mfn: u64, index: usize) -> u64 {
        self.mem.read(mfn, index)
    }

    fn page(&self, mfn: u64) -> [u64; ENTRIES] {
        self.mem.pages.get(&mfn).map_or([0; ENTRIES], |p| **p)
    }

    fn info(&self, mfn: u64) -> FrameInfo {
        *self.frames.get(mfn).unwrap()
    }

    fn snapshot(&self) -> Vec<FrameInfo> {
        (0..N as u64).map(|m| self.info(m)).collect()
    }

    fn ext_add(&mut self, mfn: u64, general: i64, ty: i64) {
        let e = self.ext.entry(mfn).or_default();
        e.0 += general;
        e.1 += ty;
    }

    /// Recounts every reference from the tables' contents and compares with the frame table.
    fn check(&self) {
        let mut general = vec![0i64; N];
        let mut types = vec![0i64; N];
        let mut lin_entries = vec![0i64; N];
        let mut lin_uses = vec![0i64; N];
        for f in 0..N {
            let i = self.info(f as u64);
            general[f] += i64::from(i.allocated) + i64::from(i.pinned);
            types[f] += i64::from(i.pinned);
            if matches!(i.owner, Owner::SharedWith(_)) && i.allocated {
                types[f] += 1; // the permanent writable reference of a shared frame
            }
            if let Some((g, t)) = self.ext.get(&(f as u64)) {
                general[f] += g;
                types[f] += t;
            }
        }
        for t in 0..N as u64 {
            let i = self.info(t);
            if i.count == 0 {
                // Unreferenced: at most an owner is left (the hypervisor's frames, `assign`).
                let bare = FrameInfo {
                    owner: i.owner,
                    ..FrameInfo::default()
                };
                assert_eq!(i, bare, "unreferenced frame {t} keeps state");
            }
            if i.type_count == 0 {
                assert_eq!(i.page_type, PageType::None, "{t}");
                assert!(
                    !i.validated && !i.pinned && i.linear_count == 0,
                    "{t}: {i:?}"
                );
                continue;
            }
            assert!(i.validated, "{t} typed but not validated: {i:?}");
            assert!(!i.pinned || matches!(i.page_type, PageType::PageTable(_)));
            match i.page_type {
                PageType::PageTable(l) => {
                    let Owner::Domain(dom) = i.owner else {
                        panic!("table {t} owned by {:?}", i.owner)
                    };
                    let cache_ok = self.mem.io_doms.contains(&dom);
                    let page = self.page(t);
                    for (idx, &e) in page.iter().enumerate() {
                        if l == 4 && is_xen_l4_slot(idx) {
                            let want = XEN_SLOTS
                                .iter()
                                .find(|(s, _)| *s == idx)
                                .map_or(0, |(_, v)| *v);
                            assert_eq!(e, want, "L4 {t} slot {idx}");
                            continue;
                        }
                        if !is_present(e) {
                            continue;
                        }
                        assert_eq!(e & disallow_mask(l, cache_ok), 0, "{t}[{idx}] {e:#x}");
                        assert_eq!(adjust_guest_entry(l, e), e, "{t}[{idx}] not adjusted");
                        let m = pte_mfn(e);
                        assert!(m < N as u64, "{t}[{idx}] maps {m}");
                        let mi = self.info(m);
                        if l == 1 {
                            general[m as usize] += 1;
                            if e & RW != 0 {
                                types[m as usize] += 1;
                                assert_eq!(mi.page_type, PageType::Writable, "{t}[{idx}]");
                            }
                            continue;
                        }
                        assert_eq!(mi.owner, i.owner, "{t}[{idx}] child of another domain");
                        if m == t {
                            assert_eq!(e & RW, 0, "{t}[{idx}] writable self-map");
                            continue;
                        }
                        if mi.page_type == PageType::PageTable(l) {
                            assert_eq!(e & RW, 0, "{t}[{idx}] writable linear entry");
                            lin_entries[t as usize] += 1;
                            lin_uses[m as usize] += 1;
                        } else {
                            assert_eq!(mi.page_type, PageType::PageTable(l - 1), "{t}[{idx}]");
                        }
                        general[m as usize] += 1;
                        types[m as usize] += 1;
                    }
                }
                PageType::SegDesc => {
                    for (idx, &d) in self.page(t).iter().enumerate() {
                        assert_eq!(check_descriptor(d, None), Some(d), "{t}[{idx}]");
                    }
                }
                PageType::Writable | PageType::None => {}
            }
        }
        for f in 0..N {
            let i = self.info(f as u64);
            assert_eq!(
                i64::from(i.count),
                general[f],
                "general count of {f}: {i:?}"
            );
            assert_eq!(
                i64::from(i.type_count),
                types[f],
                "type count of {f}: {i:?}"
            );
            assert!(
                lin_entries[f] == 0 || lin_uses[f] == 0,
                "{f} both linear kinds"
            );
            let lin = lin_entries[f] - lin_uses[f];
            assert_eq!(i64::from(i.linear_count), lin, "linear count of {f}");
        }
    }
}

/// Dom 0's tree: L4 10 -> L3 11 -> L2 12 -> L1s 13, 14 -> data 20..=27.
fn build_tree(w: &mut World) {
    w.alloc(0, [10, 11, 12, 13, 14]);
    w.alloc(0, 20..28);
    w.alloc(1, [40]);
    w.set(10, 0, pte(11, P | RW));
    w.set(10, 300, pte(11, P)); // the same L3 twice
    w.set(10, 256, pte(40, P | RW)); // guest junk in a hypervisor slot: ignored
    w.set(10, 271, 0xdead_beef);
    w.set(11, 0, pte(12, P | RW | U));
    w.set(12, 0, pte(13, P | RW));
    w.set(12, 1, pte(14, P | RW));
    w.set(12, 2, pte(13, P)); // the same L1 twice
    for i in 0..8 {
        w.set(13, i, pte(20 + i as u64, P | RW));
    }
    w.set(13, 8, pte(12, P)); // the L2 mapped read-only
    w.set(13, 9, pte(10, P)); // the root mapped read-only: a reference cycle
    w.set(
        13,
        10,
        pte(20, P | RW | U | 0xE00 | (0x7FE << 52) | (1 << 63)),
    );
    w.set(14, 0, pte(20, P)); // read-only alias of a writable frame
    w.set(14, 1, pte(14, P | A | D)); // the L1 maps itself read-only
    w.set(14, 2, 0x1234_5000); // not present: anything goes
}

#[test]
fn full_tree_pins_and_unpins_back_to_baseline() {
    let mut w = World::new();
    build_tree(&mut w);
    let before = w.snapshot();
    w.check();

    w.mm().pin(0, 10, 4).unwrap();
    w.check();
    let l4 = w.info(10);
    assert_eq!(l4.page_type, PageType::PageTable(4));
    assert!(l4.pinned && l4.validated);
    assert_eq!((l4.count, l4.type_count), (3, 1)); // allocation, pin, RO mapping from 13
    assert_eq!(w.info(11).type_count, 2);
    assert_eq!(w.info(13).type_count, 2);
    assert_eq!(w.info(14).count, 3); // allocation, L2 entry, its own RO self-mapping
    assert_eq!((w.info(20).count, w.info(20).type_count), (4, 2));
    assert_eq!(w.info(20).page_type, PageType::Writable);
    assert_eq!(w.info(40), before[40]);
    // Hypervisor slots replaced; the one outside the range is the guest's own entry.
    assert_eq!(w.get(10, 256), 0xAA_A063);
    assert_eq!(w.get(10, 261), 0xBB_B063);
    assert_eq!(w.get(10, 271), 0);
    assert_eq!(w.get(10, 300), pte(11, P | U | A));
    // Xen's adjustments were stored.
    assert_eq!(w.get(13, 0), pte(20, P | RW | U) | GUEST_KERNEL);
    assert_eq!(w.get(13, 10) & GLOBAL, GLOBAL);
    assert_eq!(w.get(12, 0), pte(13, P | RW | U));
    assert_eq!(w.get(14, 2), 0x1234_5000);
    assert_eq!(w.mm().table_level(0, 12), Some(2));
    assert_eq!(w.mm().table_level(1, 12), None);
    assert_eq!(w.mm().table_level(0, 20), None);

    let mut mm = w.mm();
    mm.unpin(0, 10).unwrap();
    assert!(mm.flush_tlb, "writable frames lost their type");
    w.check();
    assert_eq!(w.snapshot(), before);
    assert!(w.mem.freed.is_empty());
}

#[test]
fn page_tables_and_writable_frames_exclude_each_other() {
    let mut w = World::new();
    build_tree(&mut w);
    w.mm().pin(0, 12, 2).unwrap();
    let pinned = w.snapshot();
    // A table cannot be mapped writable.
    for target in [12, 13, 14] {
        assert_eq!(
            w.mm().mod_entry(0, 0, 14, 20, pte(target, P | RW), false),
            Err(Errno::Busy)
        );
    }
    assert_eq!(w.snapshot(), pinned);
    // A writable frame cannot become a table or a descriptor page.
    assert_eq!(w.mm().pin(0, 21, 1), Err(Errno::Inval));
    assert_eq!(w.mm().pin(0, 21, 2), Err(Errno::Inval));
    assert_eq!(
        w.mm().get_page_and_type(21, 0, PageType::SegDesc),
        Err(Errno::Inval)
    );
    assert_eq!(w.snapshot(), pinned);
    // Nor can an L1 become an L2 while it is one, nor an L2 be had as L1.
    assert_eq!(w.mm().pin(0, 13, 2), Err(Errno::Inval));
    assert_eq!(w.mm().pin(0, 12, 1), Err(Errno::Inval));
    // A read-only mapping of a table is fine.
    w.mm().mod_entry(0, 0, 14, 20, pte(13, P), false).unwrap();
    w.check();
    // Dropping the last writable mapping of 21 frees it for use as a table.
    let mut mm = w.mm();
    mm.mod_entry(0, 0, 13, 1, 0, false).unwrap();
    assert!(mm.flush_tlb);
    w.mm().pin(0, 21, 1).unwrap();
    w.check();
    w.mm().unpin(0, 21).unwrap();
    w.mm().unpin(0, 12).unwrap();
    w.check();
}

#[test]
fn self_mapping_writable_tables_fail_and_leave_nothing() {
    let mut w = World::new();
    w.alloc(0, 30..36);
    // An L1 mapping a data frame, then itself writable.
    w.set(30, 0, pte(35, P | RW));
    w.set(30, 5, pte(30, P | RW));
    let before = w.snapshot();
    assert_eq!(w.mm().pin(0, 30, 1), Err(Errno::Busy));
    assert_eq!(w.snapshot(), before);
    w.check();
    // An L4 mapping itself writable.
    w.set(31, 3, pte(32, P));
    w.set(31, 7, pte(31, P | RW));
    assert_eq!(w.mm().pin(0, 31, 4), Err(Errno::Inval));
    assert_eq!(w.snapshot(), before);
    w.check();
    // Read-only, the L4 self-map is a linear entry that takes no reference.
    w.set(31, 7, pte(31, P));
    w.mm().pin(0, 31, 4).unwrap();
    w.check();
    assert_eq!((w.info(31).count, w.info(31).type_count), (2, 1));
    assert_eq!(w.info(32).page_type, PageType::PageTable(3));
    w.mm().unpin(0, 31).unwrap();
    assert_eq!(w.snapshot(), before);
    // An L2 whose L1 child validates before a later entry fails: the child is untyped again.
    w.set(33, 0, pte(34, P | RW));
    w.set(34, 0, pte(35, P | RW));
    w.set(33, 1, pte(33, P | RW));
    assert_eq!(w.mm().pin(0, 33, 2), Err(Errno::Inval));
    assert_eq!(w.snapshot(), before);
    w.check();
}

#[test]
fn pinning_rules() {
    let mut w = World::new();
    w.alloc(0, [5, 6]);
    w.alloc(1, [7]);
    w.mm().pin(0, 5, 1).unwrap();
    let once = w.snapshot();
    assert_eq!(w.mm().pin(0, 5, 1), Err(Errno::Inval));
    assert_eq!(w.mm().pin(0, 5, 2), Err(Errno::Inval));
    assert_eq!(w.snapshot(), once);
    assert_eq!(w.mm().unpin(1, 5), Err(Errno::Inval));
    assert_eq!(w.mm().unpin(0, 6), Err(Errno::Inval));
    assert_eq!(w.mm().unpin(0, 7), Err(Errno::Inval));
    assert_eq!(w.mm().pin(0, 7, 1), Err(Errno::Inval)); // another domain's frame
    assert_eq!(w.mm().pin(0, 8, 1), Err(Errno::Inval)); // a free frame
    for level in [0, 5, 255] {
        assert_eq!(w.mm().pin(0, 6, level), Err(Errno::Inval));
    }
    for mfn in [N as u64, u64::MAX] {
        assert_eq!(w.mm().pin(0, mfn, 1), Err(Errno::Inval));
        assert_eq!(w.mm().unpin(0, mfn), Err(Errno::Inval));
    }
    assert_eq!(w.snapshot(), once);
    w.check();
    w.mm().unpin(0, 5).unwrap();
    assert_eq!(w.mm().unpin(0, 5), Err(Errno::Inval));
    w.check();
    assert_eq!(w.info(5).count, 1);
}

#[test]
fn hypervisor_l4_slots() {
    let mut w = World::new();
    w.alloc(0, [2, 3]);
    for slot in XEN_L4_FIRST..=XEN_L4_LAST {
        w.set(2, slot, pte(50, P | RW)); // not ours, not even allocated
    }
    w.mm().pin(0, 2, 4).unwrap();
    w.check();
    for slot in XEN_L4_FIRST..=XEN_L4_LAST {
        assert_eq!(
            w.mm().mod_entry(0, 0, 2, slot, 0, false),
            Err(Errno::Inval),
            "{slot}"
        );
        assert_eq!(
            w.mm().mod_entry(0, 0, 2, slot, pte(3, P), false),
            Err(Errno::Inval)
        );
    }
    assert_eq!(w.mm().mod_entry(0, 0, 2, 512, 0, false), Err(Errno::Inval));
    assert_eq!(
        w.mm().mod_entry(0, 0, 2, usize::MAX, 0, false),
        Err(Errno::Inval)
    );
    w.mm()
        .mod_entry(0, 0, 2, 255, pte(3, P | RW), false)
        .unwrap();
    w.mm()
        .mod_entry(0, 0, 2, 272, pte(3, P | RW), false)
        .unwrap();
    w.check();
    assert_eq!(w.info(3).type_count, 2);
    w.mm().unpin(0, 2).unwrap();
    w.check();
    assert_eq!(w.info(3).page_type, PageType::None);
}

#[test]
fn superpages_and_disallowed_bits_are_refused() {
    let mut w = World::new();
    w.alloc(0, 1..10);
    w.mm().pin(0, 1, 2).unwrap();
    w.mm().pin(0, 2, 1).unwrap();
    w.mm().pin(0, 3, 3).unwrap();
    w.mm().pin(0, 4, 4).unwrap();
    let base = w.snapshot();
    // L2 superpage.
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 0, pte(5, P | RW | PSE), false),
        Err(Errno::Inval)
    );
    // Disallowed bits per level.
    for (table, bits) in [
        (2, 0x8),
        (2, 0x10),
        (2, 0x80),
        (1, GLOBAL),
        (1, 0x8),
        (3, 0x10),
        (3, PSE),
        (4, GLOBAL),
        (4, 0x8),
    ] {
        let child = 5;
        assert_eq!(
            w.mm()
                .mod_entry(0, 0, table, 0, pte(child, P | bits), false),
            Err(Errno::Inval),
            "table {table} bits {bits:#x}"
        );
    }
    assert_eq!(w.snapshot(), base);
    // Allowed: global in an L1, available bits and NX everywhere.
    w.mm()
        .mod_entry(0, 0, 2, 0, pte(5, P | GLOBAL), false)
        .unwrap();
    let high = 0xE00 | (0x7FF << 52) | (1 << 63);
    w.mm()
        .mod_entry(0, 0, 2, 1, pte(5, P | high), false)
        .unwrap();
    w.mm()
        .mod_entry(0, 0, 1, 1, pte(6, P | high), false)
        .unwrap();
    w.check();
    // A domain with I/O capabilities may pick cache attributes in an L1 only.
    w.mem.io_doms.push(0);
    w.mm()
        .mod_entry(0, 0, 2, 2, pte(7, P | 0x98), false)
        .unwrap();
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 2, pte(8, P | 0x18), false),
        Err(Errno::Inval)
    );
    w.check();
    // An L2 that contains a superpage entry fails to validate.
    w.set(9, 4, pte(6, P | PSE));
    assert_eq!(w.mm().pin(0, 9, 2), Err(Errno::Inval));
    w.check();
}

#[test]
fn foreign_and_bogus_frames_are_refused() {
    let mut w = World::new();
    w.alloc(0, 1..6);
    w.alloc(1, [10, 11]);
    w.frames.assign(20, Owner::Xen).unwrap();
    w.mm().pin(0, 1, 1).unwrap();
    w.mm().pin(0, 2, 2).unwrap();
    let base = w.snapshot();
    for (target, want) in [
        (10, Errno::Busy),            // another domain's frame
        (12, Errno::Busy),            // a free frame
        (20, Errno::Busy),            // the hypervisor's frame
        (N as u64, Errno::Perm),      // outside RAM
        (0xF_FFFF_FFFF, Errno::Perm), // far outside RAM
        (INVALID_MFN, Errno::Inval),  // the all-ones frame number
    ] {
        for flags in [P, P | RW] {
            assert_eq!(
                w.mm().mod_entry(0, 0, 1, 0, pte(target, flags), false),
                Err(want),
                "{target:#x}"
            );
        }
    }
    // A child table of another domain, a free frame, a missing frame.
    for child in [10, 12, 20, N as u64, INVALID_MFN] {
        assert_eq!(
            w.mm().mod_entry(0, 0, 2, 0, pte(child, P | RW), false),
            Err(Errno::Inval)
        );
    }
    // Another domain's tables cannot be changed as ours.
    assert_eq!(w.mm().mod_entry(1, 1, 2, 0, 0, false), Err(Errno::Inval));
    assert_eq!(w.snapshot(), base);
    // With dom 1 as page owner, dom 0's L1 may map dom 1's frame (the caller checks privilege).
    w.mm()
        .mod_entry(0, 1, 1, 0, pte(10, P | RW), false)
        .unwrap();
    w.check();
    assert_eq!(w.info(10).type_count, 1);
    // An L1 with a foreign frame fails to validate.
    w.set(3, 7, pte(11, P));
    assert_eq!(w.mm().pin(0, 3, 1), Err(Errno::Busy));
    w.check();
}

#[test]
fn replacing_entries_keeps_counts_exact() {
    let mut w = World::new();
    w.alloc(0, 1..12);
    // L3 1 -> L2 2 -> L1 3 -> data 4; spare L2 5 -> L1 6 -> data 4 (RW) and 7.
    w.set(1, 0, pte(2, P | RW));
    w.set(2, 0, pte(3, P | RW));
    w.set(3, 0, pte(4, P | RW));
    w.set(5, 0, pte(6, P | RW));
    w.set(6, 0, pte(4, P | RW));
    w.set(6, 1, pte(7, P));
    w.mm().pin(0, 1, 3).unwrap();
    w.check();
    let pinned = w.snapshot();

    // Swap L2 2 for L2 5: 2 and 3 devalidated, 5 and 6 validated.
    let written = w.mm().mod_entry(0, 0, 1, 0, pte(5, P | RW), false).unwrap();
    assert_eq!(written, pte(5, P | RW | U));
    w.check();
    assert_eq!(w.info(2).page_type, PageType::None);
    assert_eq!(w.info(3).page_type, PageType::None);
    assert_eq!(w.info(6).page_type, PageType::PageTable(1));
    assert_eq!(w.info(4).type_count, 1);
    // And back.
    w.mm().mod_entry(0, 0, 1, 0, pte(2, P | RW), false).unwrap();
    w.check();
    assert_eq!(w.snapshot(), pinned);

    // The same child in a second slot, then the first slot cleared.
    w.mm().mod_entry(0, 0, 1, 1, pte(2, P), false).unwrap();
    w.mm().mod_entry(0, 0, 1, 0, 0, false).unwrap();
    w.check();
    assert_eq!(w.info(2).type_count, 1);

    // preserve_ad keeps the old accessed/dirty bits.
    w.mm()
        .mod_entry(0, 0, 3, 5, pte(8, P | RW | A | D), false)
        .unwrap();
    let got = w.mm().mod_entry(0, 0, 3, 5, pte(8, P | RW), true).unwrap();
    assert_eq!(got & (A | D), A | D);
    assert_eq!(w.get(3, 5), got);
    let got = w.mm().mod_entry(0, 0, 3, 5, pte(8, P | RW), false).unwrap();
    assert_eq!(got & (A | D), 0);
    // ... even into an entry that is being cleared.
    let got = w.mm().mod_entry(0, 0, 3, 6, pte(9, P | A), false).unwrap();
    assert_eq!(got & A, A);
    assert_eq!(w.mm().mod_entry(0, 0, 3, 6, 0, true), Ok(A));
    w.check();

    // Fast path: changing only accessed/dirty/NX keeps the references, even at their limit.
    let saved = w.info(8);
    w.frames.get_mut(8).unwrap().count = u32::MAX;
    w.frames.get_mut(8).unwrap().type_count = u32::MAX;
    w.mm()
        .mod_entry(0, 0, 3, 5, pte(8, P | RW | D | (1 << 63)), false)
        .unwrap();
    // A real change (to read-only) must take new references and is refused.
    assert_eq!(
        w.mm().mod_entry(0, 0, 3, 5, pte(8, P), false),
        Err(Errno::Busy)
    );
    *w.frames.get_mut(8).unwrap() = saved;
    w.check();
    // RW -> RO of the last writable mapping drops the writable type and asks for a flush.
    let mut mm = w.mm();
    mm.mod_entry(0, 0, 3, 5, pte(8, P), false).unwrap();
    assert!(mm.flush_tlb);
    assert_eq!(w.info(8).page_type, PageType::None);
    w.check();

    w.mm().unpin(0, 1).unwrap();
    w.check();
    for m in 1..12 {
        assert_eq!(w.info(m).count, 1, "{m}");
        assert_eq!(w.info(m).page_type, PageType::None, "{m}");
    }
}

#[test]
fn removing_a_mapped_frame_defers_the_free() {
    let mut w = World::new();
    w.alloc(0, [1, 2]);
    w.set(1, 0, pte(2, P | RW));
    w.set(1, 1, pte(2, P));
    w.mm().pin(0, 1, 1).unwrap();
    w.mm().remove_page(0, 2).unwrap();
    w.check();
    assert!(w.mem.freed.is_empty());
    assert_eq!(w.info(2).owner, Owner::Domain(0));
    assert!(!w.info(2).allocated);
    // Gone from the reservation already but still the domain's: a second removal is
    // accepted and changes nothing (Xen 4.17 answers the same).
    let before = w.snapshot();
    let mut mm = w.mm();
    assert_eq!(mm.remove_page(0, 2), Ok(()));
    assert!(!mm.flush_tlb);
    assert_eq!(w.snapshot(), before);
    assert!(w.mem.freed.is_empty());
    // Not the other domain's to remove.
    assert_eq!(w.mm().remove_page(1, 2), Err(Errno::Inval));
    assert_eq!(w.snapshot(), before);
    // New mappings are still possible while it lives (as in Xen).
    w.mm().mod_entry(0, 0, 1, 0, 0, false).unwrap();
    assert!(w.mem.freed.is_empty());
    let mut mm = w.mm();
    mm.mod_entry(0, 0, 1, 1, 0, false).unwrap();
    assert!(mm.flush_tlb);
    assert_eq!(w.mem.freed, vec![(2, 0)]);
    assert_eq!(w.info(2), FrameInfo::default());
    w.check();
    // The frame is free: it can be given out again, and nothing maps it.
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 0, pte(2, P), false),
        Err(Errno::Busy)
    );
    w.mm().allocate(1, 2).unwrap();
    w.check();
    // Bad removals.
    assert_eq!(w.mm().remove_page(0, 2), Err(Errno::Inval));
    assert_eq!(w.mm().remove_page(0, 9), Err(Errno::Inval));
    assert_eq!(w.mm().remove_page(0, N as u64), Err(Errno::Inval));
    w.mm().share_with(0, 9).unwrap();
    assert_eq!(w.mm().remove_page(0, 9), Err(Errno::Inval));
    w.check();
    assert_eq!(w.mem.freed, vec![(2, 0)]);
}

#[test]
fn removing_a_pinned_table_keeps_the_pin() {
    let mut w = World::new();
    w.alloc(0, 1..5);
    w.set(1, 0, pte(2, P | RW));
    w.set(2, 0, pte(3, P | RW));
    w.set(2, 1, pte(1, P)); // the L1 maps its parent read-only
    w.mm().pin(0, 1, 2).unwrap();
    let pinned = w.info(1);
    w.mm().remove_page(0, 1).unwrap();
    w.check();
    // Only the allocation reference went: the pin and the type stay, nothing is freed.
    assert!(w.mem.freed.is_empty());
    let removed = w.info(1);
    assert!(removed.pinned && removed.validated && !removed.allocated);
    assert_eq!(removed.page_type, PageType::PageTable(2));
    assert_eq!(removed.count, pinned.count - 1);
    assert_eq!(removed.type_count, pinned.type_count);
    assert_eq!(w.info(2).page_type, PageType::PageTable(1));
    assert_eq!(w.mm().table_level(0, 1), Some(2));
    // Removing it again is accepted and changes nothing; pinning it again is refused.
    let before = w.snapshot();
    assert_eq!(w.mm().remove_page(0, 1), Ok(()));
    assert_eq!(w.mm().pin(0, 1, 2), Err(Errno::Inval));
    assert_eq!(w.snapshot(), before);
    // The guest's unpin lets it go, with its whole tree.
    w.mm().unpin(0, 1).unwrap();
    w.check();
    assert_eq!(w.mem.freed, vec![(1, 0)]);
    assert_eq!(w.info(1), FrameInfo::default());
    assert_eq!(w.info(2).page_type, PageType::None);
    assert_eq!(w.info(3).count, 1);
    assert_eq!(w.mm().unpin(0, 1), Err(Errno::Inval));
    assert_eq!(w.mm().remove_page(0, 1), Err(Errno::Inval));
    w.check();
}

#[test]
fn a_removed_pinned_table_goes_with_its_last_reference() {
    let mut w = World::new();
    w.alloc(0, 1..5);
    w.set(2, 0, pte(3, P | RW));
    w.set(4, 0, pte(2, P | RW));
    w.mm().pin(0, 4, 2).unwrap();
    w.mm().pin(0, 2, 1).unwrap();
    w.mm().remove_page(0, 2).unwrap();
    w.check();
    // Parent gone: the child still has its pin.
    w.mm().unpin(0, 4).unwrap();
    w.check();
    assert!(w.mem.freed.is_empty());
    assert_eq!(w.info(2).page_type, PageType::PageTable(1));
    assert_eq!(w.info(2).count, 1);
    // Its pin is the last reference.
    w.mm().unpin(0, 2).unwrap();
    w.check();
    assert_eq!(w.mem.freed, vec![(2, 0)]);
    assert_eq!(w.info(3).count, 1);
    assert_eq!(w.info(3).page_type, PageType::None);
    // The other order: a removed child still pinned, parent and pin dropped child first.
    w.alloc(0, [2]);
    w.mm().pin(0, 4, 2).unwrap();
    w.mm().pin(0, 2, 1).unwrap();
    w.mm().remove_page(0, 2).unwrap();
    w.mm().unpin(0, 2).unwrap();
    w.check();
    assert_eq!(w.mem.freed, vec![(2, 0)]);
    assert_eq!(w.info(2).count, 1); // the parent's entry
    w.mm().unpin(0, 4).unwrap();
    w.check();
    assert_eq!(w.mem.freed, vec![(2, 0), (2, 0)]);
}

#[test]
fn removal_needs_a_frame_of_the_domain_in_use() {
    let mut w = World::new();
    w.alloc(0, [1]);
    w.alloc(1, [2]);
    w.frames.assign(3, Owner::Domain(0)).unwrap(); // owned, but no reference: free
    w.mm().share_with(0, 4).unwrap();
    let before = w.snapshot();
    for (dom, mfn) in [
        (0, 2),
        (1, 1),
        (0, 3),
        (0, 4),
        (1, 4),
        (0, 5),
        (0, N as u64),
    ] {
        assert_eq!(
            w.mm().remove_page(dom, mfn),
            Err(Errno::Inval),
            "{dom}/{mfn}"
        );
    }
    assert_eq!(w.snapshot(), before);
    assert!(w.mem.freed.is_empty());
    // An unmapped frame goes at once, exactly once.
    let mut mm = w.mm();
    mm.remove_page(0, 1).unwrap();
    assert!(mm.flush_tlb);
    assert_eq!(w.mem.freed, vec![(1, 0)]);
    assert_eq!(w.mm().remove_page(0, 1), Err(Errno::Inval));
    assert_eq!(w.mem.freed, vec![(1, 0)]);
    w.check();
}

#[test]
fn overflowing_counts_is_refused_with_nothing_changed() {
    let mut w = World::new();
    w.alloc(0, 1..6);
    w.set(1, 0, pte(3, P));
    w.set(2, 0, pte(4, P | RW));
    let before = w.snapshot();
    // General count of a mapped frame at its limit.
    w.frames.get_mut(3).unwrap().count = u32::MAX;
    assert_eq!(w.mm().pin(0, 1, 1), Err(Errno::Busy));
    assert_eq!(w.mm().get_page(3, 0), Err(Errno::Inval));
    w.frames.get_mut(3).unwrap().count = 1;
    assert_eq!(w.snapshot(), before);
    // Type count of a child at its limit.
    w.mm().pin(0, 2, 1).unwrap();
    w.set(5, 0, pte(2, P | RW));
    let pinned = w.snapshot();
    w.frames.get_mut(2).unwrap().type_count = u32::MAX;
    assert_eq!(w.mm().pin(0, 5, 2), Err(Errno::Inval));
    assert_eq!(
        w.mm().get_page_type(2, 0, PageType::PageTable(1)),
        Err(Errno::Inval)
    );
    w.frames.get_mut(2).unwrap().type_count = 1;
    assert_eq!(w.snapshot(), pinned);
    // Writable type count at its limit.
    w.frames.get_mut(4).unwrap().type_count = u32::MAX;
    assert_eq!(
        w.mm().mod_entry(0, 0, 2, 1, pte(4, P | RW), false),
        Err(Errno::Busy)
    );
    w.frames.get_mut(4).unwrap().type_count = 1;
    assert_eq!(w.snapshot(), pinned);
    // The table's own general count at its limit: still works, nothing leaks.
    w.frames.get_mut(2).unwrap().count = u32::MAX;
    w.mm().mod_entry(0, 0, 2, 1, pte(3, P), false).unwrap();
    w.mm().mod_entry(0, 0, 2, 1, 0, false).unwrap();
    w.frames.get_mut(2).unwrap().count = 2;
    assert_eq!(w.snapshot(), pinned);
    w.check();
    w.mm().unpin(0, 2).unwrap();
    assert_eq!(w.snapshot(), before);
}

#[test]
fn descriptor_pages() {
    let mut w = World::new();
    w.alloc(0, 1..5);
    let code_dpl0 = 0x00AF_9A00_0000_FFFF;
    let gate = 0x0000_EC00_0010_1234; // call gate to 0x10, DPL 3
    w.set(1, 0, code_dpl0);
    w.set(1, 1, gate);
    w.set(1, 2, 0); // upper half of the gate
    w.set(1, 3, 0x0000_8000_0000_0000); // present, system type 0
    w.mm().get_page_and_type(1, 0, PageType::SegDesc).unwrap();
    w.ext_add(1, 1, 1);
    w.check();
    assert_eq!(w.get(1, 0), code_dpl0 | (3 << 45));
    assert_eq!(w.get(1, 1), 0x0000_8C00_0013_1234);
    assert_eq!(w.get(1, 3), 0x0000_8000_0000_0000);
    // Not mappable writable, not a page table, while it is a descriptor page.
    w.mm().pin(0, 2, 1).unwrap();
    assert_eq!(
        w.mm().mod_entry(0, 0, 2, 0, pte(1, P | RW), false),
        Err(Errno::Busy)
    );
    w.mm().mod_entry(0, 0, 2, 0, pte(1, P), false).unwrap();
    assert_eq!(w.mm().pin(0, 1, 1), Err(Errno::Inval));
    // A second user of the same type shares it.
    w.mm().get_page_and_type(1, 0, PageType::SegDesc).unwrap();
    w.ext_add(1, 1, 1);
    w.check();
    w.mm().put_page_and_type(1);
    w.mm().put_page_and_type(1);
    w.ext_add(1, -2, -2);
    w.check();
    assert_eq!(w.info(1).page_type, PageType::None);
    // A refused descriptor: nothing stays typed.
    w.set(3, 0, code_dpl0);
    w.set(3, 100, 0x0000_E900_0000_0067); // an available 64-bit TSS
    let before = w.snapshot();
    assert_eq!(
        w.mm().get_page_and_type(3, 0, PageType::SegDesc),
        Err(Errno::Inval)
    );
    assert_eq!(w.snapshot(), before);
    // Writable first, then a descriptor page: refused while mapped writable.
    w.mm().mod_entry(0, 0, 2, 1, pte(4, P | RW), false).unwrap();
    assert_eq!(
        w.mm().get_page_and_type(4, 0, PageType::SegDesc),
        Err(Errno::Inval)
    );
    w.mm().unpin(0, 2).unwrap();
    w.mm().get_page_and_type(4, 0, PageType::SegDesc).unwrap();
    w.ext_add(4, 1, 1);
    w.check();
}

#[test]
fn linear_page_tables() {
    let mut w = World::new();
    w.alloc(0, 1..12);
    w.alloc(1, [20]);
    for l4 in [1, 2, 3] {
        w.mm().pin(0, l4, 4).unwrap();
    }
    // 1 -> 2 read-only: a linear entry.
    w.mm().mod_entry(0, 0, 1, 5, pte(2, P), false).unwrap();
    w.check();
    assert_eq!((w.info(1).linear_count, w.info(2).linear_count), (1, -1));
    assert_eq!(w.info(2).type_count, 2);
    // Writable: refused.
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 6, pte(3, P | RW), false),
        Err(Errno::Inval)
    );
    // 2 is a linear target: it may not hold linear entries; 1 holds some: it may not be one.
    assert_eq!(
        w.mm().mod_entry(0, 0, 2, 6, pte(3, P), false),
        Err(Errno::Inval)
    );
    assert_eq!(
        w.mm().mod_entry(0, 0, 3, 6, pte(1, P), false),
        Err(Errno::Inval)
    );
    // A second target and a second use are fine.
    w.mm().mod_entry(0, 0, 1, 7, pte(3, P), false).unwrap();
    w.mm().mod_entry(0, 0, 1, 8, pte(3, P), false).unwrap();
    w.check();
    assert_eq!(w.info(3).linear_count, -2);
    // Self-map read-only: no reference.
    w.mm().mod_entry(0, 0, 1, 9, pte(1, P), false).unwrap();
    w.check();
    // Of another level, of another domain, not (yet) validated: refused.
    w.mm().pin(0, 4, 2).unwrap();
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 10, pte(4, P), false),
        Err(Errno::Inval)
    );
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 10, pte(20, P), false),
        Err(Errno::Inval)
    );
    // (A table is only unvalidated with references while it is being checked or torn down.)
    w.frames.get_mut(10).unwrap().page_type = PageType::PageTable(4);
    w.frames.get_mut(10).unwrap().type_count = 1;
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 10, pte(10, P), false),
        Err(Errno::Inval)
    );
    w.frames.get_mut(10).unwrap().page_type = PageType::None;
    w.frames.get_mut(10).unwrap().type_count = 0;
    // Linear L2: 5 -> 6, both validated L2s.
    w.mm().pin(0, 5, 2).unwrap();
    w.mm().pin(0, 6, 2).unwrap();
    w.mm().mod_entry(0, 0, 5, 0, pte(6, P), false).unwrap();
    w.check();
    // Unpinning the targets keeps them alive through the linear entries.
    w.mm().unpin(0, 2).unwrap();
    w.mm().unpin(0, 3).unwrap();
    w.mm().unpin(0, 6).unwrap();
    w.mm().unpin(0, 4).unwrap();
    w.check();
    assert_eq!(w.info(2).page_type, PageType::PageTable(4));
    // Tearing down the holders releases everything.
    w.mm().unpin(0, 1).unwrap();
    w.mm().unpin(0, 5).unwrap();
    w.check();
    for m in 1..12 {
        assert_eq!(w.info(m).page_type, PageType::None, "{m}");
        assert_eq!(w.info(m).count, 1);
    }
    // Validation with a linear entry to a validated table, and with a self-map.
    w.mm().pin(0, 2, 4).unwrap();
    w.set(7, 0, pte(2, P));
    w.set(7, 1, pte(7, P));
    w.mm().pin(0, 7, 4).unwrap();
    w.check();
    assert_eq!(w.info(7).linear_count, 1);
    // Validation with a writable linear entry: refused, nothing left.
    w.set(8, 0, pte(9, P));
    w.set(8, 1, pte(2, P | RW));
    let before = w.snapshot();
    assert_eq!(w.mm().pin(0, 8, 4), Err(Errno::Inval));
    assert_eq!(w.snapshot(), before);
    w.check();
    // A linear count at its limit refuses further entries.
    w.mm().pin(0, 10, 4).unwrap();
    w.frames.get_mut(7).unwrap().linear_count = i16::MAX;
    assert_eq!(
        w.mm().mod_entry(0, 0, 7, 3, pte(2, P), false),
        Err(Errno::Inval)
    );
    w.frames.get_mut(7).unwrap().linear_count = 1;
    w.frames.get_mut(2).unwrap().linear_count = i16::MIN;
    assert_eq!(
        w.mm().mod_entry(0, 0, 10, 0, pte(2, P), false),
        Err(Errno::Inval)
    );
    w.frames.get_mut(2).unwrap().linear_count = -1;
    w.check();
    w.mm().mod_entry(0, 0, 10, 0, pte(2, P), false).unwrap();
    assert_eq!(w.info(2).linear_count, -2);
    w.check();
}

#[test]
fn shared_frames_stay_writable_pages() {
    let mut w = World::new();
    w.alloc(0, [1, 2]);
    w.frames.assign(9, Owner::Xen).unwrap();
    w.mm().share_with(0, 9).unwrap();
    assert_eq!(w.mm().share_with(0, 9), Err(Errno::Inval));
    w.check();
    w.mm().pin(0, 1, 1).unwrap();
    w.mm().mod_entry(0, 0, 1, 0, pte(9, P | RW), false).unwrap();
    w.check();
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 1, pte(9, P | 0x10), false),
        Err(Errno::Inval)
    );
    w.mem.io_doms.push(0);
    assert_eq!(
        w.mm().mod_entry(0, 0, 1, 1, pte(9, P | 0x10), false),
        Err(Errno::Acces)
    );
    assert_eq!(w.mm().pin(0, 9, 1), Err(Errno::Inval));
    assert_eq!(
        w.mm().get_page_and_type(9, 0, PageType::SegDesc),
        Err(Errno::Inval)
    );
    assert_eq!(w.mm().mod_entry(1, 1, 1, 1, 0, false), Err(Errno::Inval));
    w.mm().unpin(0, 1).unwrap();
    w.check();
    assert_eq!((w.info(9).count, w.info(9).type_count), (1, 1));
    // Only an unreferenced frame can be handed out.
    assert_eq!(w.mm().allocate(0, 9), Err(Errno::Inval));
    assert_eq!(w.mm().allocate(1, 1), Err(Errno::Inval));
    assert_eq!(w.mm().allocate(0, N as u64), Err(Errno::Inval));
    w.frames.assign(8, Owner::Xen).unwrap();
    assert_eq!(w.mm().allocate(0, 8), Err(Errno::Inval));
}

#[test]
fn odd_calls_do_not_panic() {
    let mut w = World::new();
    w.alloc(0, [1]);
    let mut mm = w.mm();
    for mfn in [0, 1, 2, N as u64, u64::MAX] {
        mm.put_page(mfn);
        mm.put_page_type(mfn);
        mm.put_page_and_type(mfn);
        assert_eq!(mm.table_level(0, mfn), None);
        let _ = mm.get_page_type(mfn, 0, PageType::None);
        let _ = mm.get_page_type(mfn, 0, PageType::PageTable(0));
        let _ = mm.get_page_type(mfn, 0, PageType::PageTable(9));
        let _ = mm.mod_entry(0, 0, mfn, 0, u64::MAX, true);
    }
    // put_page above dropped frame 1's allocation reference: it is free now.
    assert_eq!(w.mem.freed, vec![(1, 0)]);
    w.check();
}

/// xorshift64*: a small deterministic generator for the random walk.
struct Rng(u64);

/// Frames the random walk means for each use: data, then L1 .. L4 (dom 0's frames 1..40).
const LEVEL_FRAMES: [(u64, u64); 5] = [(25, 40), (15, 25), (9, 15), (5, 9), (1, 5)];

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn in_range(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.below(hi - lo)
    }

    /// Level-`level` frame the walk has in mind (1..=4), or a data frame for 0.
    fn frame_of_level(&mut self, level: u8) -> u64 {
        self.in_range(LEVEL_FRAMES[usize::from(level.min(4))])
    }

    /// An entry for a level-`level` table: plausible, or with `hostile` anything goes.
    fn entry(&mut self, level: u8, hostile: bool) -> u64 {
        if !hostile {
            if self.below(8) == 0 {
                return pte(self.frame_of_level(level), P | U); // linear or self
            }
            let flags = if self.below(4) == 0 {
                P | U
            } else {
                P | RW | U
            };
            return pte(self.frame_of_level(level.saturating_sub(1)), flags);
        }
        let mfn = match self.below(8) {
            0 => N as u64 + self.below(4),
            1 => INVALID_MFN,
            2 | 3 => self.below(N as u64),
            4 => self.frame_of_level(level),
            _ => self.frame_of_level(level.saturating_sub(1)),
        };
        let mut flags = match self.below(5) {
            0 => 0,
            1 | 2 => P,
            _ => P | RW | U,
        };
        if self.below(3) == 0 {
            flags |= [PSE, GLOBAL, 0x8, 0x10, A | D, GUEST_KERNEL, 1 << 63][self.below(7) as usize];
        }
        pte(mfn, flags)
    }
}

#[derive(Default)]
struct Coverage {
    pins: [u32; 5],
    mods: [u32; 5],
    failed_validations: u32,
    linear_tables: u32,
    frees: u32,
    pinned_removals: u32,
    repeated_removals: u32,
}

#[test]
fn random_walks_stay_consistent() {
    let mut cov = Coverage::default();
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut w = World::new();
        w.alloc(0, 1..40);
        w.alloc(1, 40..48);
        w.frames.assign(60, Owner::Xen).unwrap();
        w.mm().share_with(0, 61).unwrap();
        if seed % 3 == 0 {
            w.mem.io_doms.push(0);
        }
        for level in 0..5u8 {
            let (lo, hi) = LEVEL_FRAMES[usize::from(level)];
            for m in lo..hi {
                for i in 0..3 {
                    let hostile = rng.below(40) == 0;
                    let e = rng.entry(level, hostile);
                    w.set(m, i, e);
                }
            }
        }
        let mut freed_seen = 0;
        let mut free_now = std::collections::BTreeSet::new();
        for _ in 0..350 {
            let dom = if rng.below(8) == 0 { 1 } else { 0 };
            let any = rng.below(N as u64 + 1);
            let level = 1 + rng.below(4) as u8;
            match rng.below(20) {
                0..=3 => {
                    let mfn = if rng.below(8) == 0 {
                        any
                    } else {
                        rng.frame_of_level(level)
                    };
                    match w.mm().pin(dom, mfn, level) {
                        Ok(()) => cov.pins[usize::from(level)] += 1,
                        Err(_) => cov.failed_validations += 1,
                    }
                }
                4 | 5 => {
                    let mfn = if rng.below(8) == 0 {
                        any
                    } else {
                        rng.frame_of_level(level)
                    };
                    let _ = w.mm().unpin(dom, mfn);
                }
                6..=13 => {
                    let tables: Vec<u64> = (0..N as u64)
                        .filter(|&m| w.mm().table_level(dom, m).is_some())
                        .collect();
                    let table = if tables.is_empty() || rng.below(8) == 0 {
                        any
                    } else {
                        tables[rng.below(tables.len() as u64) as usize]
                    };
                    let tl = w.mm().table_level(dom, table).unwrap_or(level);
                    let index = match rng.below(8) {
                        0 => 256 + rng.below(16) as usize,
                        1 => 511,
                        _ => rng.below(4) as usize,
                    };
                    let hostile = rng.below(3) == 0;
                    let value = rng.entry(tl, hostile);
                    let pg_owner = if rng.below(8) == 0 { 1 } else { dom };
                    let ad = rng.below(2) == 0;
                    if w.mm()
                        .mod_entry(dom, pg_owner, table, index, value, ad)
                        .is_ok()
                    {
                        cov.mods[usize::from(tl)] += 1;
                    }
                }
                14 | 15 => {
                    // A guest store into a frame it may write.
                    if let Some(i) = w.frames.get(any)
                        && matches!(i.page_type, PageType::None | PageType::Writable)
                    {
                        let hostile = rng.below(3) == 0;
                        let e = rng.entry(level, hostile);
                        w.set(any, rng.below(4) as usize, e);
                    }
                }
                16 => {
                    // Frees at most the frame itself, and only when nothing else holds it.
                    let before = w.frames.get(any).copied();
                    let result = w.mm().remove_page(dom, any);
                    let after = w.frames.get(any).copied();
                    match (result, before) {
                        (Ok(()), Some(b)) if !b.allocated => {
                            cov.repeated_removals += 1;
                            assert_eq!(after, before, "seed {seed}: {any} changed");
                        }
                        (Ok(()), Some(b)) => {
                            cov.pinned_removals += u32::from(b.pinned);
                            let a = after.unwrap();
                            assert!(!a.allocated, "seed {seed}: {any}");
                            assert_eq!(a.pinned, b.pinned, "seed {seed}: {any}");
                        }
                        (Ok(()), None) => panic!("seed {seed}: removed {any}"),
                        (Err(_), _) => assert_eq!(after, before, "seed {seed}: {any}"),
                    }
                }
                _ => {
                    if w.mm().allocate(dom, any).is_ok() {
                        free_now.remove(&any);
                    } else {
                        let ty = [PageType::SegDesc, PageType::Writable][rng.below(2) as usize];
                        if w.mm().get_page_and_type(any, dom, ty).is_ok() {
                            w.ext_add(any, 1, 1);
                            w.check();
                            w.mm().put_page_and_type(any);
                            w.ext_add(any, -1, -1);
                        }
                    }
                }
            }
            for &(m, _) in &w.mem.freed[freed_seen..] {
                assert!(free_now.insert(m), "seed {seed}: {m} freed twice");
                assert_eq!(w.info(m), FrameInfo::default());
            }
            freed_seen = w.mem.freed.len();
            cov.linear_tables += (0..N as u64)
                .filter(|&m| w.info(m).linear_count > 0)
                .count() as u32;
            w.check();
        }
        // Unpinning everything leaves no type and no reference but the allocations.
        for m in 0..N as u64 {
            if w.info(m).pinned {
                let Owner::Domain(d) = w.info(m).owner else {
                    panic!("pinned frame {m} not a domain's")
                };
                w.mm().unpin(d, m).unwrap();
            }
        }
        w.check();
        for m in 0..N as u64 {
            let i = w.info(m);
            if m == 61 {
                assert_eq!((i.count, i.type_count), (1, 1));
                continue;
            }
            assert_eq!(i.type_count, 0, "seed {seed} frame {m}: {i:?}");
            assert_eq!(
                i.count,
                u32::from(i.allocated),
                "seed {seed} frame {m}: {i:?}"
            );
        }
        for &(m, _) in &w.mem.freed[freed_seen..] {
            assert!(free_now.insert(m), "seed {seed}: {m} freed twice");
        }
        cov.frees += w.mem.freed.len() as u32;
    }
    // The walk reached what it is meant to test.
    for level in 1..=4 {
        assert!(
            cov.pins[level] >= 10,
            "pins of L{level}: {}",
            cov.pins[level]
        );
        assert!(
            cov.mods[level] >= 10,
            "updates of L{level}: {}",
            cov.mods[level]
        );
    }
    assert!(cov.failed_validations >= 100, "{}", cov.failed_validations);
    assert!(cov.linear_tables >= 10, "{}", cov.linear_tables);
    assert!(cov.frees >= 10, "{}", cov.frees);
    assert!(cov.pinned_removals >= 5, "{}", cov.pinned_removals);
    assert!(cov.repeated_removals >= 5, "{}", cov.repeated_removals);
}
