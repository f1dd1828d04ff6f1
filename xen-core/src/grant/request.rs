//! grant_table_op arguments decoded into typed requests: whole-call errors (-errno) apart from per-element GNTST_* statuses.
//!
//! As in Xen 4.17's `do_grant_table_op`: a negative count (as `int`) is -EINVAL; continuation
//! bits above the command number are -EINVAL (only cache_flush uses them); setup_table and
//! query_size take exactly one element (-EINVAL otherwise); an unknown command is -ENOSYS.
//! Faults reading or writing the guest's array are -EFAULT (the caller's copy routines).
//! Everything wrong inside one element is that element's `GNTST_*` status and the call goes
//! on. Decisions of ours: transfer, unmap_and_replace, dump_table, get_status_frames (v2),
//! swap_grant_ref and cache_flush are not implemented and are -ENOSYS; map requests asking
//! for a device mapping are refused with `GNTST_general_error` (no IOMMU or bus addresses
//! here; Xen gives the same status to HVM guests asking for one).

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTMAP_APPLICATION_MAP, GNTMAP_CONTAINS_PTE,
    GNTMAP_DEVICE_MAP, GNTMAP_GUEST_AVAIL0_SHIFT, GNTMAP_HOST_MAP, GNTMAP_READONLY,
    GNTST_BAD_GNTREF, GNTST_GENERAL_ERROR, GNTTABOP_CACHE_FLUSH, GNTTABOP_CMD_MASK, GNTTABOP_COPY,
    GNTTABOP_GET_VERSION, GNTTABOP_MAP_GRANT_REF, GNTTABOP_QUERY_SIZE, GNTTABOP_SET_VERSION,
    GNTTABOP_SETUP_TABLE, GNTTABOP_UNMAP_GRANT_REF, GnttabCopy, GnttabCopyPtr, GnttabGetVersion,
    GnttabMapGrantRef, GnttabQuerySize, GnttabSetVersion, GnttabSetupTable, GnttabUnmapGrantRef,
    GrantHandle, GrantRef,
};

/// A grant_table_op sub-operation this implementation serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantOp {
    /// `count` × [`GnttabMapGrantRef`].
    MapGrantRef,
    /// `count` × [`GnttabUnmapGrantRef`].
    UnmapGrantRef,
    /// One [`GnttabSetupTable`].
    SetupTable,
    /// `count` × [`GnttabCopy`].
    Copy,
    /// One [`GnttabQuerySize`].
    QuerySize,
    /// One [`GnttabSetVersion`] (count not checked, as in Xen).
    SetVersion,
    /// One [`GnttabGetVersion`] (count not checked, as in Xen).
    GetVersion,
}

/// Checks the command and count of grant_table_op before anything is read (see the module
/// documentation for the errors).
pub fn decode_op(cmd: u32, count: u32) -> Result<GrantOp, Errno> {
    if (count as i32) < 0 {
        return Err(Errno::Inval);
    }
    let op = cmd & GNTTABOP_CMD_MASK;
    if op != GNTTABOP_CACHE_FLUSH && cmd & !GNTTABOP_CMD_MASK != 0 {
        return Err(Errno::Inval);
    }
    let single = |op| {
        if count == 1 {
            Ok(op)
        } else {
            Err(Errno::Inval)
        }
    };
    match op {
        GNTTABOP_MAP_GRANT_REF => Ok(GrantOp::MapGrantRef),
        GNTTABOP_UNMAP_GRANT_REF => Ok(GrantOp::UnmapGrantRef),
        GNTTABOP_SETUP_TABLE => single(GrantOp::SetupTable),
        GNTTABOP_COPY => Ok(GrantOp::Copy),
        GNTTABOP_QUERY_SIZE => single(GrantOp::QuerySize),
        GNTTABOP_SET_VERSION => Ok(GrantOp::SetVersion),
        GNTTABOP_GET_VERSION => Ok(GrantOp::GetVersion),
        _ => Err(Errno::NoSys),
    }
}

/// How a grant is mapped (the `GNTMAP_*` bits that matter once a request is accepted; a host
/// mapping is implied). Other bits of the guest's flags are ignored, as Xen ignores them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MapFlags {
    /// `GNTMAP_readonly`: the PTE is read-only and only a read pin is taken.
    pub readonly: bool,
    /// `GNTMAP_application_map`: the PTE is user-accessible (`_PAGE_USER`).
    pub application_map: bool,
    /// `GNTMAP_contains_pte`: `host_addr` is the machine address of the L1 entry to write,
    /// not a virtual address of the caller.
    pub contains_pte: bool,
    /// The first three guest-available bits (16..=18): Xen copies them into the host PTE's
    /// available bits 9..=11.
    pub guest_avail: u8,
}

