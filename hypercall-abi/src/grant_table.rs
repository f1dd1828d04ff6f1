//! grant_table_op: sub-operations, grant entry flags, map flags, status codes and structs.

use crate::domid::DomId;
use core::mem::{offset_of, size_of};

/// Index of an entry in a domain's grant table.
pub type GrantRef = u32;
/// Handle of a grant mapping.
pub type GrantHandle = u32;

/// Map a grant (`GnttabMapGrantRef`).
pub const GNTTABOP_MAP_GRANT_REF: u32 = 0;
/// Unmap a grant (`GnttabUnmapGrantRef`).
pub const GNTTABOP_UNMAP_GRANT_REF: u32 = 1;
/// Set up the caller's grant table frames (`GnttabSetupTable`).
pub const GNTTABOP_SETUP_TABLE: u32 = 2;
/// Dump a grant table to the console (debug).
pub const GNTTABOP_DUMP_TABLE: u32 = 3;
/// Transfer a page to another domain.
pub const GNTTABOP_TRANSFER: u32 = 4;
/// Hypervisor-side copy through grants.
pub const GNTTABOP_COPY: u32 = 5;
/// Query grant table size (`GnttabQuerySize`).
pub const GNTTABOP_QUERY_SIZE: u32 = 6;
/// Unmap and replace a mapping.
pub const GNTTABOP_UNMAP_AND_REPLACE: u32 = 7;
/// Select the grant table version.
pub const GNTTABOP_SET_VERSION: u32 = 8;
/// Get v2 status frames.
pub const GNTTABOP_GET_STATUS_FRAMES: u32 = 9;
/// Get the grant table version.
pub const GNTTABOP_GET_VERSION: u32 = 10;
/// Swap two grant entries.
pub const GNTTABOP_SWAP_GRANT_REF: u32 = 11;
/// Cache maintenance on a granted page.
pub const GNTTABOP_CACHE_FLUSH: u32 = 12;

/// Grant type: none.
pub const GTF_INVALID: u16 = 0;
/// Grant type: `domid` may map/access `frame`.
pub const GTF_PERMIT_ACCESS: u16 = 1;
/// Grant type: `domid` may transfer a page into this slot.
pub const GTF_ACCEPT_TRANSFER: u16 = 2;
/// Grant type: transitive (v2 only).
pub const GTF_TRANSITIVE: u16 = 3;
/// Mask of the grant type bits.
pub const GTF_TYPE_MASK: u16 = 3;
/// Read-only access only.
pub const GTF_READONLY: u16 = 1 << 2;
/// Set by the hypervisor while mapped for reading.
pub const GTF_READING: u16 = 1 << 3;
/// Set by the hypervisor while mapped for writing.
pub const GTF_WRITING: u16 = 1 << 4;
/// Cache attribute: write-through.
pub const GTF_PWT: u16 = 1 << 5;
/// Cache attribute: cache disabled.
pub const GTF_PCD: u16 = 1 << 6;
/// Cache attribute: PAT.
pub const GTF_PAT: u16 = 1 << 7;
/// Sub-page grant (v2 only).
pub const GTF_SUB_PAGE: u16 = 1 << 8;
/// Transfer: the hypervisor committed to it.
pub const GTF_TRANSFER_COMMITTED: u16 = 1 << 2;
/// Transfer: complete, `frame` is valid.
pub const GTF_TRANSFER_COMPLETED: u16 = 1 << 3;

/// Map for device (DMA) access.
pub const GNTMAP_DEVICE_MAP: u32 = 1 << 0;
/// Map for host CPU access.
pub const GNTMAP_HOST_MAP: u32 = 1 << 1;
/// Map read-only.
pub const GNTMAP_READONLY: u32 = 1 << 2;
/// Host mapping also usable by the guest's user mode.
pub const GNTMAP_APPLICATION_MAP: u32 = 1 << 3;
/// `host_addr` is the machine address of a PTE, not a virtual address.
pub const GNTMAP_CONTAINS_PTE: u32 = 1 << 4;
/// Fail rather than retry on a paged-out frame.
pub const GNTMAP_CAN_FAIL: u32 = 1 << 5;
/// First of the map flag bits the guest may use for itself (`_GNTMAP_guest_avail0`); on x86
/// PV the three from here end up in the host PTE's available bits 9..=11.
pub const GNTMAP_GUEST_AVAIL0_SHIFT: u32 = 16;
/// The map flag bits left to the guest (`GNTMAP_guest_avail_mask`).
pub const GNTMAP_GUEST_AVAIL_MASK: u32 = u32::MAX << GNTMAP_GUEST_AVAIL0_SHIFT;

