//! conform=grants, mappings: map_grant_ref and unmap_grant_ref on our own grants, their flags, PTEs and errors.

use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::grant_table::{
    GNTMAP_APPLICATION_MAP, GNTMAP_CONTAINS_PTE, GNTMAP_GUEST_AVAIL0_SHIFT, GNTMAP_HOST_MAP,
    GNTMAP_READONLY, GNTST_BAD_DOMAIN, GNTST_BAD_GNTREF, GNTST_BAD_HANDLE, GNTST_BAD_PAGE,
    GNTST_GENERAL_ERROR, GnttabMapGrantRef, GnttabUnmapGrantRef, GrantRef,
};
use hypercall_abi::memory::{XENMEM_CURRENT_RESERVATION, XENMEM_DECREASE_RESERVATION};
use hypercall_abi::mmu::PteFlags;

use super::grants::{
    Frames, M, N, NO_SUCH_DOMAIN, PA, R, RD, RO, SELF_ID, W, WR, clear_slot, expect_flags,
    expect_status, expect_unmapped, grant, map_at, map_one, map_op, unmap_at, unmap_one,
};
use crate::arch::x86_64::frames;
use crate::arch::x86_64::grant_calls::{self, SharedTable};
use crate::arch::x86_64::memory_calls;
use crate::arch::x86_64::window::Slot;
use crate::conform_mm::guest::declined;
use crate::conform_mm::pattern;
use crate::conform_mm::tables::expect_entry;
use crate::selftest::report::{Detail, Outcome, Report, Ret, expect_eq, expect_ret, fail};

/// References the mapping checks grant.
const G_RW: GrantRef = 10;
const G_RO: GrantRef = 11;
const G_UNUSED: GrantRef = 12;
const G_OTHER: GrantRef = 13;
const G_REVOKE: GrantRef = 14;
const G_GONE: GrantRef = 15;
const G_IMPLICIT: GrantRef = 16;
/// A reference far beyond any table.
const G_BEYOND: GrantRef = 0x00FF_FFFF;
/// A domain the "other" grant names (none exists).
const OTHER_DOMAIN: u16 = 5;
/// A handle no map returned (within the first maptrack frame, and far beyond it).
const UNUSED_HANDLES: [u32; 2] = [200, 0x00FF_FFFF];

/// Pattern seeds.
const SEED_A: u64 = 0x61;
const SEED_B: u64 = 0x62;
const SEED_GONE: u64 = 0x63;
const SEED_E: u64 = 0x64;
/// A word written through a mapping.
const MARK: u64 = 0x4D41_524B_0000_0001;

/// The L1 entry a writable host mapping of frame `mfn` gets: present, writable, accessed,
/// dirty, no-execute, plus what 64-bit PV adds to a kernel mapping (user and bit 52); no
/// global (observed on Xen 4.17).
fn writable_pte(mfn: u64) -> u64 {
    (mfn << 12)
        | PteFlags::PRESENT.bits()
        | PteFlags::RW.bits()
        | PteFlags::USER.bits()
        | PteFlags::ACCESSED.bits()
        | PteFlags::DIRTY.bits()
        | (1 << 52)
        | (1 << 63)
}

/// The same, read-only (observed on Xen 4.17).
fn readonly_pte(mfn: u64) -> u64 {
    writable_pte(mfn) & !PteFlags::RW.bits()
}

/// The L1 entry of a writable host mapping with GNTMAP_application_map: user, so what 64-bit
/// PV adds to a user mapping (global), and no bit 52 (observed on Xen 4.17).
fn application_pte(mfn: u64) -> u64 {
    (writable_pte(mfn) & !(1 << 52)) | PteFlags::GLOBAL.bits()
}

/// Guest-available map flag bits 16 and 18 ...
const GUEST_AVAIL: u32 = 0b101 << GNTMAP_GUEST_AVAIL0_SHIFT;
/// ... land in the PTE's available bits 9 and 11 (observed on Xen 4.17).
const GUEST_AVAIL_PTE: u64 = 0b101 << 9;

/// The M2P entry of a frame given back while mapped through a grant: still its pseudo-physical
/// frame until it is freed, then invalid (observed on Xen 4.17).
const M2P_FREED: u64 = u64::MAX;

/// unmap with dev_bus_addr naming another frame on a host-only mapping: done, the bus address
/// is only checked for device mappings (observed on Xen 4.17.7).
const BUS_MISMATCH_STATUS: i16 = 0;
/// current_reservation while a frame given back is still mapped through a grant: unchanged,
/// the frame is only freed (and uncounted) at the unmap (observed on Xen 4.17).
const PAGES_WHILE_MAPPED: i64 = 0;

