//! Host tests of the grant operations against mock domains, each ending with a full check that nothing leaked.

use super::*;
use crate::grant::entry::Header;
use crate::grant::mock::{Page, World};
use crate::grant::table::GrantLimits;
use hypercall_abi::grant_table::{
    GNTST_BAD_GNTREF, GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_SUB_PAGE, GTF_WRITING,
};

/// Granting domain.
const A: DomId = 1;
/// Mapping domain.
const B: DomId = 2;
/// A third domain.
const C: DomId = 3;
/// A's data frames.
const FA: u64 = 0x500;
const FA2: u64 = 0x501;
/// B's and C's data frames.
const FB: u64 = 0x600;
const FC: u64 = 0x700;
/// Virtual addresses in B.
const VA: u64 = 0x4000_0000;
const VA2: u64 = 0x4000_1000;

const PA: u16 = GTF_PERMIT_ACCESS;
const RD: u16 = GTF_READING;
const WR: u16 = GTF_WRITING;

fn world() -> World {
    let mut w = World::new();
    for d in [A, B, C] {
        w.add_domain(d, GrantLimits::DEFAULT);
    }
    w.add_page(FA, A);
    w.add_page(FA2, A);
    w.add_page(FB, B);
    w.add_page(FC, C);
    w
}

fn maptrack() -> Maptrack {
    Maptrack::new(GrantLimits::DEFAULT.max_maptrack_frames())
}

fn req(gref: GrantRef, readonly: bool, host_addr: u64) -> MapRequest {
    MapRequest {
        host_addr,
        flags: MapFlags {
            readonly,
            ..MapFlags::default()
        },
        gref,
        dom: A,
    }
}

fn map(w: &mut World, mt: &mut Maptrack, r: MapRequest) -> Result<Mapped, i16> {
    map_grant_ref(w, mt, B, &r)
}

/// Unmap at `host_addr` and, when something was removed, finish at once (the TLB "flush").
fn unmap(w: &mut World, mt: &mut Maptrack, handle: GrantHandle, host_addr: u64) -> Result<(), i16> {
    let r = UnmapRequest {
        host_addr,
        dev_bus_addr: 0,
        handle,
    };
    if let Some(pending) = unmap_grant_ref(w, mt, B, &r)? {
        finish_unmap(w, pending);
    }
    Ok(())
}

/// Nothing held: no pins, no in-use flags, no PTEs, no handles, only allocation references.
fn assert_clean(w: &World, mt: &Maptrack) {
    for (dom, (t, e)) in &w.tables {
        assert_eq!(t.pinned().count(), 0, "d{dom} has pins");
        for gref in 0..t.nr_entries() {
            let flags = e.flags(t.slot(gref).unwrap());
            assert_eq!(flags & (RD | WR), 0, "d{dom} gref {gref} flags {flags:#x}");
        }
    }
    for (mfn, p) in &w.pages {
        assert_eq!((p.count, p.writable), (1, 0), "frame {mfn:#x}");
    }
    assert!(w.ptes.is_empty(), "PTEs left: {:?}", w.ptes);
    assert_eq!(mt.in_use(), 0);
}

fn counts(w: &World, mfn: u64) -> (u32, u32) {
    let p: Page = w.page(mfn);
    (p.count, p.writable)
}

// ---- map and unmap ----

#[test]
fn writable_map_and_unmap() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 10, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(10, false, VA)).unwrap();
    assert_eq!(
        m,
        Mapped {
            handle: 0,
            frame: FA
        }
    );
    assert_eq!(m.dev_bus_addr(), FA << 12);
    assert_eq!(w.flags(A, 10), PA | RD | WR);
    assert_eq!(counts(&w, FA), (2, 1));
    assert_eq!(w.ptes[&VA], (FA, MapFlags::default()));
    let act = w.active(A, 10);
    assert_eq!(
        (act.user(), act.frame(), act.host_rw(), act.host_ro()),
        (Some(B), Some(FA), 1, 0)
    );
    assert!(w.table(A).frame_in_use(FA));
    assert_eq!(
        mt.get(0),
        Some(Mapping {
            granter: A,
            gref: 10,
            flags: MapFlags::default()
        })
    );
    assert_eq!(unmap(&mut w, &mut mt, 0, VA), Ok(()));
    assert_eq!(w.flags(A, 10), PA);
    assert!(!w.table(A).frame_in_use(FA));
    assert_clean(&w, &mt);
}