impl MapFlags {
    /// The flags as `GNTMAP_*` bits (with `GNTMAP_host_map`).
    pub const fn bits(self) -> u32 {
        let mut bits = GNTMAP_HOST_MAP;
        if self.readonly {
            bits |= GNTMAP_READONLY;
        }
        if self.application_map {
            bits |= GNTMAP_APPLICATION_MAP;
        }
        if self.contains_pte {
            bits |= GNTMAP_CONTAINS_PTE;
        }
        bits | ((self.guest_avail as u32 & 7) << GNTMAP_GUEST_AVAIL0_SHIFT)
    }
}

/// One map_grant_ref element, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRequest {
    /// Virtual address to map at, or with `contains_pte` the machine address of the PTE.
    pub host_addr: u64,
    /// How.
    pub flags: MapFlags,
    /// The grant reference in the granting domain's table.
    pub gref: GrantRef,
    /// The granting domain, as given (Xen looks it up by id: DOMID_SELF is not resolved).
    pub dom: DomId,
}

impl MapRequest {
    /// Checks the flags: neither host nor device mapping `GNTST_bad_gntref` (as Xen), a device
    /// mapping `GNTST_general_error` (not supported here).
    pub fn decode(op: &GnttabMapGrantRef) -> Result<Self, i16> {
        if op.flags & (GNTMAP_HOST_MAP | GNTMAP_DEVICE_MAP) == 0 {
            return Err(GNTST_BAD_GNTREF);
        }
        if op.flags & GNTMAP_DEVICE_MAP != 0 {
            return Err(GNTST_GENERAL_ERROR);
        }
        Ok(MapRequest {
            host_addr: op.host_addr,
            flags: MapFlags {
                readonly: op.flags & GNTMAP_READONLY != 0,
                application_map: op.flags & GNTMAP_APPLICATION_MAP != 0,
                contains_pte: op.flags & GNTMAP_CONTAINS_PTE != 0,
                guest_avail: ((op.flags >> GNTMAP_GUEST_AVAIL0_SHIFT) & 7) as u8,
            },
            gref: op.ref_,
            dom: op.dom,
        })
    }
}

/// One unmap_grant_ref element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmapRequest {
    /// The host mapping to remove (virtual address, or PTE machine address for a mapping made
    /// with `contains_pte`); 0 removes none.
    pub host_addr: u64,
    /// Must be 0 or the frame's machine address.
    pub dev_bus_addr: u64,
    /// The handle map_grant_ref returned.
    pub handle: GrantHandle,
}

impl UnmapRequest {
    /// Every value is acceptable at this stage.
    pub const fn decode(op: &GnttabUnmapGrantRef) -> Self {
        UnmapRequest {
            host_addr: op.host_addr,
            dev_bus_addr: op.dev_bus_addr,
            handle: op.handle,
        }
    }
}

/// One side of a grant copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopySide {
    /// A grant reference of domain `dom` (DOMID_SELF: the caller).
    Gref {
        /// The granting domain as given.
        dom: DomId,
        /// The reference (the low 32 bits of the union).
        gref: GrantRef,
        /// Byte offset in the page.
        offset: u16,
    },
    /// A frame of the caller. `dom` must be DOMID_SELF: anything else is refused when the copy
    /// runs (`GNTST_permission_denied`, in Xen's order of checks).
    Frame {
        /// The domain as given.
        dom: DomId,
        /// Machine frame number (PV).
        frame: u64,
        /// Byte offset in the page.
        offset: u16,
    },
}

impl CopySide {
    fn decode(ptr: &GnttabCopyPtr, is_gref: bool) -> Self {
        if is_gref {
            CopySide::Gref {
                dom: ptr.domid,
                gref: ptr.u as u32,
                offset: ptr.offset,
            }
        } else {
            CopySide::Frame {
                dom: ptr.domid,
                frame: ptr.u,
                offset: ptr.offset,
            }
        }
    }

    /// Byte offset in the page.
    pub const fn offset(&self) -> u16 {
        match *self {
            CopySide::Gref { offset, .. } | CopySide::Frame { offset, .. } => offset,
        }
    }
}

/// One copy element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyRequest {
    /// Read from.
    pub source: CopySide,
    /// Written to.
    pub dest: CopySide,
    /// Bytes.
    pub len: u16,
}