/// Grant status: success.
pub const GNTST_OKAY: i16 = 0;
/// Grant status: general error.
pub const GNTST_GENERAL_ERROR: i16 = -1;
/// Grant status: unknown domain.
pub const GNTST_BAD_DOMAIN: i16 = -2;
/// Grant status: bad grant reference.
pub const GNTST_BAD_GNTREF: i16 = -3;
/// Grant status: bad mapping handle.
pub const GNTST_BAD_HANDLE: i16 = -4;
/// Grant status: bad virtual address.
pub const GNTST_BAD_VIRT_ADDR: i16 = -5;
/// Grant status: bad device address.
pub const GNTST_BAD_DEV_ADDR: i16 = -6;
/// Grant status: no IOMMU space.
pub const GNTST_NO_DEVICE_SPACE: i16 = -7;
/// Grant status: permission denied.
pub const GNTST_PERMISSION_DENIED: i16 = -8;
/// Grant status: bad page.
pub const GNTST_BAD_PAGE: i16 = -9;
/// Grant status: copy crosses a page boundary.
pub const GNTST_BAD_COPY_ARG: i16 = -10;
/// Grant status: transfer address too large.
pub const GNTST_ADDRESS_TOO_BIG: i16 = -11;
/// Grant status: try again.
pub const GNTST_EAGAIN: i16 = -12;

/// Entries reserved at the start of every grant table.
pub const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
/// Reserved grant for the console ring.
pub const GNTTAB_RESERVED_CONSOLE: GrantRef = 0;
/// Reserved grant for the xenstore ring.
pub const GNTTAB_RESERVED_XENSTORE: GrantRef = 1;

/// A version 1 grant table entry (`struct grant_entry_v1`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantEntryV1 {
    /// `GTF_*`.
    pub flags: u16,
    /// The domain being granted access.
    pub domid: DomId,
    /// The frame being granted.
    pub frame: u32,
}
const _: () = assert!(size_of::<GrantEntryV1>() == 8);
const _: () = assert!(offset_of!(GrantEntryV1, flags) == 0);
const _: () = assert!(offset_of!(GrantEntryV1, domid) == 2);
const _: () = assert!(offset_of!(GrantEntryV1, frame) == 4);

/// Argument of `GNTTABOP_setup_table`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabSetupTable {
    /// In: domain (DOMID_SELF unless privileged).
    pub dom: DomId,
    /// Padding (C alignment).
    pub pad0: u16,
    /// In: number of frames wanted.
    pub nr_frames: u32,
    /// Out: `GNTST_*`.
    pub status: i16,
    /// Padding (C alignment).
    pub pad1: [u8; 6],
    /// In: guest pointer to an array of `nr_frames` u64 frame numbers (out).
    pub frame_list: u64,
}
const _: () = assert!(size_of::<GnttabSetupTable>() == 24);
const _: () = assert!(offset_of!(GnttabSetupTable, dom) == 0);
const _: () = assert!(offset_of!(GnttabSetupTable, pad0) == 2);
const _: () = assert!(offset_of!(GnttabSetupTable, nr_frames) == 4);
const _: () = assert!(offset_of!(GnttabSetupTable, status) == 8);
const _: () = assert!(offset_of!(GnttabSetupTable, pad1) == 10);
const _: () = assert!(offset_of!(GnttabSetupTable, frame_list) == 16);