#[test]
fn read_only_map_and_unmap() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 10, PA | GTF_READONLY, B, FA as u32);
    let m = map(&mut w, &mut mt, req(10, true, VA)).unwrap();
    assert_eq!(m.frame, FA);
    assert_eq!(w.flags(A, 10), PA | GTF_READONLY | RD);
    assert_eq!(counts(&w, FA), (2, 0));
    assert_eq!(w.active(A, 10).host_ro(), 1);
    assert!(w.ptes[&VA].1.readonly);
    assert_eq!(unmap(&mut w, &mut mt, m.handle, VA), Ok(()));
    assert_eq!(w.flags(A, 10), PA | GTF_READONLY);
    assert_clean(&w, &mt);
}

#[test]
fn contains_pte_and_application_map_reach_the_host_mapping() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 3, PA, B, FA as u32);
    let flags = MapFlags {
        readonly: false,
        application_map: true,
        contains_pte: true,
        guest_avail: 3,
    };
    let pte_maddr = (FB << 12) | 0x18;
    let r = MapRequest {
        flags,
        ..req(3, false, pte_maddr)
    };
    let m = map(&mut w, &mut mt, r).unwrap();
    assert_eq!(w.ptes[&pte_maddr], (FA, flags));
    assert_eq!(mt.get(m.handle).unwrap().flags, flags);
    assert_eq!(unmap(&mut w, &mut mt, m.handle, pte_maddr), Ok(()));
    assert_clean(&w, &mt);
}

#[test]
fn read_only_grant_refuses_a_writable_map() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 10, PA | GTF_READONLY, B, FA as u32);
    assert_eq!(
        map(&mut w, &mut mt, req(10, false, VA)),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(w.flags(A, 10), PA | GTF_READONLY);
    assert_clean(&w, &mt);
    // Also when already pinned read-only by the same mapper.
    let m = map(&mut w, &mut mt, req(10, true, VA)).unwrap();
    assert_eq!(
        map(&mut w, &mut mt, req(10, false, VA2)),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(w.flags(A, 10), PA | GTF_READONLY | RD);
    assert_eq!(w.active(A, 10).pin(), 0x100);
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_clean(&w, &mt);
}

#[test]
fn entries_not_granted_to_the_mapper_are_refused() {
    let cases = [
        (PA, C),                // granted to another domain
        (0, B),                 // not granted
        (2, B),                 // accept_transfer
        (PA | GTF_SUB_PAGE, B), // sub-page (v2 bit) cannot be mapped
    ];
    for (flags, domid) in cases {
        let (mut w, mut mt) = (world(), maptrack());
        w.grant(A, 10, flags, domid, FA as u32);
        assert_eq!(
            map(&mut w, &mut mt, req(10, true, VA)),
            Err(GNTST_GENERAL_ERROR),
            "flags {flags:#x} domid {domid}"
        );
        assert_eq!(w.flags(A, 10), flags);
        assert_clean(&w, &mt);
    }
}

#[test]
fn bad_references_and_domains() {
    let (mut w, mut mt) = (world(), maptrack());
    assert_eq!(
        map(&mut w, &mut mt, req(512, true, VA)),
        Err(GNTST_BAD_GNTREF)
    );
    assert_eq!(
        map(&mut w, &mut mt, req(u32::MAX, true, VA)),
        Err(GNTST_BAD_GNTREF)
    );
    for dom in [9, DOMID_SELF, 0x7FF2, 0xFFFF] {
        let r = MapRequest {
            dom,
            ..req(0, true, VA)
        };
        assert_eq!(
            map(&mut w, &mut mt, r),
            Err(GNTST_BAD_DOMAIN),
            "dom {dom:#x}"
        );
    }
    // A grown table accepts the larger references.
    w.grant(A, 0, PA, B, FA as u32);
    let mut alloc = crate::grant::mock::Frames::new(0x9000);
    setup_table(w.table(A), &mut alloc, 2).unwrap();
    w.grant(A, 1000, PA, B, FA2 as u32);
    let m = map(&mut w, &mut mt, req(1000, true, VA)).unwrap();
    assert_eq!(m.frame, FA2);
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_clean(&w, &mt);
}

#[test]
fn bad_handles_and_double_unmap() {
    let (mut w, mut mt) = (world(), maptrack());
    assert_eq!(unmap(&mut w, &mut mt, 0, VA), Err(GNTST_BAD_HANDLE));
    assert_eq!(unmap(&mut w, &mut mt, u32::MAX, VA), Err(GNTST_BAD_HANDLE));
    w.grant(A, 5, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(5, false, VA)).unwrap();
    // Inside the maptrack but never handed out.
    assert_eq!(
        unmap(&mut w, &mut mt, m.handle + 1, VA),
        Err(GNTST_BAD_HANDLE)
    );
    assert_eq!(unmap(&mut w, &mut mt, m.handle, VA), Ok(()));
    assert_eq!(unmap(&mut w, &mut mt, m.handle, VA), Err(GNTST_BAD_HANDLE));
    assert_clean(&w, &mt);
}

#[test]
fn unmap_checks_the_mapping_it_is_given() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 5, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(5, false, VA)).unwrap();
    // Another domain cannot use B's handle against B's maptrack entry.
    let r = UnmapRequest {
        host_addr: VA,
        dev_bus_addr: 0,
        handle: m.handle,
    };
    assert_eq!(
        unmap_grant_ref(&mut w, &mut mt, C, &r),
        Err(GNTST_BAD_HANDLE)
    );
    // A wrong address or a failing PTE removal keeps the mapping.
    assert_eq!(
        unmap(&mut w, &mut mt, m.handle, VA2),
        Err(GNTST_GENERAL_ERROR)
    );
    w.fail_destroy = Some(GNTST_GENERAL_ERROR);
    assert_eq!(
        unmap(&mut w, &mut mt, m.handle, VA),
        Err(GNTST_GENERAL_ERROR)
    );
    w.fail_destroy = None;
    // host_addr 0 removes nothing and succeeds.
    assert_eq!(unmap(&mut w, &mut mt, m.handle, 0), Ok(()));
    assert_eq!(mt.in_use(), 1);
    assert_eq!(counts(&w, FA), (2, 1));
    assert_eq!(w.flags(A, 5), PA | RD | WR);
    // The bus address of a host-only mapping is not checked (Xen 4.17.7 only checks it for
    // device mappings): a wrong one unmaps all the same.
    let wrong_bus = UnmapRequest {
        dev_bus_addr: (FA + 1) << 12,
        ..r
    };
    let pending = unmap_grant_ref(&mut w, &mut mt, B, &wrong_bus)
        .unwrap()
        .unwrap();
    assert_eq!(pending.frame(), FA);
    // Between the two halves the PTE and handle are gone but the frame is still held.
    assert!(w.ptes.is_empty());
    assert_eq!(mt.in_use(), 0);
    assert_eq!(counts(&w, FA), (2, 1));
    assert_eq!(w.flags(A, 5), PA | RD | WR);
    finish_unmap(&mut w, pending);
    assert_clean(&w, &mt);
}

