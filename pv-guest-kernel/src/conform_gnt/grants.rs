//! conform=grants: the run, the frames and references the checks share, and their helpers.
// One domain grants its own frames to itself (Xen allows a domain to map and copy its own
// grants), so every operation can be checked without a second domain. Grant references and
// frames are fixed per check; each check leaves no mapping behind.

use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::{
    GNTMAP_HOST_MAP, GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_WRITING, GnttabMapGrantRef,
    GnttabUnmapGrantRef, GrantHandle, GrantRef,
};
use hypercall_abi::start_info::StartInfo;

use crate::arch::x86_64::frames::FreeFrame;
use crate::arch::x86_64::grant_calls::{self, SharedTable};
use crate::arch::x86_64::window::Slot;
use crate::conform_mm::guest::{self, declined, take_frames};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, expect_ret, fail};

/// Window slot used to fill and check frames.
pub const W: Slot = slot(0);
/// Window slot used to read frames and page tables.
pub const R: Slot = slot(1);
/// Window slot grants are mapped at.
pub const M: Slot = slot(2);
/// A second window slot for grant mappings.
pub const N: Slot = slot(3);
/// Window slot the grant table's first frame is mapped at.
pub const T: Slot = slot(7);

const fn slot(i: usize) -> Slot {
    match Slot::get(i) {
        Some(s) => s,
        None => panic!("no such window slot"),
    }
}

/// Our own domain id: the checks run in Dom0.
pub const SELF_ID: DomId = 0;
/// A domain id no domain has.
pub const NO_SUCH_DOMAIN: DomId = 7;

/// GTF_permit_access.
pub const PA: u16 = GTF_PERMIT_ACCESS;
/// GTF_readonly.
pub const RO: u16 = GTF_READONLY;
/// GTF_reading.
pub const RD: u16 = GTF_READING;
/// GTF_writing.
pub const WR: u16 = GTF_WRITING;

/// Frames the checks use (free frames, outside the initial mapping).
pub struct Frames {
    /// Granted and mapped.
    pub a: FreeFrame,
    /// Granted read-only.
    pub b: FreeFrame,
    /// Given back with decrease_reservation while mapped.
    pub gone: FreeFrame,
    /// Revoked while mapped.
    pub e: FreeFrame,
    /// Copy source.
    pub s: FreeFrame,
    /// Copy destination (a plain frame).
    pub d: FreeFrame,
    /// Copy destination through a grant.
    pub g: FreeFrame,
}

/// Runs the grant checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=grants", start_info, p2m, checks)
}

fn checks(ctx: &mut Context, report: &mut Report) {
    if !ctx.is_dom0() {
        report.check(
            "grants.dom0",
            Err(Detail::new(format_args!("the checks assume domain 0"))),
        );
        return;
    }
    let f = match take_frames::<7>() {
        Ok([a, b, gone, e, s, d, g]) => Frames {
            a,
            b,
            gone,
            e,
            s,
            d,
            g,
        },
        Err(d) => {
            report.check("grants.frames", Err(d));
            return;
        }
    };
    let table = super::setup::checks(report);
    let Some(table) = table else {
        return;
    };
    super::map::checks(report, table, &f);
    super::copy::checks(report, table, &f);
    report.check("grants.table_unmapped", unmap_table(table));
}

fn unmap_table(table: SharedTable) -> Outcome {
    expect_ret("unmapping the grant table", table.unmap(), 0)
}

/// A `GNTST_*` status must be `want`.
pub fn expect_status(what: &str, got: i16, want: i16) -> Outcome {
    if got != want {
        fail!("{} status {}, expected {}", what, got, want);
    }
    Ok(())
}

/// The flags of entry `gref` must be `want`.
pub fn expect_flags(table: SharedTable, gref: GrantRef, want: u16) -> Outcome {
    match table.flags(gref) {
        Some(flags) if flags == want => Ok(()),
        Some(flags) => fail!("entry {} flags {:#x}, expected {:#x}", gref, flags, want),
        None => fail!("entry {} unreadable", gref),
    }
}

/// Writes entry `gref` of `table`.
pub fn grant(table: SharedTable, gref: GrantRef, flags: u16, domid: DomId, frame: u64) -> Outcome {
    if !table.grant(gref, flags, domid, frame) {
        fail!("writing grant entry {} failed", gref);
    }
    Ok(())
}

/// A map request for `gref` of `dom` at `host_addr` with `flags`.
pub fn map_op(host_addr: u64, flags: u32, gref: GrantRef, dom: DomId) -> GnttabMapGrantRef {
    GnttabMapGrantRef {
        host_addr,
        flags,
        ref_: gref,
        dom,
        ..GnttabMapGrantRef::default()
    }
}

/// map_grant_ref of one element; the call itself must return 0. Returns the element.
pub fn map_one(op: GnttabMapGrantRef) -> Result<GnttabMapGrantRef, Detail> {
    let mut ops = [op];
    let ret = grant_calls::map(&mut ops).map_err(declined)?;
    expect_ret("map_grant_ref", ret, 0)?;
    Ok(ops[0])
}

/// Maps `gref` of our own at window page `slot` (read-only or not); must succeed. Returns the
/// handle.
pub fn map_at(slot: Slot, gref: GrantRef, readonly: bool) -> Result<GrantHandle, Detail> {
    let flags = if readonly {
        GNTMAP_HOST_MAP | hypercall_abi::grant_table::GNTMAP_READONLY
    } else {
        GNTMAP_HOST_MAP
    };
    let op = map_one(map_op(slot.va(), flags, gref, SELF_ID))?;
    expect_status("map_grant_ref", op.status, 0)?;
    Ok(op.handle)
}

/// unmap_grant_ref of one element; the call itself must return 0. Returns the status.
pub fn unmap_one(host_addr: u64, dev_bus_addr: u64, handle: GrantHandle) -> Result<i16, Detail> {
    let mut ops = [GnttabUnmapGrantRef {
        host_addr,
        dev_bus_addr,
        handle,
        ..GnttabUnmapGrantRef::default()
    }];
    let ret = grant_calls::unmap(&mut ops).map_err(declined)?;
    expect_ret("unmap_grant_ref", ret, 0)?;
    Ok(ops[0].status)
}

/// Removes the mapping `handle` at window page `slot`; must succeed.
pub fn unmap_at(slot: Slot, handle: GrantHandle) -> Outcome {
    expect_status("unmap_grant_ref", unmap_one(slot.va(), 0, handle)?, 0)
}

/// Window page `slot` must map nothing readable.
pub fn expect_unmapped(slot: Slot) -> Outcome {
    if let Some(v) = slot.read(0) {
        fail!("window page still maps something ({:#x})", v);
    }
    Ok(())
}

/// Leaves window page `slot` unmapped (a grant map goes to an empty PTE).
pub fn clear_slot(slot: Slot) -> Outcome {
    let ret = slot.unmap();
    if ret != 0 {
        fail!("unmapping the window page returned {}", Ret(ret));
    }
    Ok(())
}