/// Argument of `GNTTABOP_map_grant_ref`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabMapGrantRef {
    /// In: virtual address (or PTE machine address with `GNTMAP_CONTAINS_PTE`).
    pub host_addr: u64,
    /// In: `GNTMAP_*`.
    pub flags: u32,
    /// In: the grant reference.
    pub ref_: GrantRef,
    /// In: the granting domain.
    pub dom: DomId,
    /// Out: `GNTST_*`.
    pub status: i16,
    /// Out: handle for unmapping.
    pub handle: GrantHandle,
    /// Out: bus address for `GNTMAP_DEVICE_MAP`.
    pub dev_bus_addr: u64,
}
const _: () = assert!(size_of::<GnttabMapGrantRef>() == 32);
const _: () = assert!(offset_of!(GnttabMapGrantRef, host_addr) == 0);
const _: () = assert!(offset_of!(GnttabMapGrantRef, flags) == 8);
const _: () = assert!(offset_of!(GnttabMapGrantRef, ref_) == 12);
const _: () = assert!(offset_of!(GnttabMapGrantRef, dom) == 16);
const _: () = assert!(offset_of!(GnttabMapGrantRef, status) == 18);
const _: () = assert!(offset_of!(GnttabMapGrantRef, handle) == 20);
const _: () = assert!(offset_of!(GnttabMapGrantRef, dev_bus_addr) == 24);

/// Argument of `GNTTABOP_unmap_grant_ref`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabUnmapGrantRef {
    /// In: the host mapping to remove (0: none).
    pub host_addr: u64,
    /// In: the device mapping to remove (0: none).
    pub dev_bus_addr: u64,
    /// In: handle from the map call.
    pub handle: GrantHandle,
    /// Out: `GNTST_*`.
    pub status: i16,
    /// Padding (C alignment).
    pub pad: u16,
}
const _: () = assert!(size_of::<GnttabUnmapGrantRef>() == 24);
const _: () = assert!(offset_of!(GnttabUnmapGrantRef, host_addr) == 0);
const _: () = assert!(offset_of!(GnttabUnmapGrantRef, dev_bus_addr) == 8);
const _: () = assert!(offset_of!(GnttabUnmapGrantRef, handle) == 16);
const _: () = assert!(offset_of!(GnttabUnmapGrantRef, status) == 20);
const _: () = assert!(offset_of!(GnttabUnmapGrantRef, pad) == 22);

/// Argument of `GNTTABOP_query_size`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabQuerySize {
    /// In: domain (DOMID_SELF unless privileged).
    pub dom: DomId,
    /// Padding (C alignment).
    pub pad0: u16,
    /// Out: current number of frames.
    pub nr_frames: u32,
    /// Out: maximum number of frames.
    pub max_nr_frames: u32,
    /// Out: `GNTST_*`.
    pub status: i16,
    /// Padding (C alignment).
    pub pad1: u16,
}
const _: () = assert!(size_of::<GnttabQuerySize>() == 16);
const _: () = assert!(offset_of!(GnttabQuerySize, dom) == 0);
const _: () = assert!(offset_of!(GnttabQuerySize, pad0) == 2);
const _: () = assert!(offset_of!(GnttabQuerySize, nr_frames) == 4);
const _: () = assert!(offset_of!(GnttabQuerySize, max_nr_frames) == 8);
const _: () = assert!(offset_of!(GnttabQuerySize, status) == 12);
const _: () = assert!(offset_of!(GnttabQuerySize, pad1) == 14);

/// Copy flag: the source is a grant reference of `source.domid` (else a frame of the caller).
pub const GNTCOPY_SOURCE_GREF: u16 = 1 << 0;
/// Copy flag: the destination is a grant reference of `dest.domid` (else a frame of the caller).
pub const GNTCOPY_DEST_GREF: u16 = 1 << 1;

/// Continuation bits above the command number of grant_table_op (`GNTTABOP_CONTINUATION_ARG_SHIFT`).
pub const GNTTABOP_CONTINUATION_ARG_SHIFT: u32 = 12;
/// Mask of the command number in grant_table_op's first argument (`GNTTABOP_CMD_MASK`).
pub const GNTTABOP_CMD_MASK: u32 = (1 << GNTTABOP_CONTINUATION_ARG_SHIFT) - 1;