#[test]
fn pins_and_flags_over_several_mappings() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 7, PA, B, FA as u32);
    let ro1 = map(&mut w, &mut mt, req(7, true, VA)).unwrap();
    assert_eq!(w.flags(A, 7), PA | RD);
    let rw1 = map(&mut w, &mut mt, req(7, false, VA2)).unwrap();
    assert_eq!(w.flags(A, 7), PA | RD | WR);
    let rw2 = map(&mut w, &mut mt, req(7, false, VA2 + 0x1000)).unwrap();
    let ro2 = map(&mut w, &mut mt, req(7, true, VA2 + 0x2000)).unwrap();
    let act = w.active(A, 7);
    assert_eq!((act.host_rw(), act.host_ro(), act.pin()), (2, 2, 0x202));
    assert_eq!(counts(&w, FA), (5, 2));
    assert_eq!(
        [ro1.handle, rw1.handle, rw2.handle, ro2.handle],
        [0, 1, 2, 3]
    );
    unmap(&mut w, &mut mt, rw1.handle, VA2).unwrap();
    assert_eq!(w.flags(A, 7), PA | RD | WR);
    unmap(&mut w, &mut mt, rw2.handle, VA2 + 0x1000).unwrap();
    // Last writer gone: writing cleared, reading kept.
    assert_eq!(w.flags(A, 7), PA | RD);
    assert_eq!(counts(&w, FA), (3, 0));
    unmap(&mut w, &mut mt, ro1.handle, VA).unwrap();
    assert_eq!(w.flags(A, 7), PA | RD);
    unmap(&mut w, &mut mt, ro2.handle, VA2 + 0x2000).unwrap();
    assert_eq!(w.flags(A, 7), PA);
    assert_clean(&w, &mt);
}