impl CopyRequest {
    /// Splits the element by its `GNTCOPY_*` flags (other flag bits are ignored, as in Xen).
    /// Offsets and length are checked when the copy runs, after the grants (Xen's order).
    pub fn decode(op: &GnttabCopy) -> Self {
        CopyRequest {
            source: CopySide::decode(&op.source, op.flags & GNTCOPY_SOURCE_GREF != 0),
            dest: CopySide::decode(&op.dest, op.flags & GNTCOPY_DEST_GREF != 0),
            len: op.len,
        }
    }
}

/// setup_table, checked for the grant layer (the caller still checks `frame_list` for
/// `nr_frames` writable u64s, -EFAULT, before looking the domain up, as Xen does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupTableRequest {
    /// Domain (DOMID_SELF, or another one for a privileged caller).
    pub dom: DomId,
    /// Frames wanted.
    pub nr_frames: u32,
    /// Guest address of the u64 array the frame numbers go to.
    pub frame_list: u64,
}

impl SetupTableRequest {
    /// Every value is acceptable at this stage.
    pub const fn decode(op: &GnttabSetupTable) -> Self {
        SetupTableRequest {
            dom: op.dom,
            nr_frames: op.nr_frames,
            frame_list: op.frame_list,
        }
    }
}

/// The domain query_size asks about.
pub const fn query_size_domain(op: &GnttabQuerySize) -> DomId {
    op.dom
}

/// The version set_version asks for.
pub const fn set_version_wanted(op: &GnttabSetVersion) -> u32 {
    op.version
}

