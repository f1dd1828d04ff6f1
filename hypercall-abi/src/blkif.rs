//! The block split-driver ring protocol: requests, responses and xenstore keys (io/blkif.h).

use crate::grant_table::GrantRef;
use crate::layout::PAGE_SIZE;
use crate::ring::ring_size;
use core::mem::{offset_of, size_of};

/// A virtual device handle (`blkif_vdev_t`).
pub type BlkifVdev = u16;
/// A sector number in 512-byte units (`blkif_sector_t`).
pub type BlkifSector = u64;

/// Read sectors into the granted frames.
pub const BLKIF_OP_READ: u8 = 0;
/// Write sectors from the granted frames.
pub const BLKIF_OP_WRITE: u8 = 1;
/// A write ordered after every earlier one (needs `feature-barrier`).
pub const BLKIF_OP_WRITE_BARRIER: u8 = 2;
/// Flush the device's volatile cache (needs `feature-flush-cache`).
pub const BLKIF_OP_FLUSH_DISKCACHE: u8 = 3;
/// Reserved (a vendor-specific command).
pub const BLKIF_OP_RESERVED_1: u8 = 4;
/// Discard a range of sectors (`BlkifRequestDiscard`; needs `feature-discard`).
pub const BLKIF_OP_DISCARD: u8 = 5;
/// Read or write with segments in granted pages (`BlkifRequestIndirect`).
pub const BLKIF_OP_INDIRECT: u8 = 6;

/// Segments that fit in one `BlkifRequest`.
pub const BLKIF_MAX_SEGMENTS_PER_REQUEST: usize = 11;
/// Most indirect segment pages one `BlkifRequestIndirect` names.
pub const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST: usize = 8;
/// `BlkifRequestDiscard::flag` bit: make the discarded data unrecoverable.
pub const BLKIF_DISCARD_SECURE: u8 = 1;

/// Response status: done.
pub const BLKIF_RSP_OKAY: i16 = 0;
/// Response status: failed (I/O error).
pub const BLKIF_RSP_ERROR: i16 = -1;
/// Response status: operation not supported.
pub const BLKIF_RSP_EOPNOTSUPP: i16 = -2;

/// Unit of `sector_number`, `first_sect`, `last_sect` and the `sectors` key, in bytes.
pub const BLKIF_SECTOR_SIZE: usize = 512;
/// `log2(BLKIF_SECTOR_SIZE)`.
pub const BLKIF_SECTOR_SHIFT: u32 = 9;
/// 512-byte sectors in one granted frame (`last_sect` is below this).
pub const BLKIF_SECTORS_PER_PAGE: usize = PAGE_SIZE as usize / BLKIF_SECTOR_SIZE;

/// `info` key bit: the device is a CD-ROM.
pub const VDISK_CDROM: u32 = 0x1;
/// `info` key bit: the medium is removable.
pub const VDISK_REMOVABLE: u32 = 0x2;
/// `info` key bit: the device is read-only.
pub const VDISK_READONLY: u32 = 0x4;

/// The `protocol` value of the native x86_64 ring layout (io/protocols.h).
pub const XEN_IO_PROTO_ABI_X86_64: &str = "x86_64-abi";
/// The `protocol` value of the 32-bit x86 ring layout (not supported here).
pub const XEN_IO_PROTO_ABI_X86_32: &str = "x86_32-abi";