/// Runs the mapping checks.
pub fn checks(report: &mut Report, table: SharedTable, f: &Frames) {
    report.check("grants.map_writable", map_writable(table, f));
    report.check("grants.map_readonly", map_readonly(table, f));
    report.check(
        "grants.map_readonly_of_writable_grant",
        readonly_of_writable(table),
    );
    report.check(
        "grants.map_writable_of_readonly_grant",
        writable_of_readonly(table),
    );
    report.check(
        "grants.map_ref_out_of_range",
        refused(table, G_BEYOND, SELF_ID, GNTMAP_HOST_MAP, GNTST_BAD_GNTREF),
    );
    report.check("grants.map_ungranted_ref", ungranted(table));
    report.check("grants.map_ref_of_another_domain", other_domain(table, f));
    report.check(
        "grants.map_domid_self",
        refused(table, G_RW, DOMID_SELF, GNTMAP_HOST_MAP, GNTST_BAD_DOMAIN),
    );
    report.check(
        "grants.map_unknown_domain",
        refused(
            table,
            G_RW,
            NO_SUCH_DOMAIN,
            GNTMAP_HOST_MAP,
            GNTST_BAD_DOMAIN,
        ),
    );
    report.check(
        "grants.map_without_host_map",
        refused(table, G_RW, SELF_ID, 0, GNTST_BAD_GNTREF),
    );
    report.check("grants.unmap_bad_handle", bad_handle());
    report.check("grants.unmap_twice", unmap_twice(table));
    report.check("grants.unmap_wrong_address", wrong_address(table));
    report.check("grants.unmap_host_addr_zero", host_addr_zero(table));
    report.check("grants.unmap_bus_addr_mismatch", bus_mismatch(table, f));
    report.check("grants.map_contains_pte", contains_pte(table, f));
    report.check("grants.map_application_map", application_map(table, f));
    report.check("grants.implicit_unmap", implicit_unmap(table, f));
    report.check("grants.map_batch", batch(table));
    report.check("grants.revoke_while_mapped", revoke_while_mapped(table, f));
    report.check(
        "grants.decrease_while_mapped",
        decrease_while_mapped(table, f),
    );
    report.check("grants.map_freed_frame", map_freed(table));
}

/// The L1 table and index of window page `slot`'s initial entry.
fn l1_of(slot: Slot) -> Result<(u64, usize), Detail> {
    match slot.l1_entry_maddr() {
        Some(maddr) => Ok((maddr >> 12, ((maddr & 0xFFF) / 8) as usize)),
        None => fail!("no L1 entry for the window page"),
    }
}

/// The PTE of window page `slot` must be `want`.
fn expect_pte(slot: Slot, want: u64) -> Outcome {
    let (table, index) = l1_of(slot)?;
    expect_entry(R, table, index, want)
}

/// Reads the whole page through `slot` and compares it with the pattern `seed`.
fn expect_pattern(slot: Slot, what: &str, seed: u64) -> Outcome {
    pattern::compare(slot, what, |i| pattern::word(seed, i))
}

fn map_writable(table: SharedTable, f: &Frames) -> Outcome {
    let a = f.a.mfn;
    pattern::fill(W, a, SEED_A)?;
    grant(table, G_RW, PA, SELF_ID, a)?;
    clear_slot(M)?;
    let op = map_one(map_op(M.va(), GNTMAP_HOST_MAP, G_RW, SELF_ID))?;
    expect_status("map_grant_ref", op.status, 0)?;
    expect_eq("dev_bus_addr", op.dev_bus_addr, a << 12)?;
    expect_flags(table, G_RW, PA | RD | WR)?;
    expect_pattern(M, "granted page", SEED_A)?;
    expect_pte(M, writable_pte(a))?;
    if !M.write(0, MARK) {
        fail!("writing through the writable mapping failed");
    }
    unmap_at(M, op.handle)?;
    expect_flags(table, G_RW, PA)?;
    expect_unmapped(M)?;
    expect_pte(M, 0)?;
    pattern::check(R, a, "granted page after the unmap", |i| {
        if i == 0 {
            MARK
        } else {
            pattern::word(SEED_A, i)
        }
    })?;
    pattern::fill(W, a, SEED_A)
}

