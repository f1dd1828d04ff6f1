//! One blkif request slot decoded and checked against the virtual disk it targets: what to do, or the status to refuse it with.
// Every field comes from the frontend and is hostile. Checks, in order: the operation is one we
// serve (read, write, flush-diskcache, write-barrier; anything else EOPNOTSUPP, as Linux's
// blkback answers discard and indirect requests it did not advertise); the segment count is
// 1..=11 for a read or write and 0..=11 for a flush or barrier (which may carry write data, as
// Linux's blkfront sends a FUA or preflush write); each segment has first_sect <= last_sect <= 7;
// the sectors, taken consecutively from sector_number, end inside the disk; and nothing writes
// a read-only disk. A refusal is ERROR, decided before any byte moves.

use hypercall_abi::blkif::{
    BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_READ, BLKIF_OP_WRITE,
    BLKIF_OP_WRITE_BARRIER, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR, BLKIF_SECTOR_SIZE,
    BLKIF_SLOT_SIZE, BlkifRequest,
};
use hypercall_abi::grant_table::GrantRef;

/// The part of a block device a frontend sees, in 512-byte sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VbdRegion {
    /// First sector of the region on the store.
    pub first: u64,
    /// Size of the region in sectors.
    pub sectors: u64,
    /// Writes are refused.
    pub readonly: bool,
}

/// What a checked request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Disk to guest.
    Read,
    /// Guest to disk.
    Write,
    /// Flush the disk cache, write the segments (if any), flush again.
    FlushWrite,
}

/// A segment of a checked request: sectors `first_sect..first_sect + count` of a granted frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// The frame's grant.
    pub gref: GrantRef,
    /// First sector in the frame (0..=7).
    pub first_sect: u8,
    /// Sectors (1..=8, within the frame).
    pub count: u8,
}

impl Segment {
    /// Byte offset in the frame.
    pub const fn offset(&self) -> usize {
        self.first_sect as usize * BLKIF_SECTOR_SIZE
    }

    /// Bytes.
    pub const fn len(&self) -> usize {
        self.count as usize * BLKIF_SECTOR_SIZE
    }

    /// Whether it moves nothing (never, once checked).
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// A request that passed every check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoRequest {
    /// The frontend's cookie.
    pub id: u64,
    /// The operation as sent (echoed in the response).
    pub operation: u8,
    /// What to do.
    pub kind: Kind,
    /// First sector, relative to the region.
    pub sector: u64,
    /// Segments in disk order (the first `nr_segments` are used).
    pub segments: [Segment; BLKIF_MAX_SEGMENTS_PER_REQUEST],
    /// Used segments.
    pub nr_segments: usize,
}

impl IoRequest {
    /// The used segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments[..self.nr_segments.min(BLKIF_MAX_SEGMENTS_PER_REQUEST)]
    }

    /// Bytes the segments carry.
    pub fn bytes(&self) -> usize {
        self.segments().iter().map(Segment::len).sum()
    }
}

/// A request refused before anything moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The frontend's cookie.
    pub id: u64,
    /// The operation as sent.
    pub operation: u8,
    /// `BLKIF_RSP_ERROR` or `BLKIF_RSP_EOPNOTSUPP`.
    pub status: i16,
    /// Why (for logs).
    pub reason: &'static str,
}

/// Decodes the slot and checks it against `vbd`.
pub fn decode(slot: &[u8; BLKIF_SLOT_SIZE], vbd: &VbdRegion) -> Result<IoRequest, Refusal> {
    let req = BlkifRequest::from_bytes(slot);
    let refuse = |status, reason| Refusal {
        id: req.id,
        operation: req.operation,
        status,
        reason,
    };
    let (kind, min_segments) = match req.operation {
        BLKIF_OP_READ => (Kind::Read, 1),
        BLKIF_OP_WRITE => (Kind::Write, 1),
        BLKIF_OP_FLUSH_DISKCACHE | BLKIF_OP_WRITE_BARRIER => (Kind::FlushWrite, 0),
        _ => return Err(refuse(BLKIF_RSP_EOPNOTSUPP, "operation not supported")),
    };
    let nr = usize::from(req.nr_segments);
    if nr < min_segments || nr > BLKIF_MAX_SEGMENTS_PER_REQUEST {
        return Err(refuse(BLKIF_RSP_ERROR, "bad segment count"));
    }
    if vbd.readonly && kind != Kind::Read && nr > 0 {
        return Err(refuse(BLKIF_RSP_ERROR, "write to a read-only disk"));
    }
    let mut segments = [Segment::default(); BLKIF_MAX_SEGMENTS_PER_REQUEST];
    let mut total: u64 = 0;
    for (out, seg) in segments.iter_mut().zip(&req.seg[..nr]) {
        let Some(count) = seg.sectors() else {
            return Err(refuse(BLKIF_RSP_ERROR, "bad segment bounds"));
        };
        *out = Segment {
            gref: seg.gref,
            first_sect: seg.first_sect,
            count: count as u8,
        };
        total += count as u64;
    }
    let end = req.sector_number.checked_add(total);
    if nr > 0 && end.is_none_or(|end| end > vbd.sectors) {
        return Err(refuse(BLKIF_RSP_ERROR, "sectors beyond the disk"));
    }
    Ok(IoRequest {
        id: req.id,
        operation: req.operation,
        kind,
        sector: req.sector_number,
        segments,
        nr_segments: nr,
    })
}