/// Frontend key: grant reference of the single ring page.
pub const BLKIF_KEY_RING_REF: &str = "ring-ref";
/// Frontend key: event channel port of the ring.
pub const BLKIF_KEY_EVENT_CHANNEL: &str = "event-channel";
/// Frontend key: ring layout (`XEN_IO_PROTO_ABI_*`).
pub const BLKIF_KEY_PROTOCOL: &str = "protocol";
/// Frontend key: log2 of the ring pages used.
pub const BLKIF_KEY_RING_PAGE_ORDER: &str = "ring-page-order";
/// Frontend key: which disk this is (encoded device number).
pub const BLKIF_KEY_VIRTUAL_DEVICE: &str = "virtual-device";
/// Frontend key: `disk`, `cdrom`...
pub const BLKIF_KEY_DEVICE_TYPE: &str = "device-type";
/// Both ends: grants stay mapped and are reused (boolean).
pub const BLKIF_KEY_FEATURE_PERSISTENT: &str = "feature-persistent";
/// Backend key: `BLKIF_OP_FLUSH_DISKCACHE` is accepted (boolean).
pub const BLKIF_KEY_FEATURE_FLUSH_CACHE: &str = "feature-flush-cache";
/// Backend key: `BLKIF_OP_WRITE_BARRIER` is accepted (boolean).
pub const BLKIF_KEY_FEATURE_BARRIER: &str = "feature-barrier";
/// Backend key: `BLKIF_OP_DISCARD` is accepted (boolean).
pub const BLKIF_KEY_FEATURE_DISCARD: &str = "feature-discard";
/// Backend key: most segments of a `BLKIF_OP_INDIRECT` request.
pub const BLKIF_KEY_FEATURE_MAX_INDIRECT_SEGMENTS: &str = "feature-max-indirect-segments";
/// Backend key: log2 of the most ring pages accepted.
pub const BLKIF_KEY_MAX_RING_PAGE_ORDER: &str = "max-ring-page-order";
/// Backend key: logical sector size in bytes.
pub const BLKIF_KEY_SECTOR_SIZE: &str = "sector-size";
/// Backend key: physical sector size in bytes.
pub const BLKIF_KEY_PHYSICAL_SECTOR_SIZE: &str = "physical-sector-size";
/// Backend key: device size in 512-byte sectors.
pub const BLKIF_KEY_SECTORS: &str = "sectors";
/// Backend key: `VDISK_*` bits.
pub const BLKIF_KEY_INFO: &str = "info";
/// Backend key (toolstack): access mode, `r` or `w`.
pub const BLKIF_KEY_MODE: &str = "mode";
/// Backend key (toolstack): what backs the disk.
pub const BLKIF_KEY_PARAMS: &str = "params";
/// Backend key (toolstack): kind of backing store (`file`, `phy`...).
pub const BLKIF_KEY_TYPE: &str = "type";

/// One data segment of a request: sectors `first_sect..=last_sect` of a granted
/// frame (`struct blkif_request_segment`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequestSegment {
    /// Grant of the data frame.
    pub gref: GrantRef,
    /// First sector in the frame (inclusive).
    pub first_sect: u8,
    /// Last sector in the frame (inclusive).
    pub last_sect: u8,
    /// Padding (C alignment).
    pub pad: [u8; 2],
}
const _: () = assert!(size_of::<BlkifRequestSegment>() == 8);
const _: () = assert!(offset_of!(BlkifRequestSegment, gref) == 0);
const _: () = assert!(offset_of!(BlkifRequestSegment, first_sect) == 4);
const _: () = assert!(offset_of!(BlkifRequestSegment, last_sect) == 5);
const _: () = assert!(offset_of!(BlkifRequestSegment, pad) == 6);

impl BlkifRequestSegment {
    /// Bytes of one segment on the ring or in an indirect page.
    pub const SIZE: usize = 8;

    /// Number of sectors the segment covers, or `None` if its bounds are
    /// reversed or leave the frame (guest input: check before use).
    pub const fn sectors(&self) -> Option<usize> {
        let (first, last) = (self.first_sect as usize, self.last_sect as usize);
        if first > last || last >= BLKIF_SECTORS_PER_PAGE {
            None
        } else {
            Some(last - first + 1)
        }
    }

    /// The segment's bytes as they sit on the ring.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.gref.to_le_bytes());
        b[4] = self.first_sect;
        b[5] = self.last_sect;
        b[6..8].copy_from_slice(&self.pad);
        b
    }

    /// The segment held by `b`.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        BlkifRequestSegment {
            gref: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            first_sect: b[4],
            last_sect: b[5],
            pad: [b[6], b[7]],
        }
    }
}