fn map_readonly(table: SharedTable, f: &Frames) -> Outcome {
    let b = f.b.mfn;
    pattern::fill(W, b, SEED_B)?;
    grant(table, G_RO, PA | RO, SELF_ID, b)?;
    let handle = map_at(M, G_RO, true)?;
    expect_flags(table, G_RO, PA | RO | RD)?;
    expect_pattern(M, "read-only mapping", SEED_B)?;
    expect_pte(M, readonly_pte(b))?;
    let wrote = grant_calls::write_probe(M, 0, MARK).map_err(declined)?;
    unmap_at(M, handle)?;
    if wrote {
        fail!("a write through the read-only mapping did not fault");
    }
    expect_flags(table, G_RO, PA | RO)?;
    expect_unmapped(M)?;
    pattern::check(R, b, "read-only granted page", |i| pattern::word(SEED_B, i))
}

fn readonly_of_writable(table: SharedTable) -> Outcome {
    let handle = map_at(M, G_RW, true)?;
    expect_flags(table, G_RW, PA | RD)?;
    expect_pattern(M, "read-only mapping of a writable grant", SEED_A)?;
    unmap_at(M, handle)?;
    expect_flags(table, G_RW, PA)
}

fn writable_of_readonly(table: SharedTable) -> Outcome {
    let op = map_one(map_op(M.va(), GNTMAP_HOST_MAP, G_RO, SELF_ID))?;
    expect_status(
        "writable map of a read-only grant",
        op.status,
        GNTST_GENERAL_ERROR,
    )?;
    expect_flags(table, G_RO, PA | RO)?;
    expect_unmapped(M)
}

/// A map that must be refused with `status`, changing nothing.
fn refused(table: SharedTable, gref: GrantRef, dom: u16, flags: u32, status: i16) -> Outcome {
    let before = table.entry(G_RW);
    let op = map_one(map_op(M.va(), flags, gref, dom))?;
    expect_status("map_grant_ref", op.status, status)?;
    if table.entry(G_RW) != before {
        fail!("entry {} changed", G_RW);
    }
    expect_unmapped(M)
}

fn ungranted(table: SharedTable) -> Outcome {
    if !table.clear(G_UNUSED) {
        fail!("clearing entry {} failed", G_UNUSED);
    }
    let op = map_one(map_op(M.va(), GNTMAP_HOST_MAP, G_UNUSED, SELF_ID))?;
    expect_status("map of an empty entry", op.status, GNTST_GENERAL_ERROR)?;
    expect_flags(table, G_UNUSED, 0)?;
    expect_unmapped(M)
}

fn other_domain(table: SharedTable, f: &Frames) -> Outcome {
    grant(table, G_OTHER, PA, OTHER_DOMAIN, f.a.mfn)?;
    let op = map_one(map_op(M.va(), GNTMAP_HOST_MAP, G_OTHER, SELF_ID))?;
    expect_status(
        "map of a grant to another domain",
        op.status,
        GNTST_GENERAL_ERROR,
    )?;
    expect_flags(table, G_OTHER, PA)?;
    expect_unmapped(M)
}

fn bad_handle() -> Outcome {
    for handle in UNUSED_HANDLES {
        let status = unmap_one(M.va(), 0, handle)?;
        expect_status("unmap of an unused handle", status, GNTST_BAD_HANDLE)?;
    }
    Ok(())
}

fn unmap_twice(table: SharedTable) -> Outcome {
    let handle = map_at(M, G_RW, false)?;
    unmap_at(M, handle)?;
    let status = unmap_one(M.va(), 0, handle)?;
    expect_status("second unmap", status, GNTST_BAD_HANDLE)?;
    expect_flags(table, G_RW, PA)
}

fn wrong_address(table: SharedTable) -> Outcome {
    clear_slot(N)?;
    let handle = map_at(M, G_RW, false)?;
    let status = unmap_one(N.va(), 0, handle)?;
    let still = expect_pattern(M, "mapping after a refused unmap", SEED_A);
    unmap_at(M, handle)?;
    expect_status("unmap at another address", status, GNTST_GENERAL_ERROR)?;
    still?;
    expect_flags(table, G_RW, PA)
}

fn host_addr_zero(table: SharedTable) -> Outcome {
    let handle = map_at(M, G_RW, false)?;
    let status = unmap_one(0, 0, handle)?;
    let kept = expect_pattern(M, "mapping after an unmap of host_addr 0", SEED_A);
    let flags = expect_flags(table, G_RW, PA | RD | WR);
    unmap_at(M, handle)?;
    expect_status("unmap of host_addr 0", status, 0)?;
    kept?;
    flags?;
    expect_flags(table, G_RW, PA)
}