#[test]
fn a_pinned_grant_is_the_first_mappers_only() {
    let (mut w, mut mt) = (world(), maptrack());
    let mut mt_c = maptrack();
    w.grant(A, 7, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(7, true, VA)).unwrap();
    // Even if the guest now re-grants the entry to C, the active pin is B's.
    w.grant(A, 7, PA | RD, C, FA as u32);
    assert_eq!(
        map_grant_ref(&mut w, &mut mt_c, C, &req(7, true, VA)),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(mt_c.in_use(), 0);
    // B can still add pins: an existing pin skips the type and domid checks.
    let m2 = map(&mut w, &mut mt, req(7, true, VA2)).unwrap();
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    unmap(&mut w, &mut mt, m2.handle, VA2).unwrap();
    assert_eq!(w.flags(A, 7), PA);
    assert_clean(&w, &mt);
}

#[test]
fn the_frame_is_read_once_at_the_first_pin() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 7, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(7, true, VA)).unwrap();
    let slot = w.slot(A, 7);
    w.entries(A).set_frame(slot, FA2 as u32);
    let m2 = map(&mut w, &mut mt, req(7, true, VA2)).unwrap();
    assert_eq!((m.frame, m2.frame), (FA, FA));
    assert_eq!(counts(&w, FA2), (1, 0));
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    unmap(&mut w, &mut mt, m2.handle, VA2).unwrap();
    assert_clean(&w, &mt);
}

#[test]
fn a_racing_guest_is_retried_then_refused() {
    let base = Header {
        flags: PA,
        domid: B,
    }
    .raw();
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 7, PA, B, FA as u32);
    // Four harmless changes (cache bits) under our compare-and-swap: the fifth attempt wins.
    w.entries(A).flips = vec![base | 0x20, base, base | 0x40, base];
    let m = map(&mut w, &mut mt, req(7, false, VA)).unwrap();
    assert_eq!(w.entries(A).cmpxchgs, 5);
    assert_eq!(w.flags(A, 7), PA | RD | WR);
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_clean(&w, &mt);
    // Five changes: refused, nothing held, the entry as the guest left it.
    w.entries(A).cmpxchgs = 0;
    w.entries(A).flips = vec![base | 0x20, base, base | 0x20, base, base | 0x20];
    assert_eq!(
        map(&mut w, &mut mt, req(7, false, VA)),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(w.entries(A).cmpxchgs, 5);
    assert_eq!(w.flags(A, 7), PA | 0x20);
    assert_clean(&w, &mt);
    // The guest revokes, or makes the grant read-only, in the middle of a writable map.
    for flipped in [
        0,
        Header {
            flags: PA | GTF_READONLY,
            domid: B,
        }
        .raw(),
    ] {
        w.grant(A, 7, PA, B, FA as u32);
        w.entries(A).flips = vec![flipped];
        assert_eq!(
            map(&mut w, &mut mt, req(7, false, VA)),
            Err(GNTST_GENERAL_ERROR)
        );
        assert_eq!(w.flags(A, 7) & (RD | WR), 0);
        assert_clean(&w, &mt);
    }
}

#[test]
fn a_frame_the_granter_does_not_own_is_a_bad_page() {
    let (mut w, mut mt) = (world(), maptrack());
    // A grants B's own frame, then a frame nobody has.
    for frame in [FB, 0xDEAD] {
        w.grant(A, 7, PA, B, frame as u32);
        assert_eq!(map(&mut w, &mut mt, req(7, false, VA)), Err(GNTST_BAD_PAGE));
        assert_eq!(w.flags(A, 7), PA);
        assert_clean(&w, &mt);
    }
}