/// A read/write/barrier/flush request (`struct blkif_request`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequest {
    /// `BLKIF_OP_*`.
    pub operation: u8,
    /// Used entries of `seg`.
    pub nr_segments: u8,
    /// Device handle.
    pub handle: BlkifVdev,
    /// Padding (C alignment).
    pub pad: [u8; 4],
    /// Frontend's cookie, echoed in the response.
    pub id: u64,
    /// First sector on the disk (512-byte units).
    pub sector_number: BlkifSector,
    /// Data segments.
    pub seg: [BlkifRequestSegment; BLKIF_MAX_SEGMENTS_PER_REQUEST],
}
const _: () = assert!(size_of::<BlkifRequest>() == 112);
const _: () = assert!(offset_of!(BlkifRequest, operation) == 0);
const _: () = assert!(offset_of!(BlkifRequest, nr_segments) == 1);
const _: () = assert!(offset_of!(BlkifRequest, handle) == 2);
const _: () = assert!(offset_of!(BlkifRequest, pad) == 4);
const _: () = assert!(offset_of!(BlkifRequest, id) == 8);
const _: () = assert!(offset_of!(BlkifRequest, sector_number) == 16);
const _: () = assert!(offset_of!(BlkifRequest, seg) == 24);

impl BlkifRequest {
    /// Bytes of the request.
    pub const SIZE: usize = 112;
    /// Offset of `seg[0]`.
    const SEG_OFFSET: usize = 24;

    /// The request's bytes as they sit on the ring.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0] = self.operation;
        b[1] = self.nr_segments;
        b[2..4].copy_from_slice(&self.handle.to_le_bytes());
        b[4..8].copy_from_slice(&self.pad);
        b[8..16].copy_from_slice(&self.id.to_le_bytes());
        b[16..24].copy_from_slice(&self.sector_number.to_le_bytes());
        for (chunk, seg) in b[Self::SEG_OFFSET..]
            .chunks_exact_mut(BlkifRequestSegment::SIZE)
            .zip(&self.seg)
        {
            chunk.copy_from_slice(&seg.to_bytes());
        }
        b
    }

    /// The request held by `b` (a copy: the ring page may change under the reader).
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        let mut seg = [BlkifRequestSegment::default(); BLKIF_MAX_SEGMENTS_PER_REQUEST];
        for (s, chunk) in seg
            .iter_mut()
            .zip(b[Self::SEG_OFFSET..].chunks_exact(BlkifRequestSegment::SIZE))
        {
            let mut raw = [0u8; BlkifRequestSegment::SIZE];
            raw.copy_from_slice(chunk);
            *s = BlkifRequestSegment::from_bytes(&raw);
        }
        BlkifRequest {
            operation: b[0],
            nr_segments: b[1],
            handle: u16::from_le_bytes([b[2], b[3]]),
            pad: [b[4], b[5], b[6], b[7]],
            id: u64_at(b, 8),
            sector_number: u64_at(b, 16),
            seg,
        }
    }

    /// The used segments, or `None` if `nr_segments` is above
    /// `BLKIF_MAX_SEGMENTS_PER_REQUEST` (guest input: check before use). An
    /// empty slice is valid for a flush; a read or write needs at least one.
    pub fn segments(&self) -> Option<&[BlkifRequestSegment]> {
        self.seg.get(..self.nr_segments as usize)
    }
}

/// A discard request, read from a ring slot whose `operation` is
/// `BLKIF_OP_DISCARD` (`struct blkif_request_discard`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequestDiscard {
    /// `BLKIF_OP_DISCARD`.
    pub operation: u8,
    /// `BLKIF_DISCARD_SECURE` or 0.
    pub flag: u8,
    /// Device handle.
    pub handle: BlkifVdev,
    /// Padding (C alignment).
    pub pad: [u8; 4],
    /// Frontend's cookie, echoed in the response.
    pub id: u64,
    /// First sector to discard (512-byte units).
    pub sector_number: BlkifSector,
    /// Sectors to discard.
    pub nr_sectors: u64,
}
const _: () = assert!(size_of::<BlkifRequestDiscard>() == 32);
const _: () = assert!(offset_of!(BlkifRequestDiscard, flag) == 1);
const _: () = assert!(offset_of!(BlkifRequestDiscard, handle) == 2);
const _: () = assert!(offset_of!(BlkifRequestDiscard, id) == 8);
const _: () = assert!(offset_of!(BlkifRequestDiscard, sector_number) == 16);
const _: () = assert!(offset_of!(BlkifRequestDiscard, nr_sectors) == 24);

impl BlkifRequestDiscard {
    /// Bytes of the request (a prefix of the ring slot).
    pub const SIZE: usize = 32;