/// The domain get_version asks about.
pub const fn get_version_domain(op: &GnttabGetVersion) -> DomId {
    op.dom
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypercall_abi::domid::DOMID_SELF;
    use hypercall_abi::grant_table::{
        GNTTABOP_DUMP_TABLE, GNTTABOP_GET_STATUS_FRAMES, GNTTABOP_SWAP_GRANT_REF,
        GNTTABOP_TRANSFER, GNTTABOP_UNMAP_AND_REPLACE,
    };

    #[test]
    fn whole_call_checks_follow_do_grant_table_op() {
        assert_eq!(
            decode_op(GNTTABOP_MAP_GRANT_REF, 3),
            Ok(GrantOp::MapGrantRef)
        );
        assert_eq!(
            decode_op(GNTTABOP_MAP_GRANT_REF, 0),
            Ok(GrantOp::MapGrantRef)
        );
        assert_eq!(
            decode_op(GNTTABOP_UNMAP_GRANT_REF, 2),
            Ok(GrantOp::UnmapGrantRef)
        );
        assert_eq!(decode_op(GNTTABOP_COPY, 9), Ok(GrantOp::Copy));
        assert_eq!(decode_op(GNTTABOP_SETUP_TABLE, 1), Ok(GrantOp::SetupTable));
        assert_eq!(decode_op(GNTTABOP_QUERY_SIZE, 1), Ok(GrantOp::QuerySize));
        assert_eq!(decode_op(GNTTABOP_SET_VERSION, 7), Ok(GrantOp::SetVersion));
        assert_eq!(decode_op(GNTTABOP_GET_VERSION, 0), Ok(GrantOp::GetVersion));
        assert_eq!(decode_op(GNTTABOP_SETUP_TABLE, 2), Err(Errno::Inval));
        assert_eq!(decode_op(GNTTABOP_QUERY_SIZE, 0), Err(Errno::Inval));
        assert_eq!(decode_op(GNTTABOP_COPY, 0x8000_0000), Err(Errno::Inval));
        assert_eq!(decode_op(GNTTABOP_COPY | 1 << 12, 1), Err(Errno::Inval));
        for op in [
            GNTTABOP_DUMP_TABLE,
            GNTTABOP_TRANSFER,
            GNTTABOP_UNMAP_AND_REPLACE,
            GNTTABOP_GET_STATUS_FRAMES,
            GNTTABOP_SWAP_GRANT_REF,
            GNTTABOP_CACHE_FLUSH,
            GNTTABOP_CACHE_FLUSH | 1 << 12,
            13,
            0xFFF,
        ] {
            assert_eq!(decode_op(op, 1), Err(Errno::NoSys), "op {op:#x}");
        }
    }

    fn map_op(flags: u32) -> GnttabMapGrantRef {
        GnttabMapGrantRef {
            host_addr: 0x4000_0000,
            flags,
            ref_: 12,
            dom: 3,
            ..GnttabMapGrantRef::default()
        }
    }

    #[test]
    fn map_flags_are_decoded() {
        let r = MapRequest::decode(&map_op(GNTMAP_HOST_MAP | GNTMAP_READONLY | 1 << 16)).unwrap();
        assert_eq!(
            r,
            MapRequest {
                host_addr: 0x4000_0000,
                flags: MapFlags {
                    readonly: true,
                    guest_avail: 1,
                    ..MapFlags::default()
                },
                gref: 12,
                dom: 3,
            }
        );
        let all = GNTMAP_HOST_MAP | GNTMAP_APPLICATION_MAP | GNTMAP_CONTAINS_PTE;
        let r = MapRequest::decode(&map_op(all)).unwrap();
        assert!(r.flags.application_map && r.flags.contains_pte && !r.flags.readonly);
        assert_eq!(r.flags.bits(), all);
        // Only the first three guest-available bits are kept.
        let r = MapRequest::decode(&map_op(GNTMAP_HOST_MAP | 0xFFFF_0000)).unwrap();
        assert_eq!(r.flags.guest_avail, 7);
        assert_eq!(r.flags.bits(), GNTMAP_HOST_MAP | 0x7_0000);
        let r = MapRequest::decode(&map_op(GNTMAP_HOST_MAP | 0x5_0000)).unwrap();
        assert_eq!(r.flags.guest_avail, 5);
        assert_eq!(MapFlags::default().bits(), GNTMAP_HOST_MAP);
    }

    #[test]
    fn map_without_host_map_is_refused() {
        assert_eq!(MapRequest::decode(&map_op(0)), Err(GNTST_BAD_GNTREF));
        assert_eq!(
            MapRequest::decode(&map_op(GNTMAP_READONLY)),
            Err(GNTST_BAD_GNTREF)
        );
        assert_eq!(
            MapRequest::decode(&map_op(GNTMAP_DEVICE_MAP)),
            Err(GNTST_GENERAL_ERROR)
        );
        assert_eq!(
            MapRequest::decode(&map_op(GNTMAP_DEVICE_MAP | GNTMAP_HOST_MAP)),
            Err(GNTST_GENERAL_ERROR)
        );
    }

    #[test]
    fn copy_sides_follow_the_flags() {
        let op = GnttabCopy {
            source: GnttabCopyPtr {
                u: 0xDEAD_0000_0000_0007,
                domid: 4,
                offset: 10,
                pad: 0,
            },
            dest: GnttabCopyPtr {
                u: 0x1_2345,
                domid: DOMID_SELF,
                offset: 20,
                pad: 0,
            },
            len: 30,
            flags: GNTCOPY_SOURCE_GREF | 0x40,
            ..GnttabCopy::default()
        };
        let r = CopyRequest::decode(&op);
        assert_eq!(
            r.source,
            CopySide::Gref {
                dom: 4,
                gref: 7,
                offset: 10
            }
        );
        assert_eq!(
            r.dest,
            CopySide::Frame {
                dom: DOMID_SELF,
                frame: 0x1_2345,
                offset: 20
            }
        );
        assert_eq!((r.len, r.source.offset(), r.dest.offset()), (30, 10, 20));
        let r = CopyRequest::decode(&GnttabCopy {
            flags: GNTCOPY_DEST_GREF,
            ..op
        });
        assert!(matches!(
            r.source,
            CopySide::Frame {
                frame: 0xDEAD_0000_0000_0007,
                ..
            }
        ));
        assert!(matches!(r.dest, CopySide::Gref { gref: 0x1_2345, .. }));
    }

    #[test]
    fn plain_arguments_pass_through() {
        let u = UnmapRequest::decode(&GnttabUnmapGrantRef {
            host_addr: 1,
            dev_bus_addr: 2,
            handle: 3,
            ..GnttabUnmapGrantRef::default()
        });
        assert_eq!((u.host_addr, u.dev_bus_addr, u.handle), (1, 2, 3));
        let s = SetupTableRequest::decode(&GnttabSetupTable {
            dom: DOMID_SELF,
            nr_frames: 4,
            frame_list: 0x1000,
            ..GnttabSetupTable::default()
        });
        assert_eq!((s.dom, s.nr_frames, s.frame_list), (DOMID_SELF, 4, 0x1000));
        assert_eq!(
            query_size_domain(&GnttabQuerySize {
                dom: 5,
                ..GnttabQuerySize::default()
            }),
            5
        );
        assert_eq!(set_version_wanted(&GnttabSetVersion { version: 2 }), 2);
        assert_eq!(
            get_version_domain(&GnttabGetVersion {
                dom: 6,
                ..GnttabGetVersion::default()
            }),
            6
        );
    }
}