#[test]
fn a_frame_that_cannot_be_writable_refuses_writable_maps_only() {
    let (mut w, mut mt) = (world(), maptrack());
    w.pages.get_mut(&FA).unwrap().page_table = true;
    w.grant(A, 7, PA, B, FA as u32);
    assert_eq!(
        map(&mut w, &mut mt, req(7, false, VA)),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(w.flags(A, 7), PA);
    assert_clean(&w, &mt);
    let m = map(&mut w, &mut mt, req(7, true, VA)).unwrap();
    assert_eq!(counts(&w, FA), (2, 0));
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_clean(&w, &mt);
}

#[test]
fn a_failed_host_mapping_undoes_the_map() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 7, PA, B, FA as u32);
    w.fail_create = Some(GNTST_GENERAL_ERROR);
    assert_eq!(
        map(&mut w, &mut mt, req(7, false, VA)),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(w.flags(A, 7), PA);
    assert_clean(&w, &mt);
    // With a read-only pin already held, a failed writable map only clears GTF_writing.
    w.fail_create = None;
    let m = map(&mut w, &mut mt, req(7, true, VA)).unwrap();
    w.fail_create = Some(GNTST_GENERAL_ERROR);
    assert_eq!(
        map(&mut w, &mut mt, req(7, false, VA2)),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(w.flags(A, 7), PA | RD);
    assert_eq!(counts(&w, FA), (2, 0));
    w.fail_create = None;
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    // The handles of the failed maps went back to the free list (in_use 0).
    assert_clean(&w, &mt);
}

#[test]
fn maptrack_exhaustion_is_no_device_space() {
    let mut w = world();
    let mut mt = Maptrack::new(1);
    for gref in 0..256 {
        w.grant(A, gref, PA, B, FA as u32);
        map(
            &mut w,
            &mut mt,
            req(gref, true, VA + u64::from(gref) * 0x1000),
        )
        .unwrap();
    }
    w.grant(A, 300, PA, B, FA as u32);
    assert_eq!(
        map(&mut w, &mut mt, req(300, true, 0x9000_0000)),
        Err(GNTST_NO_DEVICE_SPACE)
    );
    // The handle is taken before the reference is checked, as in Xen.
    assert_eq!(
        map(&mut w, &mut mt, req(9999, true, 0x9000_0000)),
        Err(GNTST_NO_DEVICE_SPACE)
    );
    // But the domain is looked up first.
    let r = MapRequest {
        dom: 42,
        ..req(300, true, 0x9000_0000)
    };
    assert_eq!(map(&mut w, &mut mt, r), Err(GNTST_BAD_DOMAIN));
    assert_eq!(w.flags(A, 300), PA);
    assert_eq!(counts(&w, FA), (257, 0));
    for gref in 0..256 {
        unmap(&mut w, &mut mt, gref, VA + u64::from(gref) * 0x1000).unwrap();
    }
    assert_clean(&w, &mt);
}

#[test]
fn pin_counters_stop_at_128() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 7, PA, B, FA as u32);
    let va = |i: u64| VA + i * 0x1000;
    for i in 0..128 {
        map(&mut w, &mut mt, req(7, true, va(i))).unwrap();
    }
    assert_eq!(w.active(A, 7).host_ro(), 128);
    // No counter may pass 128: read-only and writable both refused.
    assert_eq!(
        map(&mut w, &mut mt, req(7, true, va(200))),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(
        map(&mut w, &mut mt, req(7, false, va(201))),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(w.flags(A, 7), PA | RD);
    for i in 0..128 {
        unmap(&mut w, &mut mt, i as GrantHandle, va(i)).unwrap();
    }
    assert_clean(&w, &mt);
}

#[test]
fn a_mapped_frame_outlives_its_owners_reference() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 7, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(7, false, VA)).unwrap();
    assert!(w.table(A).frame_in_use(FA));
    // A gives the frame back (decrease_reservation drops its allocation reference): the
    // mapping's references keep it alive and writable-typed, so it can be neither freed nor
    // turned into a page table while B maps it.
    w.put_page(FA);
    assert_eq!(counts(&w, FA), (1, 1));
    assert!(w.table(A).frame_in_use(FA));
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_eq!(counts(&w, FA), (0, 0));
    assert!(!w.table(A).frame_in_use(FA));
    assert_eq!(w.table(A).pinned().count(), 0);
}

#[test]
fn mapping_ones_own_grant_works() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(B, 4, PA, B, FB as u32);
    let r = MapRequest {
        dom: B,
        ..req(4, false, VA)
    };
    let m = map(&mut w, &mut mt, r).unwrap();
    assert_eq!(m.frame, FB);
    assert_eq!(w.flags(B, 4), PA | RD | WR);
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_clean(&w, &mt);
}

#[test]
fn a_dying_mapper_releases_everything() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 1, PA, B, FA as u32);
    w.grant(A, 2, PA, B, FA2 as u32);
    w.grant(C, 3, PA, B, FC as u32);
    map(&mut w, &mut mt, req(1, false, VA)).unwrap();
    map(&mut w, &mut mt, req(2, true, VA2)).unwrap();
    let r = MapRequest {
        dom: C,
        ..req(3, false, VA2 + 0x1000)
    };
    map(&mut w, &mut mt, r).unwrap();
    // The page-table teardown of the dying domain drops the PTEs' references.
    release_mappings(&mut w, &mut mt, false);
    assert_eq!(mt.in_use(), 0);
    assert_eq!([w.flags(A, 1), w.flags(A, 2), w.flags(C, 3)], [PA; 3]);
    assert_eq!(counts(&w, FA), (2, 1));
    assert_eq!(counts(&w, FA2), (2, 0));
    // With drop_refs the references go here.
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 1, PA, B, FA as u32);
    map(&mut w, &mut mt, req(1, false, VA)).unwrap();
    map(&mut w, &mut mt, req(1, true, VA2)).unwrap();
    w.tables.remove(&C);
    w.ptes.clear();
    release_mappings(&mut w, &mut mt, true);
    assert_clean(&w, &mt);
}