    /// The discard request held by the start of ring slot `b`.
    pub fn from_bytes(b: &[u8; BlkifRequest::SIZE]) -> Self {
        BlkifRequestDiscard {
            operation: b[0],
            flag: b[1],
            handle: u16::from_le_bytes([b[2], b[3]]),
            pad: [b[4], b[5], b[6], b[7]],
            id: u64_at(b, 8),
            sector_number: u64_at(b, 16),
            nr_sectors: u64_at(b, 24),
        }
    }

    /// A full ring slot holding the request (the rest zeroed).
    pub fn to_bytes(&self) -> [u8; BlkifRequest::SIZE] {
        let mut b = [0u8; BlkifRequest::SIZE];
        b[0] = self.operation;
        b[1] = self.flag;
        b[2..4].copy_from_slice(&self.handle.to_le_bytes());
        b[4..8].copy_from_slice(&self.pad);
        b[8..16].copy_from_slice(&self.id.to_le_bytes());
        b[16..24].copy_from_slice(&self.sector_number.to_le_bytes());
        b[24..32].copy_from_slice(&self.nr_sectors.to_le_bytes());
        b
    }
}

/// A request whose segments sit in granted pages, read from a ring slot whose
/// `operation` is `BLKIF_OP_INDIRECT` (`struct blkif_request_indirect`, x86_64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifRequestIndirect {
    /// `BLKIF_OP_INDIRECT`.
    pub operation: u8,
    /// `BLKIF_OP_READ` or `BLKIF_OP_WRITE`.
    pub indirect_op: u8,
    /// Number of segments in the indirect pages.
    pub nr_segments: u16,
    /// Padding (C alignment).
    pub pad0: [u8; 4],
    /// Frontend's cookie, echoed in the response.
    pub id: u64,
    /// First sector on the disk (512-byte units).
    pub sector_number: BlkifSector,
    /// Device handle.
    pub handle: BlkifVdev,
    /// Padding (C alignment).
    pub pad1: [u8; 2],
    /// Grants of the pages holding `BlkifRequestSegment` arrays.
    pub indirect_grefs: [GrantRef; BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST],
    /// Tail padding (C alignment).
    pub pad2: [u8; 4],
}
const _: () = assert!(size_of::<BlkifRequestIndirect>() == 64);
const _: () = assert!(offset_of!(BlkifRequestIndirect, indirect_op) == 1);
const _: () = assert!(offset_of!(BlkifRequestIndirect, nr_segments) == 2);
const _: () = assert!(offset_of!(BlkifRequestIndirect, id) == 8);
const _: () = assert!(offset_of!(BlkifRequestIndirect, sector_number) == 16);
const _: () = assert!(offset_of!(BlkifRequestIndirect, handle) == 24);
const _: () = assert!(offset_of!(BlkifRequestIndirect, indirect_grefs) == 28);
const _: () = assert!(offset_of!(BlkifRequestIndirect, pad2) == 60);

impl BlkifRequestIndirect {
    /// Bytes of the request (a prefix of the ring slot).
    pub const SIZE: usize = 64;
    /// Segments held by one indirect page.
    pub const SEGMENTS_PER_PAGE: usize = PAGE_SIZE as usize / BlkifRequestSegment::SIZE;