fn bus_mismatch(table: SharedTable, f: &Frames) -> Outcome {
    let handle = map_at(M, G_RW, false)?;
    let status = unmap_one(M.va(), (f.a.mfn + 1) << 12, handle)?;
    if status != 0 {
        // Refused: the mapping is still there.
        expect_pattern(M, "mapping after a refused unmap", SEED_A)?;
        unmap_at(M, handle)?;
    }
    expect_status(
        "unmap with another bus address",
        status,
        BUS_MISMATCH_STATUS,
    )?;
    expect_unmapped(M)?;
    expect_flags(table, G_RW, PA)
}

fn contains_pte(table: SharedTable, f: &Frames) -> Outcome {
    let Some(pte_maddr) = M.l1_entry_maddr() else {
        fail!("no L1 entry for the window page");
    };
    let op = map_one(map_op(
        pte_maddr,
        GNTMAP_HOST_MAP | GNTMAP_CONTAINS_PTE | GUEST_AVAIL,
        G_RW,
        SELF_ID,
    ))?;
    expect_status("map with contains_pte", op.status, 0)?;
    expect_flags(table, G_RW, PA | RD | WR)?;
    expect_pattern(M, "mapping made by PTE address", SEED_A)?;
    expect_pte(M, writable_pte(f.a.mfn) | GUEST_AVAIL_PTE)?;
    let status = unmap_one(pte_maddr, 0, op.handle)?;
    expect_status("unmap by PTE address", status, 0)?;
    expect_unmapped(M)?;
    expect_flags(table, G_RW, PA)
}

fn application_map(table: SharedTable, f: &Frames) -> Outcome {
    clear_slot(M)?;
    let op = map_one(map_op(
        M.va(),
        GNTMAP_HOST_MAP | GNTMAP_APPLICATION_MAP,
        G_RW,
        SELF_ID,
    ))?;
    expect_status("map with application_map", op.status, 0)?;
    let pte = expect_pte(M, application_pte(f.a.mfn));
    let data = expect_pattern(M, "application mapping", SEED_A);
    unmap_at(M, op.handle)?;
    pte?;
    data?;
    expect_unmapped(M)?;
    expect_flags(table, G_RW, PA)
}

/// The mapper overwrites its grant PTE with update_va_mapping (Xen's release build lets it):
/// the grant stays in use with no way to unmap it, as in Xen; the frame and the rest of the
/// domain are unharmed.
fn implicit_unmap(table: SharedTable, f: &Frames) -> Outcome {
    grant(table, G_IMPLICIT, PA, SELF_ID, f.e.mfn)?;
    let handle = map_at(M, G_IMPLICIT, false)?;
    let cleared = M.unmap();
    let status = unmap_one(M.va(), 0, handle)?;
    expect_ret("update_va_mapping over the grant PTE", cleared, 0)?;
    expect_status("unmap after the PTE went", status, GNTST_GENERAL_ERROR)?;
    expect_flags(table, G_IMPLICIT, PA | RD | WR)?;
    // The frame is still ours and sound: mapped normally, read and written.
    pattern::fill(W, f.e.mfn, SEED_E)?;
    pattern::check(R, f.e.mfn, "frame of the stuck grant", |i| {
        pattern::word(SEED_E, i)
    })
}

fn batch(table: SharedTable) -> Outcome {
    clear_slot(N)?;
    let mut ops = [
        map_op(M.va(), GNTMAP_HOST_MAP, G_RW, SELF_ID),
        map_op(N.va(), GNTMAP_HOST_MAP, G_BEYOND, SELF_ID),
        map_op(N.va(), GNTMAP_HOST_MAP | GNTMAP_READONLY, G_RW, SELF_ID),
    ];
    let ret = grant_calls::map(&mut ops).map_err(declined)?;
    expect_ret("map_grant_ref(3)", ret, 0)?;
    let statuses = [ops[0].status, ops[1].status, ops[2].status];
    if statuses != [0, GNTST_BAD_GNTREF, 0] {
        fail!("statuses {:?}, expected [0, -3, 0]", statuses);
    }
    expect_flags(table, G_RW, PA | RD | WR)?;
    expect_pattern(N, "second mapping of the batch", SEED_A)?;
    let mut unmaps = [
        GnttabUnmapGrantRef {
            host_addr: M.va(),
            handle: ops[0].handle,
            ..GnttabUnmapGrantRef::default()
        },
        GnttabUnmapGrantRef {
            host_addr: N.va(),
            handle: ops[2].handle,
            ..GnttabUnmapGrantRef::default()
        },
    ];
    let ret = grant_calls::unmap(&mut unmaps).map_err(declined)?;
    expect_ret("unmap_grant_ref(2)", ret, 0)?;
    if unmaps[0].status != 0 || unmaps[1].status != 0 {
        fail!("unmap statuses {} {}", unmaps[0].status, unmaps[1].status);
    }
    expect_unmapped(M)?;
    expect_unmapped(N)?;
    expect_flags(table, G_RW, PA)
}