// ---- copy ----

fn gref_side(dom: DomId, gref: GrantRef, offset: u16) -> CopySide {
    CopySide::Gref { dom, gref, offset }
}

fn frame_side(frame: u64, offset: u16) -> CopySide {
    CopySide::Frame {
        dom: DOMID_SELF,
        frame,
        offset,
    }
}

fn copy_req(source: CopySide, dest: CopySide, len: u16) -> CopyRequest {
    CopyRequest { source, dest, len }
}

fn fill(w: &mut World, mfn: u64, byte: u8) {
    w.bytes(mfn).fill(byte);
}

#[test]
fn copy_from_a_grant_to_a_local_frame() {
    let (mut w, mt) = (world(), maptrack());
    fill(&mut w, FA, 0xAA);
    w.grant(A, 9, PA | GTF_READONLY, B, FA as u32);
    let r = copy_req(gref_side(A, 9, 100), frame_side(FB, 200), 50);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    let b = w.bytes(FB).clone();
    assert!(b[200..250].iter().all(|&x| x == 0xAA));
    assert_eq!((b[199], b[250]), (0, 0));
    assert_eq!(w.flags(A, 9), PA | GTF_READONLY);
    assert_clean(&w, &mt);
}

#[test]
fn copy_from_a_local_frame_to_a_grant() {
    let (mut w, mt) = (world(), maptrack());
    fill(&mut w, FB, 0x5C);
    w.grant(A, 9, PA, B, FA as u32);
    let r = copy_req(frame_side(FB, 0), gref_side(A, 9, 0), 4096);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    assert!(w.bytes(FA).iter().all(|&x| x == 0x5C));
    assert_eq!(w.flags(A, 9), PA);
    assert_clean(&w, &mt);
}

#[test]
fn copy_between_two_grants_and_with_domid_self() {
    let (mut w, mt) = (world(), maptrack());
    fill(&mut w, FA, 1);
    fill(&mut w, FC, 2);
    w.grant(A, 9, PA | GTF_SUB_PAGE, B, FA as u32);
    w.grant(C, 9, PA, B, FC as u32);
    // Sub-page bit is fine for a copy; source A, destination C, both foreign.
    let r = copy_req(gref_side(A, 9, 0), gref_side(C, 9, 10), 5);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    assert_eq!(&w.bytes(FC)[8..17], &[2, 2, 1, 1, 1, 1, 1, 2, 2]);
    // A grant of one's own, named by DOMID_SELF, within one frame.
    w.grant(B, 4, PA, B, FB as u32);
    w.bytes(FB)[0..4].copy_from_slice(&[9, 8, 7, 6]);
    let r = copy_req(gref_side(DOMID_SELF, 4, 0), frame_side(FB, 2), 2);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    assert_eq!(&w.bytes(FB)[0..4], &[9, 8, 9, 8]);
    assert_clean(&w, &mt);
}

#[test]
fn copy_of_length_zero_still_checks_the_grants() {
    let (mut w, mt) = (world(), maptrack());
    w.grant(A, 9, PA, B, FA as u32);
    let r = copy_req(gref_side(A, 9, 4096), frame_side(FB, 4096), 0);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    let r = copy_req(gref_side(A, 10, 0), frame_side(FB, 0), 0);
    assert_eq!(copy(&mut w, B, &r), Err(GNTST_GENERAL_ERROR));
    assert_clean(&w, &mt);
}