    /// The indirect request held by the start of ring slot `b`.
    pub fn from_bytes(b: &[u8; BlkifRequest::SIZE]) -> Self {
        let mut indirect_grefs = [0; BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
        for (g, chunk) in indirect_grefs.iter_mut().zip(b[28..60].chunks_exact(4)) {
            *g = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        BlkifRequestIndirect {
            operation: b[0],
            indirect_op: b[1],
            nr_segments: u16::from_le_bytes([b[2], b[3]]),
            pad0: [b[4], b[5], b[6], b[7]],
            id: u64_at(b, 8),
            sector_number: u64_at(b, 16),
            handle: u16::from_le_bytes([b[24], b[25]]),
            pad1: [b[26], b[27]],
            indirect_grefs,
            pad2: [b[60], b[61], b[62], b[63]],
        }
    }

    /// A full ring slot holding the request (the rest zeroed).
    pub fn to_bytes(&self) -> [u8; BlkifRequest::SIZE] {
        let mut b = [0u8; BlkifRequest::SIZE];
        b[0] = self.operation;
        b[1] = self.indirect_op;
        b[2..4].copy_from_slice(&self.nr_segments.to_le_bytes());
        b[4..8].copy_from_slice(&self.pad0);
        b[8..16].copy_from_slice(&self.id.to_le_bytes());
        b[16..24].copy_from_slice(&self.sector_number.to_le_bytes());
        b[24..26].copy_from_slice(&self.handle.to_le_bytes());
        b[26..28].copy_from_slice(&self.pad1);
        for (chunk, g) in b[28..60].chunks_exact_mut(4).zip(&self.indirect_grefs) {
            chunk.copy_from_slice(&g.to_le_bytes());
        }
        b[60..64].copy_from_slice(&self.pad2);
        b
    }

    /// Indirect pages needed for `nr_segments` segments, or `None` if that is 0
    /// or needs more than `BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST` pages.
    pub const fn pages_needed(nr_segments: u16) -> Option<usize> {
        let n = nr_segments as usize;
        let pages = n.div_ceil(Self::SEGMENTS_PER_PAGE);
        if n == 0 || pages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST {
            None
        } else {
            Some(pages)
        }
    }
}

/// The answer to one request (`struct blkif_response`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlkifResponse {
    /// The request's `id`.
    pub id: u64,
    /// The request's `operation`.
    pub operation: u8,
    /// Padding (C alignment).
    pub pad0: u8,
    /// `BLKIF_RSP_*`.
    pub status: i16,
    /// Tail padding (C alignment).
    pub pad1: [u8; 4],
}
const _: () = assert!(size_of::<BlkifResponse>() == 16);
const _: () = assert!(offset_of!(BlkifResponse, id) == 0);
const _: () = assert!(offset_of!(BlkifResponse, operation) == 8);
const _: () = assert!(offset_of!(BlkifResponse, status) == 10);
const _: () = assert!(offset_of!(BlkifResponse, pad1) == 12);

impl BlkifResponse {
    /// Bytes of the response.
    pub const SIZE: usize = 16;

    /// A response to a request with `id` and `operation`.
    pub const fn new(id: u64, operation: u8, status: i16) -> Self {
        BlkifResponse {
            id,
            operation,
            pad0: 0,
            status,
            pad1: [0; 4],
        }
    }

    /// The response's bytes as they sit on the ring.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.id.to_le_bytes());
        b[8] = self.operation;
        b[9] = self.pad0;
        b[10..12].copy_from_slice(&self.status.to_le_bytes());
        b[12..16].copy_from_slice(&self.pad1);
        b
    }

    /// The response held by `b`.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        BlkifResponse {
            id: u64_at(b, 0),
            operation: b[8],
            pad0: b[9],
            status: i16::from_le_bytes([b[10], b[11]]),
            pad1: [b[12], b[13], b[14], b[15]],
        }
    }
}

/// Bytes of one blkif ring slot (the request/response union).
pub const BLKIF_SLOT_SIZE: usize = if BlkifRequest::SIZE > BlkifResponse::SIZE {
    BlkifRequest::SIZE
} else {
    BlkifResponse::SIZE
};
/// Slots of a one-page blkif ring.
pub const BLKIF_RING_SIZE: usize = ring_size(PAGE_SIZE as usize, BLKIF_SLOT_SIZE);
const _: () = assert!(BLKIF_SLOT_SIZE == 112);
const _: () = assert!(BLKIF_RING_SIZE == 32);
const _: () = assert!(BlkifRequestDiscard::SIZE <= BLKIF_SLOT_SIZE);
const _: () = assert!(BlkifRequestIndirect::SIZE <= BLKIF_SLOT_SIZE);

