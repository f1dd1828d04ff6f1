//! conform=grants, copies: GNTTABOP_copy between our grants and our frames, partial copies, batches and errors.

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTST_BAD_COPY_ARG, GNTST_BAD_DOMAIN, GNTST_BAD_GNTREF,
    GNTST_BAD_PAGE, GNTST_GENERAL_ERROR, GNTST_PERMISSION_DENIED, GnttabCopy, GnttabCopyPtr,
    GrantRef,
};

use super::grants::{Frames, NO_SUCH_DOMAIN, PA, R, RO, SELF_ID, W, expect_flags, grant};
use crate::arch::x86_64::grant_calls::{self, SharedTable};
use crate::conform_mm::guest::declined;
use crate::conform_mm::pattern;
use crate::selftest::report::{Detail, Outcome, Report, expect_ret, fail};

/// References the copy checks grant.
const G_SRC: GrantRef = 20;
const G_DEST: GrantRef = 21;
const G_EMPTY: GrantRef = 22;
/// A reference far beyond any table.
const G_BEYOND: GrantRef = 0x00FF_FFFF;
/// A frame that is not ours (machine frame 0, the firmware's).
const NOT_OURS: u64 = 0;

/// Pattern seeds.
const SEED_S: u64 = 0x73;
const SEED_D: u64 = 0x74;
const SEED_G: u64 = 0x75;

/// Bytes in a page.
const PAGE: u16 = 4096;

/// Runs the copy checks.
pub fn checks(report: &mut Report, table: SharedTable, f: &Frames) {
    let ready = prepare(table, f);
    let ok = ready.is_ok();
    report.check("grants.copy_setup", ready);
    if !ok {
        return;
    }
    report.check("grants.copy_gref_to_frame", gref_to_frame(table, f));
    report.check("grants.copy_frame_to_gref", frame_to_gref(table, f));
    report.check("grants.copy_partial", partial(f));
    report.check("grants.copy_batch", batch(table, f));
    report.check("grants.copy_long_batch", long_batch(f));
    report.check("grants.copy_errors", errors(table, f));
}

/// One side: a grant reference of `dom`.
fn gref(dom: DomId, r: GrantRef, offset: u16) -> GnttabCopyPtr {
    GnttabCopyPtr {
        u: u64::from(r),
        domid: dom,
        offset,
        pad: 0,
    }
}

/// One side: a machine frame named with `dom` (DOMID_SELF is the valid one).
fn frame(dom: DomId, mfn: u64, offset: u16) -> GnttabCopyPtr {
    GnttabCopyPtr {
        u: mfn,
        domid: dom,
        offset,
        pad: 0,
    }
}

/// A copy element; the flags say which sides are grants.
fn op(source: GnttabCopyPtr, dest: GnttabCopyPtr, len: u16, flags: u16) -> GnttabCopy {
    GnttabCopy {
        source,
        dest,
        len,
        flags,
        status: 1,
        pad: 0,
    }
}

/// Runs `ops` as one batch (the call must return 0) and returns their statuses.
fn run<const K: usize>(mut ops: [GnttabCopy; K]) -> Result<[i16; K], Detail> {
    let ret = grant_calls::copy(&mut ops).map_err(declined)?;
    expect_ret("grant copy", ret, 0)?;
    Ok(ops.map(|o| o.status))
}

fn expect_statuses<const K: usize>(got: [i16; K], want: [i16; K]) -> Outcome {
    if got != want {
        fail!("statuses {:?}, expected {:?}", got, want);
    }
    Ok(())
}

fn prepare(table: SharedTable, f: &Frames) -> Outcome {
    pattern::fill(W, f.s.mfn, SEED_S)?;
    pattern::fill(W, f.d.mfn, SEED_D)?;
    pattern::fill(W, f.g.mfn, SEED_G)?;
    grant(table, G_SRC, PA | RO, SELF_ID, f.s.mfn)?;
    grant(table, G_DEST, PA, SELF_ID, f.g.mfn)?;
    if !table.clear(G_EMPTY) {
        fail!("clearing entry {} failed", G_EMPTY);
    }
    Ok(())
}

/// A read-only grant copied whole into a frame of ours.
fn gref_to_frame(table: SharedTable, f: &Frames) -> Outcome {
    let st = run([op(
        gref(DOMID_SELF, G_SRC, 0),
        frame(DOMID_SELF, f.d.mfn, 0),
        PAGE,
        GNTCOPY_SOURCE_GREF,
    )])?;
    expect_statuses(st, [0])?;
    pattern::check(R, f.d.mfn, "copy destination", |i| pattern::word(SEED_S, i))?;
    expect_flags(table, G_SRC, PA | RO)?;
    pattern::fill(W, f.d.mfn, SEED_D)
}

/// A frame of ours copied whole into a writable grant, named by our own domain id.
fn frame_to_gref(table: SharedTable, f: &Frames) -> Outcome {
    let st = run([op(
        frame(DOMID_SELF, f.d.mfn, 0),
        gref(SELF_ID, G_DEST, 0),
        PAGE,
        GNTCOPY_DEST_GREF,
    )])?;
    expect_statuses(st, [0])?;
    pattern::check(R, f.g.mfn, "granted destination", |i| {
        pattern::word(SEED_D, i)
    })?;
    expect_flags(table, G_DEST, PA)?;
    pattern::fill(W, f.g.mfn, SEED_G)
}