#[test]
fn copy_errors_and_their_order() {
    let (mut w, mt) = (world(), maptrack());
    w.grant(A, 9, PA, B, FA as u32);
    w.grant(A, 10, PA | GTF_READONLY, B, FA as u32);
    w.grant(A, 11, PA, C, FA as u32);
    let foreign_frame = CopySide::Frame {
        dom: A,
        frame: FA,
        offset: 0,
    };
    let cases: [(CopyRequest, i16); 12] = [
        // A frame of another domain cannot be named directly.
        (
            copy_req(foreign_frame, frame_side(FB, 0), 8),
            GNTST_PERMISSION_DENIED,
        ),
        (
            copy_req(frame_side(FB, 0), foreign_frame, 8),
            GNTST_PERMISSION_DENIED,
        ),
        // Unknown domains (source checked before the destination's permission).
        (
            copy_req(gref_side(42, 9, 0), foreign_frame, 8),
            GNTST_BAD_DOMAIN,
        ),
        (
            copy_req(gref_side(0x7FF2, 9, 0), frame_side(FB, 0), 8),
            GNTST_BAD_DOMAIN,
        ),
        (
            copy_req(frame_side(FB, 0), gref_side(42, 9, 0), 8),
            GNTST_BAD_DOMAIN,
        ),
        // Bad references, read-only or foreign grants.
        (
            copy_req(gref_side(A, 512, 0), frame_side(FB, 0), 8),
            GNTST_BAD_GNTREF,
        ),
        (
            copy_req(frame_side(FB, 0), gref_side(A, 10, 0), 8),
            GNTST_GENERAL_ERROR,
        ),
        (
            copy_req(gref_side(A, 11, 0), frame_side(FB, 0), 8),
            GNTST_GENERAL_ERROR,
        ),
        // A local frame that is not the caller's.
        (
            copy_req(frame_side(FA, 0), frame_side(FB, 0), 8),
            GNTST_BAD_PAGE,
        ),
        (
            copy_req(frame_side(FB, 0), frame_side(0xDEAD, 0), 8),
            GNTST_BAD_PAGE,
        ),
        // Beyond the page, on either side, found after the grants were taken.
        (
            copy_req(gref_side(A, 9, 4000), frame_side(FB, 0), 97),
            GNTST_BAD_COPY_ARG,
        ),
        (
            copy_req(gref_side(A, 10, 0), gref_side(A, 9, 4095), 2),
            GNTST_BAD_COPY_ARG,
        ),
    ];
    for (i, (r, status)) in cases.iter().enumerate() {
        assert_eq!(copy(&mut w, B, r), Err(*status), "case {i}: {r:?}");
        assert_eq!(
            [w.flags(A, 9), w.flags(A, 10), w.flags(A, 11)],
            [PA, PA | GTF_READONLY, PA],
            "case {i}"
        );
        assert_clean(&w, &mt);
    }
    assert!(w.mem.values().all(|m| m.iter().all(|&b| b == 0)));
}

#[test]
fn copy_into_a_frame_that_cannot_be_writable() {
    let (mut w, mt) = (world(), maptrack());
    w.pages.get_mut(&FA).unwrap().page_table = true;
    w.pages.get_mut(&FB).unwrap().page_table = true;
    w.grant(A, 9, PA, B, FA as u32);
    let r = copy_req(frame_side(FC, 0), gref_side(A, 9, 0), 8);
    // FC is not B's: refused before the destination.
    assert_eq!(copy(&mut w, B, &r), Err(GNTST_BAD_PAGE));
    w.add_page(0x601, B);
    let r = copy_req(frame_side(0x601, 0), gref_side(A, 9, 0), 8);
    assert_eq!(copy(&mut w, B, &r), Err(GNTST_GENERAL_ERROR));
    let r = copy_req(gref_side(A, 9, 0), frame_side(FB, 0), 8);
    assert_eq!(copy(&mut w, B, &r), Err(GNTST_GENERAL_ERROR));
    // Reading from them is fine.
    let r = copy_req(gref_side(A, 9, 0), frame_side(0x601, 0), 8);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    assert_eq!(w.flags(A, 9), PA);
    assert_clean(&w, &mt);
}

#[test]
fn copy_through_a_grant_that_is_also_mapped() {
    let (mut w, mut mt) = (world(), maptrack());
    fill(&mut w, FB, 0x77);
    w.grant(A, 9, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(9, true, VA)).unwrap();
    // A writable copy into a read-pinned grant upgrades the flags for its duration only.
    let r = copy_req(frame_side(FB, 0), gref_side(A, 9, 0), 16);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    assert_eq!(w.flags(A, 9), PA | RD);
    assert_eq!(w.active(A, 9).pin(), 0x100);
    assert!(w.bytes(FA)[..16].iter().all(|&b| b == 0x77));
    // A read from it needs no flag change.
    w.entries(A).cmpxchgs = 0;
    let r = copy_req(gref_side(A, 9, 0), frame_side(FB, 100), 16);
    assert_eq!(copy(&mut w, B, &r), Ok(()));
    assert_eq!(w.entries(A).cmpxchgs, 0);
    // Another domain cannot copy through B's pinned grant.
    let r = copy_req(gref_side(A, 9, 0), frame_side(FC, 0), 16);
    assert_eq!(copy(&mut w, C, &r), Err(GNTST_GENERAL_ERROR));
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_clean(&w, &mt);
}