/// The granter wipes a mapped entry: the mapping goes on, a further map of the pinned entry is
/// not checked against it, and unmapping leaves the wiped entry alone.
fn revoke_while_mapped(table: SharedTable, f: &Frames) -> Outcome {
    let e = f.e.mfn;
    pattern::fill(W, e, SEED_E)?;
    grant(table, G_REVOKE, PA, SELF_ID, e)?;
    clear_slot(N)?;
    let handle = map_at(M, G_REVOKE, false)?;
    // The granter sees the grant in use: ending it (Linux's end_foreign_access) must wait.
    let in_use = table
        .flags(G_REVOKE)
        .is_some_and(|fl| fl & (RD | WR) == RD | WR);
    if !table.clear(G_REVOKE) {
        fail!("wiping entry {} failed", G_REVOKE);
    }
    let through = expect_pattern(M, "mapping of a wiped entry", SEED_E);
    let second = map_one(map_op(
        N.va(),
        GNTMAP_HOST_MAP | GNTMAP_READONLY,
        G_REVOKE,
        SELF_ID,
    ))?;
    let second_data = if second.status == 0 {
        let r = expect_pattern(N, "second mapping of a wiped entry", SEED_E);
        unmap_at(N, second.handle)?;
        r
    } else {
        Ok(())
    };
    let wiped = expect_flags(table, G_REVOKE, 0);
    unmap_at(M, handle)?;
    if !in_use {
        fail!("GTF_reading|GTF_writing not both set while mapped");
    }
    through?;
    expect_status("read-only map of the wiped, pinned entry", second.status, 0)?;
    second_data?;
    wiped?;
    match table.entry(G_REVOKE) {
        Some(0) => Ok(()),
        Some(v) => fail!("wiped entry is {:#x} after the unmaps", v),
        None => fail!("entry unreadable"),
    }
}

fn reservation() -> i64 {
    memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, DOMID_SELF).unwrap_or(i64::MIN)
}

/// A frame given back while mapped through a grant stays usable through the mapping; it is
/// freed (and leaves the reservation) when the mapping goes.
fn decrease_while_mapped(table: SharedTable, f: &Frames) -> Outcome {
    let gone = f.gone.mfn;
    pattern::fill(W, gone, SEED_GONE)?;
    grant(table, G_GONE, PA, SELF_ID, gone)?;
    let handle = map_at(M, G_GONE, false)?;
    let before = reservation();
    let mut ext = [gone];
    let done = memory_calls::reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, 0, DOMID_SELF)
        .map_err(declined)?;
    let during = reservation();
    let m2p_during = frames::m2p(gone);
    let readable = expect_pattern(M, "mapping of a frame given back", SEED_GONE);
    let writable = M.write(1, MARK);
    let flags = expect_flags(table, G_GONE, PA | RD | WR);
    unmap_at(M, handle)?;
    let after = reservation();
    let m2p_after = frames::m2p(gone);
    expect_ret("decrease_reservation", done, 1)?;
    if during - before != PAGES_WHILE_MAPPED {
        fail!(
            "current_reservation went from {} to {} while the frame was mapped",
            Ret(before),
            Ret(during)
        );
    }
    readable?;
    if !writable {
        fail!("writing through the mapping of a frame given back failed");
    }
    flags?;
    expect_eq(
        "M2P entry while mapped",
        m2p_during.unwrap_or(0),
        f.gone.pfn,
    )?;
    expect_eq("M2P entry once freed", m2p_after.unwrap_or(0), M2P_FREED)?;
    if after != before - 1 {
        fail!(
            "current_reservation {} after the unmap, expected {}",
            Ret(after),
            Ret(before - 1)
        );
    }
    expect_flags(table, G_GONE, PA)
}

/// The grant of a freed frame cannot be mapped any more.
fn map_freed(table: SharedTable) -> Outcome {
    let op: GnttabMapGrantRef = map_one(map_op(M.va(), GNTMAP_HOST_MAP, G_GONE, SELF_ID))?;
    if op.status == 0 {
        let _ = unmap_one(M.va(), 0, op.handle);
    }
    expect_status("map of a freed frame", op.status, GNTST_BAD_PAGE)?;
    expect_flags(table, G_GONE, PA)?;
    expect_unmapped(M)
}