/// The little-endian u64 at `off` of a fixed-size buffer (`off + 8 <= N`).
fn u64_at<const N: usize>(b: &[u8; N], off: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_blkif_h() {
        assert_eq!(BLKIF_OP_READ, 0);
        assert_eq!(BLKIF_OP_WRITE, 1);
        assert_eq!(BLKIF_OP_WRITE_BARRIER, 2);
        assert_eq!(BLKIF_OP_FLUSH_DISKCACHE, 3);
        assert_eq!(BLKIF_OP_RESERVED_1, 4);
        assert_eq!(BLKIF_OP_DISCARD, 5);
        assert_eq!(BLKIF_OP_INDIRECT, 6);
        assert_eq!(BLKIF_MAX_SEGMENTS_PER_REQUEST, 11);
        assert_eq!(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST, 8);
        assert_eq!(BLKIF_DISCARD_SECURE, 1);
        assert_eq!(BLKIF_RSP_OKAY, 0);
        assert_eq!(BLKIF_RSP_ERROR, -1);
        assert_eq!(BLKIF_RSP_EOPNOTSUPP, -2);
        assert_eq!(BLKIF_SECTOR_SIZE, 512);
        assert_eq!(1usize << BLKIF_SECTOR_SHIFT, BLKIF_SECTOR_SIZE);
        assert_eq!(BLKIF_SECTORS_PER_PAGE, 8);
        assert_eq!((VDISK_CDROM, VDISK_REMOVABLE, VDISK_READONLY), (1, 2, 4));
        assert_eq!(XEN_IO_PROTO_ABI_X86_64, "x86_64-abi");
        assert_eq!(XEN_IO_PROTO_ABI_X86_32, "x86_32-abi");
    }

    #[test]
    fn xenstore_keys() {
        let keys = [
            (BLKIF_KEY_RING_REF, "ring-ref"),
            (BLKIF_KEY_EVENT_CHANNEL, "event-channel"),
            (BLKIF_KEY_PROTOCOL, "protocol"),
            (BLKIF_KEY_RING_PAGE_ORDER, "ring-page-order"),
            (BLKIF_KEY_VIRTUAL_DEVICE, "virtual-device"),
            (BLKIF_KEY_DEVICE_TYPE, "device-type"),
            (BLKIF_KEY_FEATURE_PERSISTENT, "feature-persistent"),
            (BLKIF_KEY_FEATURE_FLUSH_CACHE, "feature-flush-cache"),
            (BLKIF_KEY_FEATURE_BARRIER, "feature-barrier"),
            (BLKIF_KEY_FEATURE_DISCARD, "feature-discard"),
            (
                BLKIF_KEY_FEATURE_MAX_INDIRECT_SEGMENTS,
                "feature-max-indirect-segments",
            ),
            (BLKIF_KEY_MAX_RING_PAGE_ORDER, "max-ring-page-order"),
            (BLKIF_KEY_SECTOR_SIZE, "sector-size"),
            (BLKIF_KEY_PHYSICAL_SECTOR_SIZE, "physical-sector-size"),
            (BLKIF_KEY_SECTORS, "sectors"),
            (BLKIF_KEY_INFO, "info"),
            (BLKIF_KEY_MODE, "mode"),
            (BLKIF_KEY_PARAMS, "params"),
            (BLKIF_KEY_TYPE, "type"),
        ];
        for (k, v) in keys {
            assert_eq!(k, v);
        }
    }

    #[test]
    fn layouts_match_blkif_h_on_x86_64() {
        assert_eq!(size_of::<BlkifRequestSegment>(), 8);
        assert_eq!(offset_of!(BlkifRequestSegment, first_sect), 4);
        assert_eq!(offset_of!(BlkifRequestSegment, last_sect), 5);
        assert_eq!(size_of::<BlkifRequest>(), 112);
        assert_eq!(offset_of!(BlkifRequest, handle), 2);
        assert_eq!(offset_of!(BlkifRequest, id), 8);
        assert_eq!(offset_of!(BlkifRequest, sector_number), 16);
        assert_eq!(offset_of!(BlkifRequest, seg), 24);
        assert_eq!(size_of::<BlkifRequestDiscard>(), 32);
        assert_eq!(offset_of!(BlkifRequestDiscard, nr_sectors), 24);
        assert_eq!(size_of::<BlkifRequestIndirect>(), 64);
        assert_eq!(offset_of!(BlkifRequestIndirect, handle), 24);
        assert_eq!(offset_of!(BlkifRequestIndirect, indirect_grefs), 28);
        assert_eq!(size_of::<BlkifResponse>(), 16);
        assert_eq!(offset_of!(BlkifResponse, operation), 8);
        assert_eq!(offset_of!(BlkifResponse, status), 10);
        assert_eq!(BLKIF_SLOT_SIZE, 112);
        assert_eq!(BLKIF_RING_SIZE, 32);
        assert_eq!(BlkifRequestIndirect::SEGMENTS_PER_PAGE, 512);
    }

    #[test]
    fn request_round_trips_through_bytes() {
        let mut r = BlkifRequest {
            operation: BLKIF_OP_WRITE,
            nr_segments: 2,
            handle: 0x0301,
            id: 0x1122_3344_5566_7788,
            sector_number: 0x99,
            ..Default::default()
        };
        r.seg[0] = BlkifRequestSegment {
            gref: 0xabcd,
            first_sect: 1,
            last_sect: 7,
            pad: [0; 2],
        };
        r.seg[10].gref = 0xdead_beef;
        let b = r.to_bytes();
        assert_eq!(b[0], 1);
        assert_eq!(b[1], 2);
        assert_eq!(&b[2..4], &[0x01, 0x03]);
        assert_eq!(b[8], 0x88);
        assert_eq!(b[16], 0x99);
        assert_eq!(&b[24..30], &[0xcd, 0xab, 0, 0, 1, 7]);
        assert_eq!(&b[104..108], &[0xef, 0xbe, 0xad, 0xde]);
        assert_eq!(BlkifRequest::from_bytes(&b), r);
        assert_eq!(r.segments().map(<[_]>::len), Some(2));
    }

    #[test]
    fn hostile_segment_counts_and_bounds_are_refused() {
        let mut r = BlkifRequest::default();
        assert_eq!(r.segments(), Some(&[][..]));
        r.nr_segments = 11;
        assert_eq!(r.segments().map(<[_]>::len), Some(11));
        r.nr_segments = 12;
        assert_eq!(r.segments(), None);
        r.nr_segments = 255;
        assert_eq!(r.segments(), None);
        let seg = |first_sect, last_sect| BlkifRequestSegment {
            gref: 0,
            first_sect,
            last_sect,
            pad: [0; 2],
        };
        assert_eq!(seg(0, 7).sectors(), Some(8));
        assert_eq!(seg(3, 3).sectors(), Some(1));
        assert_eq!(seg(4, 3).sectors(), None);
        assert_eq!(seg(0, 8).sectors(), None);
        assert_eq!(seg(255, 255).sectors(), None);
    }

    #[test]
    fn discard_and_indirect_round_trip() {
        let d = BlkifRequestDiscard {
            operation: BLKIF_OP_DISCARD,
            flag: BLKIF_DISCARD_SECURE,
            handle: 5,
            pad: [0; 4],
            id: 7,
            sector_number: 100,
            nr_sectors: 0x1_0000_0000,
        };
        let b = d.to_bytes();
        assert_eq!(&b[24..32], &[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(BlkifRequestDiscard::from_bytes(&b), d);

        let mut i = BlkifRequestIndirect {
            operation: BLKIF_OP_INDIRECT,
            indirect_op: BLKIF_OP_READ,
            nr_segments: 600,
            id: 9,
            sector_number: 8,
            handle: 0x51,
            ..Default::default()
        };
        i.indirect_grefs[7] = 0x0102_0304;
        let b = i.to_bytes();
        assert_eq!(&b[2..4], &600u16.to_le_bytes());
        assert_eq!(&b[24..26], &[0x51, 0]);
        assert_eq!(&b[56..60], &[4, 3, 2, 1]);
        assert_eq!(BlkifRequestIndirect::from_bytes(&b), i);
        assert_eq!(BlkifRequestIndirect::pages_needed(600), Some(2));
        assert_eq!(BlkifRequestIndirect::pages_needed(512), Some(1));
        assert_eq!(BlkifRequestIndirect::pages_needed(4096), Some(8));
        assert_eq!(BlkifRequestIndirect::pages_needed(4097), None);
        assert_eq!(BlkifRequestIndirect::pages_needed(0), None);
        assert_eq!(BlkifRequestIndirect::pages_needed(u16::MAX), None);
    }

    #[test]
    fn response_round_trips_through_bytes() {
        let r = BlkifResponse::new(0x0102_0304_0506_0708, BLKIF_OP_FLUSH_DISKCACHE, -2);
        let b = r.to_bytes();
        assert_eq!(b, [8, 7, 6, 5, 4, 3, 2, 1, 3, 0, 0xfe, 0xff, 0, 0, 0, 0]);
        assert_eq!(BlkifResponse::from_bytes(&b), r);
    }
}