#[test]
fn copy_from_a_pinned_grant_whose_frame_went_is_bad_domain() {
    let (mut w, mut mt) = (world(), maptrack());
    w.grant(A, 9, PA, B, FA as u32);
    let m = map(&mut w, &mut mt, req(9, true, VA)).unwrap();
    // The frame changes hands behind the pin (cannot happen with the real refcounts, but the
    // copy must not trust the pin alone).
    w.pages.get_mut(&FA).unwrap().owner = C;
    let r = copy_req(gref_side(A, 9, 0), frame_side(FB, 0), 8);
    assert_eq!(copy(&mut w, B, &r), Err(GNTST_BAD_DOMAIN));
    // A second map is refused the same way map refuses it (general error).
    assert_eq!(
        map(&mut w, &mut mt, req(9, true, VA2)),
        Err(GNTST_GENERAL_ERROR)
    );
    w.pages.get_mut(&FA).unwrap().owner = A;
    unmap(&mut w, &mut mt, m.handle, VA).unwrap();
    assert_clean(&w, &mt);
}

// ---- setup_table, query_size, versions ----

#[test]
fn setup_table_grows_up_to_the_limit() {
    let mut w = World::new();
    w.add_domain(A, GrantLimits::new(4, 8).unwrap());
    let mut alloc = crate::grant::mock::Frames::new(0x8000);
    let first = w.table(A).frames()[0];
    assert_eq!(query_size(w.table(A)), (1, 4));
    assert_eq!(setup_table(w.table(A), &mut alloc, 1), Ok(&[first][..]));
    assert_eq!(setup_table(w.table(A), &mut alloc, 0), Ok(&[][..]));
    assert_eq!(
        setup_table(w.table(A), &mut alloc, 3),
        Ok(&[first, 0x8000, 0x8001][..])
    );
    assert_eq!(query_size(w.table(A)), (3, 4));
    // Asking for fewer reports fewer, keeps all.
    assert_eq!(
        setup_table(w.table(A), &mut alloc, 2),
        Ok(&[first, 0x8000][..])
    );
    assert_eq!(w.table(A).nr_entries(), 1536);
    assert_eq!(
        setup_table(w.table(A), &mut alloc, 5),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(
        setup_table(w.table(A), &mut alloc, u32::MAX),
        Err(GNTST_GENERAL_ERROR)
    );
    // Out of memory: refused, nothing kept.
    alloc.budget = Some(0);
    assert_eq!(
        setup_table(w.table(A), &mut alloc, 4),
        Err(GNTST_GENERAL_ERROR)
    );
    assert_eq!(query_size(w.table(A)), (3, 4));
    alloc.budget = None;
    assert_eq!(
        setup_table(w.table(A), &mut alloc, 4).map(<[u64]>::len),
        Ok(4)
    );
    assert_eq!(query_size(w.table(A)), (4, 4));
}

#[test]
fn default_limits_allow_64_frames() {
    let mut w = world();
    let mut alloc = crate::grant::mock::Frames::new(0x8000);
    assert_eq!(query_size(w.table(A)), (1, 64));
    assert_eq!(
        setup_table(w.table(A), &mut alloc, 64).map(<[u64]>::len),
        Ok(64)
    );
    assert_eq!(w.table(A).nr_entries(), 64 * 512);
    assert_eq!(
        setup_table(w.table(A), &mut alloc, 65),
        Err(GNTST_GENERAL_ERROR)
    );
}

#[test]
fn versions() {
    let mut w = world();
    assert_eq!(get_version(&mut w, A), Ok(1));
    assert_eq!(get_version(&mut w, 42), Err(Errno::Srch));
    assert_eq!(get_version(&mut w, DOMID_SELF), Err(Errno::Srch));
    assert_eq!(w.table(A).set_version(1).result, Ok(()));
    assert_eq!(w.table(A).set_version(2).result, Err(Errno::NoSys));
    assert_eq!(get_version(&mut w, A), Ok(1));
}