/// One side of a grant copy (`struct gnttab_copy_ptr`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabCopyPtr {
    /// The union `u`: a grant reference (low 32 bits) or a frame number (`xen_pfn_t`).
    pub u: u64,
    /// The domain the grant reference belongs to (DOMID_SELF for a frame).
    pub domid: DomId,
    /// Byte offset in the page.
    pub offset: u16,
    /// Padding (C alignment).
    pub pad: u32,
}
const _: () = assert!(size_of::<GnttabCopyPtr>() == 16);
const _: () = assert!(offset_of!(GnttabCopyPtr, u) == 0);
const _: () = assert!(offset_of!(GnttabCopyPtr, domid) == 8);
const _: () = assert!(offset_of!(GnttabCopyPtr, offset) == 10);

/// One element of `GNTTABOP_copy` (`struct gnttab_copy`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabCopy {
    /// In: where to copy from.
    pub source: GnttabCopyPtr,
    /// In: where to copy to.
    pub dest: GnttabCopyPtr,
    /// In: number of bytes.
    pub len: u16,
    /// In: `GNTCOPY_*`.
    pub flags: u16,
    /// Out: `GNTST_*`.
    pub status: i16,
    /// Padding (C alignment).
    pub pad: u16,
}
const _: () = assert!(size_of::<GnttabCopy>() == 40);
const _: () = assert!(offset_of!(GnttabCopy, source) == 0);
const _: () = assert!(offset_of!(GnttabCopy, dest) == 16);
const _: () = assert!(offset_of!(GnttabCopy, len) == 32);
const _: () = assert!(offset_of!(GnttabCopy, flags) == 34);
const _: () = assert!(offset_of!(GnttabCopy, status) == 36);

/// Argument of `GNTTABOP_set_version` (`struct gnttab_set_version`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabSetVersion {
    /// In: the version wanted; out: the version in force.
    pub version: u32,
}
const _: () = assert!(size_of::<GnttabSetVersion>() == 4);

