//! Moving a request's data between the frontend's granted frames and Dom0's staging pages with one batched GNTTABOP_copy.
// The staging area is `STAGING_PAGES` pages of Dom0's own, contiguous to Dom0 (so one disk call
// covers the request) but separate frames to the hypervisor: the segments are packed one after
// another, and a segment that straddles a staging page boundary becomes two copy elements (a
// copy never crosses a page on either side). At most 2 elements per segment.

use hypercall_abi::blkif::BLKIF_MAX_SEGMENTS_PER_REQUEST;
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTST_OKAY, GnttabCopy, GnttabCopyPtr,
};

use super::request::IoRequest;
use crate::grant_copier::GrantCopier;

/// Bytes in a page.
pub const PAGE_SIZE: usize = 4096;
/// Staging pages: room for a request of 11 full segments.
pub const STAGING_PAGES: usize = BLKIF_MAX_SEGMENTS_PER_REQUEST;
/// Bytes of staging.
pub const STAGING_BYTES: usize = STAGING_PAGES * PAGE_SIZE;
/// Most copy elements one request needs.
pub const MAX_COPY_OPS: usize = 2 * BLKIF_MAX_SEGMENTS_PER_REQUEST;

/// GNTTABOP_copy, and the staging pages the copies' local sides name.
pub trait StagedCopier: GrantCopier {
    /// The frame number of staging page `page` (< `STAGING_PAGES`), as GNTTABOP_copy takes a
    /// frame of the caller.
    fn staging_frame(&self, page: usize) -> u64;
    /// The staging area (`STAGING_BYTES` bytes).
    fn staging(&mut self) -> &mut [u8];
}

/// Which way the data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Guest frames to staging (a write).
    FromGuest,
    /// Staging to guest frames (a read).
    ToGuest,
}

/// The copy elements for `req`'s segments (packed in staging from byte 0), into `ops`;
/// returns how many. `ops` needs `MAX_COPY_OPS` room.
pub fn build_ops(
    req: &IoRequest,
    frontend: DomId,
    dir: Direction,
    copier: &dyn StagedCopier,
    ops: &mut [GnttabCopy; MAX_COPY_OPS],
) -> usize {
    let mut n = 0;
    let mut local = 0usize;
    for seg in req.segments() {
        let mut done = 0usize;
        while done < seg.len() && n < MAX_COPY_OPS {
            let at = local + done;
            let page_off = at % PAGE_SIZE;
            let len = (seg.len() - done).min(PAGE_SIZE - page_off);
            let guest = GnttabCopyPtr {
                u: u64::from(seg.gref),
                domid: frontend,
                offset: (seg.offset() + done) as u16,
                pad: 0,
            };
            let mine = GnttabCopyPtr {
                u: copier.staging_frame(at / PAGE_SIZE),
                domid: DOMID_SELF,
                offset: page_off as u16,
                pad: 0,
            };
            let (source, dest, flags) = match dir {
                Direction::FromGuest => (guest, mine, GNTCOPY_SOURCE_GREF),
                Direction::ToGuest => (mine, guest, GNTCOPY_DEST_GREF),
            };
            ops[n] = GnttabCopy {
                source,
                dest,
                len: len as u16,
                flags,
                status: 0,
                pad: 0,
            };
            n += 1;
            done += len;
        }
        local += seg.len();
    }
    n
}

/// Runs the elements; true if the call and every element succeeded.
pub fn run(copier: &mut dyn GrantCopier, ops: &mut [GnttabCopy]) -> bool {
    copier.copy(ops).is_ok() && ops.iter().all(|op| op.status == GNTST_OKAY)
}