/// Source words 8..18 land on destination words 16..26; nothing else changes.
fn partial(f: &Frames) -> Outcome {
    let st = run([op(
        gref(DOMID_SELF, G_SRC, 64),
        frame(DOMID_SELF, f.d.mfn, 128),
        80,
        GNTCOPY_SOURCE_GREF,
    )])?;
    expect_statuses(st, [0])?;
    pattern::check(R, f.d.mfn, "partly copied frame", |i| {
        if (16..26).contains(&i) {
            pattern::word(SEED_S, i - 8)
        } else {
            pattern::word(SEED_D, i)
        }
    })?;
    pattern::fill(W, f.d.mfn, SEED_D)
}

/// Four elements, two bad: each gets its own status and the good ones are done.
fn batch(table: SharedTable, f: &Frames) -> Outcome {
    let st = run([
        op(
            gref(DOMID_SELF, G_SRC, 0),
            frame(DOMID_SELF, f.d.mfn, 0),
            16,
            GNTCOPY_SOURCE_GREF,
        ),
        op(
            gref(DOMID_SELF, G_SRC, 8),
            frame(DOMID_SELF, f.d.mfn, 0),
            PAGE,
            GNTCOPY_SOURCE_GREF,
        ),
        op(
            frame(SELF_ID, f.s.mfn, 0),
            gref(DOMID_SELF, G_DEST, 0),
            16,
            GNTCOPY_DEST_GREF,
        ),
        op(
            frame(DOMID_SELF, f.s.mfn, 4088),
            gref(DOMID_SELF, G_DEST, 4088),
            8,
            GNTCOPY_DEST_GREF,
        ),
    ])?;
    expect_statuses(st, [0, GNTST_BAD_COPY_ARG, GNTST_PERMISSION_DENIED, 0])?;
    pattern::check(R, f.d.mfn, "first destination", |i| {
        pattern::word(if i < 2 { SEED_S } else { SEED_D }, i)
    })?;
    pattern::check(R, f.g.mfn, "fourth destination", |i| {
        pattern::word(if i == 511 { SEED_S } else { SEED_G }, i)
    })?;
    expect_flags(table, G_SRC, PA | RO)?;
    expect_flags(table, G_DEST, PA)?;
    pattern::fill(W, f.d.mfn, SEED_D)?;
    pattern::fill(W, f.g.mfn, SEED_G)
}

/// Elements in [`long_batch`]: more than a hypervisor takes in one go (xen-core continues the
/// hypercall after 512, as Xen preempts long batches).
const LONG_BATCH: usize = 700;

/// A batch longer than one call's share: every element is done, each with its own status,
/// and the call returns 0 once, as if it had never been split.
fn long_batch(f: &Frames) -> Outcome {
    let words = usize::from(PAGE) / 8;
    let mut ops: alloc::vec::Vec<GnttabCopy> = (0..LONG_BATCH)
        .map(|i| {
            let at = ((i % words) * 8) as u16;
            op(
                gref(DOMID_SELF, G_SRC, at),
                frame(DOMID_SELF, f.d.mfn, at),
                8,
                GNTCOPY_SOURCE_GREF,
            )
        })
        .collect();
    let ret = grant_calls::copy(&mut ops).map_err(declined)?;
    expect_ret("grant copy of a long batch", ret, 0)?;
    if let Some((i, o)) = ops.iter().enumerate().find(|(_, o)| o.status != 0) {
        fail!("element {} of {} has status {}", i, LONG_BATCH, o.status);
    }
    pattern::check(R, f.d.mfn, "long-batch destination", |i| {
        pattern::word(SEED_S, i)
    })?;
    pattern::fill(W, f.d.mfn, SEED_D)
}

/// One element per refusal, in one batch; nothing is copied.
fn errors(table: SharedTable, f: &Frames) -> Outcome {
    let d = f.d.mfn;
    let s = f.s.mfn;
    let st = run([
        // Reference beyond the table.
        op(
            gref(DOMID_SELF, G_BEYOND, 0),
            frame(DOMID_SELF, d, 0),
            8,
            GNTCOPY_SOURCE_GREF,
        ),
        // Reference not granted.
        op(
            gref(DOMID_SELF, G_EMPTY, 0),
            frame(DOMID_SELF, d, 0),
            8,
            GNTCOPY_SOURCE_GREF,
        ),
        // Reference of a domain that does not exist.
        op(
            gref(NO_SUCH_DOMAIN, G_SRC, 0),
            frame(DOMID_SELF, d, 0),
            8,
            GNTCOPY_SOURCE_GREF,
        ),
        // Writing into a read-only grant.
        op(
            frame(DOMID_SELF, s, 0),
            gref(DOMID_SELF, G_SRC, 0),
            8,
            GNTCOPY_DEST_GREF,
        ),
        // Reading a frame that is not ours.
        op(
            frame(DOMID_SELF, NOT_OURS, 0),
            frame(DOMID_SELF, d, 0),
            8,
            0,
        ),
        // Writing a frame that is not ours.
        op(
            frame(DOMID_SELF, s, 0),
            frame(DOMID_SELF, NOT_OURS, 0),
            8,
            0,
        ),
    ])?;
    expect_statuses(
        st,
        [
            GNTST_BAD_GNTREF,
            GNTST_GENERAL_ERROR,
            GNTST_BAD_DOMAIN,
            GNTST_GENERAL_ERROR,
            GNTST_BAD_PAGE,
            GNTST_BAD_PAGE,
        ],
    )?;
    pattern::check(R, d, "destination of refused copies", |i| {
        pattern::word(SEED_D, i)
    })?;
    pattern::check(R, s, "source of refused copies", |i| {
        pattern::word(SEED_S, i)
    })?;
    expect_flags(table, G_SRC, PA | RO)?;
    expect_flags(table, G_EMPTY, 0)
}