/// Argument of `GNTTABOP_get_version` (`struct gnttab_get_version`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabGetVersion {
    /// In: domain (DOMID_SELF unless privileged).
    pub dom: DomId,
    /// Padding (C alignment).
    pub pad: u16,
    /// Out: the domain's grant table version.
    pub version: u32,
}
const _: () = assert!(size_of::<GnttabGetVersion>() == 8);
const _: () = assert!(offset_of!(GnttabGetVersion, dom) == 0);
const _: () = assert!(offset_of!(GnttabGetVersion, version) == 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_match_grant_table_h() {
        let ops = [
            GNTTABOP_MAP_GRANT_REF,
            GNTTABOP_UNMAP_GRANT_REF,
            GNTTABOP_SETUP_TABLE,
            GNTTABOP_DUMP_TABLE,
            GNTTABOP_TRANSFER,
            GNTTABOP_COPY,
            GNTTABOP_QUERY_SIZE,
            GNTTABOP_UNMAP_AND_REPLACE,
            GNTTABOP_SET_VERSION,
            GNTTABOP_GET_STATUS_FRAMES,
            GNTTABOP_GET_VERSION,
            GNTTABOP_SWAP_GRANT_REF,
            GNTTABOP_CACHE_FLUSH,
        ];
        assert_eq!(ops, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn gtf_flags_match_grant_table_h() {
        assert_eq!(GTF_INVALID, 0);
        assert_eq!(GTF_PERMIT_ACCESS, 1);
        assert_eq!(GTF_ACCEPT_TRANSFER, 2);
        assert_eq!(GTF_TRANSITIVE, 3);
        assert_eq!(GTF_TYPE_MASK, 3);
        assert_eq!(GTF_READONLY, 4);
        assert_eq!(GTF_READING, 8);
        assert_eq!(GTF_WRITING, 16);
        assert_eq!(GTF_PWT, 32);
        assert_eq!(GTF_PCD, 64);
        assert_eq!(GTF_PAT, 128);
        assert_eq!(GTF_SUB_PAGE, 256);
        assert_eq!(GTF_TRANSFER_COMMITTED, 4);
        assert_eq!(GTF_TRANSFER_COMPLETED, 8);
    }

    #[test]
    fn gntmap_flags_match_grant_table_h() {
        assert_eq!(GNTMAP_DEVICE_MAP, 1);
        assert_eq!(GNTMAP_HOST_MAP, 2);
        assert_eq!(GNTMAP_READONLY, 4);
        assert_eq!(GNTMAP_APPLICATION_MAP, 8);
        assert_eq!(GNTMAP_CONTAINS_PTE, 16);
        assert_eq!(GNTMAP_CAN_FAIL, 32);
        assert_eq!(GNTMAP_GUEST_AVAIL0_SHIFT, 16);
        assert_eq!(GNTMAP_GUEST_AVAIL_MASK, 0xFFFF_0000);
    }

    #[test]
    fn status_codes_match_grant_table_h() {
        let st = [
            GNTST_OKAY,
            GNTST_GENERAL_ERROR,
            GNTST_BAD_DOMAIN,
            GNTST_BAD_GNTREF,
            GNTST_BAD_HANDLE,
            GNTST_BAD_VIRT_ADDR,
            GNTST_BAD_DEV_ADDR,
            GNTST_NO_DEVICE_SPACE,
            GNTST_PERMISSION_DENIED,
            GNTST_BAD_PAGE,
            GNTST_BAD_COPY_ARG,
            GNTST_ADDRESS_TOO_BIG,
            GNTST_EAGAIN,
        ];
        assert_eq!(st, [0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12]);
        assert_eq!(GNTTAB_NR_RESERVED_ENTRIES, 8);
        assert_eq!(GNTTAB_RESERVED_CONSOLE, 0);
        assert_eq!(GNTTAB_RESERVED_XENSTORE, 1);
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(size_of::<GrantEntryV1>(), 8);
        assert_eq!(offset_of!(GrantEntryV1, domid), 2);
        assert_eq!(offset_of!(GrantEntryV1, frame), 4);
        assert_eq!(size_of::<GnttabSetupTable>(), 24);
        assert_eq!(offset_of!(GnttabSetupTable, nr_frames), 4);
        assert_eq!(offset_of!(GnttabSetupTable, status), 8);
        assert_eq!(offset_of!(GnttabSetupTable, frame_list), 16);
        assert_eq!(size_of::<GnttabMapGrantRef>(), 32);
        assert_eq!(offset_of!(GnttabMapGrantRef, flags), 8);
        assert_eq!(offset_of!(GnttabMapGrantRef, ref_), 12);
        assert_eq!(offset_of!(GnttabMapGrantRef, dom), 16);
        assert_eq!(offset_of!(GnttabMapGrantRef, status), 18);
        assert_eq!(offset_of!(GnttabMapGrantRef, handle), 20);
        assert_eq!(offset_of!(GnttabMapGrantRef, dev_bus_addr), 24);
        assert_eq!(size_of::<GnttabUnmapGrantRef>(), 24);
        assert_eq!(offset_of!(GnttabUnmapGrantRef, handle), 16);
        assert_eq!(offset_of!(GnttabUnmapGrantRef, status), 20);
        assert_eq!(size_of::<GnttabQuerySize>(), 16);
        assert_eq!(offset_of!(GnttabQuerySize, nr_frames), 4);
        assert_eq!(offset_of!(GnttabQuerySize, max_nr_frames), 8);
        assert_eq!(offset_of!(GnttabQuerySize, status), 12);
    }

    #[test]
    fn copy_and_version_match_grant_table_h() {
        assert_eq!(GNTCOPY_SOURCE_GREF, 1);
        assert_eq!(GNTCOPY_DEST_GREF, 2);
        assert_eq!(GNTTABOP_CONTINUATION_ARG_SHIFT, 12);
        assert_eq!(GNTTABOP_CMD_MASK, 0xFFF);
        assert_eq!(size_of::<GnttabCopyPtr>(), 16);
        assert_eq!(offset_of!(GnttabCopyPtr, domid), 8);
        assert_eq!(offset_of!(GnttabCopyPtr, offset), 10);
        assert_eq!(size_of::<GnttabCopy>(), 40);
        assert_eq!(offset_of!(GnttabCopy, dest), 16);
        assert_eq!(offset_of!(GnttabCopy, len), 32);
        assert_eq!(offset_of!(GnttabCopy, flags), 34);
        assert_eq!(offset_of!(GnttabCopy, status), 36);
        assert_eq!(size_of::<GnttabSetVersion>(), 4);
        assert_eq!(size_of::<GnttabGetVersion>(), 8);
        assert_eq!(offset_of!(GnttabGetVersion, version), 4);
    }
}
