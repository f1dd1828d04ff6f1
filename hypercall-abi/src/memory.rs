//! memory_op: sub-commands, map spaces and the argument structs guests use most.

use crate::domid::DomId;
use core::mem::{offset_of, size_of};

/// Allocate extents to a domain (`XenMemoryReservation`).
pub const XENMEM_INCREASE_RESERVATION: u32 = 0;
/// Free a domain's extents (`XenMemoryReservation`).
pub const XENMEM_DECREASE_RESERVATION: u32 = 1;
/// Highest machine frame of RAM.
pub const XENMEM_MAXIMUM_RAM_PAGE: u32 = 2;
/// A domain's current reservation in pages (argument: domid).
pub const XENMEM_CURRENT_RESERVATION: u32 = 3;
/// A domain's maximum reservation in pages (argument: domid).
pub const XENMEM_MAXIMUM_RESERVATION: u32 = 4;
/// List the M2P table's 2 MiB extents.
pub const XENMEM_MACHPHYS_MFN_LIST: u32 = 5;
/// Populate guest frames with memory (`XenMemoryReservation`).
pub const XENMEM_POPULATE_PHYSMAP: u32 = 6;
/// Map a space (shared info, grant table, ...) at a guest frame (`XenAddToPhysmap`).
pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;
/// The domain's pseudo-physical E820 map (`XenMemoryMap`).
pub const XENMEM_MEMORY_MAP: u32 = 9;
/// The machine E820 map (`XenMemoryMap`, control domain).
pub const XENMEM_MACHINE_MEMORY_MAP: u32 = 10;
/// Atomically exchange extents.
pub const XENMEM_EXCHANGE: u32 = 11;
/// Where the M2P is mapped (`XenMachphysMapping`).
pub const XENMEM_MACHPHYS_MAPPING: u32 = 12;
/// Set a domain's pseudo-physical memory map.
pub const XENMEM_SET_MEMORY_MAP: u32 = 13;
/// Highest guest frame in use.
pub const XENMEM_MAXIMUM_GPFN: u32 = 14;
/// Unmap a guest frame.
pub const XENMEM_REMOVE_FROM_PHYSMAP: u32 = 15;
/// Set the populate-on-demand target.
pub const XENMEM_SET_POD_TARGET: u32 = 16;
/// Get the populate-on-demand target.
pub const XENMEM_GET_POD_TARGET: u32 = 17;
/// Batched add_to_physmap.
pub const XENMEM_ADD_TO_PHYSMAP_BATCH: u32 = 23;
/// Claim pages for a domain being built.
pub const XENMEM_CLAIM_PAGES: u32 = 24;
/// List the compat M2P table's extents.
pub const XENMEM_MACHPHYS_COMPAT_MFN_LIST: u32 = 25;

/// `XenAddToPhysmap::space`: the shared_info page.
pub const XENMAPSPACE_SHARED_INFO: u32 = 0;
/// `XenAddToPhysmap::space`: a grant table frame.
pub const XENMAPSPACE_GRANT_TABLE: u32 = 1;
/// `XenAddToPhysmap::space`: a guest frame.
pub const XENMAPSPACE_GMFN: u32 = 2;
/// `XenAddToPhysmap::space`: a range of guest frames.
pub const XENMAPSPACE_GMFN_RANGE: u32 = 3;
/// `XenAddToPhysmap::space`: a foreign domain's frame (batch only).
pub const XENMAPSPACE_GMFN_FOREIGN: u32 = 4;
/// `XenAddToPhysmap::space`: device MMIO (Arm).
pub const XENMAPSPACE_DEV_MMIO: u32 = 5;

/// Bits of memory_op's `cmd` that select the operation (`MEMOP_CMD_MASK`).
pub const MEMOP_CMD_MASK: u64 = 0x3F;
/// Shift of the extent to start from in memory_op's `cmd` (`MEMOP_EXTENT_SHIFT`).
pub const MEMOP_EXTENT_SHIFT: u32 = 6;

/// Splits memory_op's `cmd` into the operation and the extent to resume at.
pub fn split_memop_cmd(cmd: u64) -> (u32, u64) {
    ((cmd & MEMOP_CMD_MASK) as u32, cmd >> MEMOP_EXTENT_SHIFT)
}

/// E820 type of ordinary RAM.
pub const E820_RAM: u32 = 1;
/// E820 type of reserved memory.
pub const E820_RESERVED: u32 = 2;

/// One entry of an E820 map as memory_map writes it (packed: 20 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct E820Entry {
    /// First byte.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// `E820_*` type.
    pub kind: u32,
}

impl E820Entry {
    /// Size of one entry in the guest's buffer.
    pub const SIZE: usize = 20;

    /// The entry's bytes as the guest reads them.
    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..16].copy_from_slice(&self.size.to_le_bytes());
        b[16..].copy_from_slice(&self.kind.to_le_bytes());
        b
    }
}

/// Argument of increase/decrease_reservation and populate_physmap.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMemoryReservation {
    /// Guest pointer to an array of `nr_extents` frame numbers.
    pub extent_start: u64,
    /// Number of extents.
    pub nr_extents: u64,
    /// Each extent is `2^extent_order` pages.
    pub extent_order: u32,
    /// `XENMEMF_*` flags (address bits, node).
    pub mem_flags: u32,
    /// Domain (DOMID_SELF unless privileged).
    pub domid: DomId,
    /// Padding (C alignment).
    pub pad: [u8; 6],
}
const _: () = assert!(size_of::<XenMemoryReservation>() == 32);
const _: () = assert!(offset_of!(XenMemoryReservation, extent_start) == 0);
const _: () = assert!(offset_of!(XenMemoryReservation, nr_extents) == 8);
const _: () = assert!(offset_of!(XenMemoryReservation, extent_order) == 16);
const _: () = assert!(offset_of!(XenMemoryReservation, mem_flags) == 20);
const _: () = assert!(offset_of!(XenMemoryReservation, domid) == 24);
const _: () = assert!(offset_of!(XenMemoryReservation, pad) == 26);

/// Argument of memory_map / machine_memory_map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMemoryMap {
    /// In: entries that fit in `buffer`; out: entries written.
    pub nr_entries: u32,
    /// Padding (C alignment).
    pub pad: u32,
    /// Guest pointer to an array of 20-byte E820 entries.
    pub buffer: u64,
}
const _: () = assert!(size_of::<XenMemoryMap>() == 16);
const _: () = assert!(offset_of!(XenMemoryMap, nr_entries) == 0);
const _: () = assert!(offset_of!(XenMemoryMap, pad) == 4);
const _: () = assert!(offset_of!(XenMemoryMap, buffer) == 8);

/// Argument of add_to_physmap.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenAddToPhysmap {
    /// Domain whose physmap changes.
    pub domid: DomId,
    /// Number of pages for `XENMAPSPACE_GMFN_RANGE`.
    pub size: u16,
    /// `XENMAPSPACE_*`.
    pub space: u32,
    /// Index into the space.
    pub idx: u64,
    /// Guest frame where it should appear.
    pub gpfn: u64,
}
const _: () = assert!(size_of::<XenAddToPhysmap>() == 24);
const _: () = assert!(offset_of!(XenAddToPhysmap, domid) == 0);
const _: () = assert!(offset_of!(XenAddToPhysmap, size) == 2);
const _: () = assert!(offset_of!(XenAddToPhysmap, space) == 4);
const _: () = assert!(offset_of!(XenAddToPhysmap, idx) == 8);
const _: () = assert!(offset_of!(XenAddToPhysmap, gpfn) == 16);

/// Result of machphys_mapping.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMachphysMapping {
    /// Start of the M2P mapping.
    pub v_start: u64,
    /// End of the M2P mapping.
    pub v_end: u64,
    /// Largest machine frame that can be looked up.
    pub max_mfn: u64,
}
const _: () = assert!(size_of::<XenMachphysMapping>() == 24);
const _: () = assert!(offset_of!(XenMachphysMapping, v_start) == 0);
const _: () = assert!(offset_of!(XenMachphysMapping, v_end) == 8);
const _: () = assert!(offset_of!(XenMachphysMapping, max_mfn) == 16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memop_cmd_and_e820_match_xen_h() {
        assert_eq!(MEMOP_CMD_MASK, 63);
        assert_eq!(MEMOP_EXTENT_SHIFT, 6);
        assert_eq!(split_memop_cmd((5 << 6) | 6), (6, 5));
        assert_eq!(E820_RAM, 1);
        assert_eq!(E820_RESERVED, 2);
        let e = E820Entry {
            addr: 0x1000,
            size: 0x2000,
            kind: E820_RAM,
        };
        let b = e.to_bytes();
        assert_eq!(&b[..8], &0x1000u64.to_le_bytes());
        assert_eq!(&b[8..16], &0x2000u64.to_le_bytes());
        assert_eq!(&b[16..], &1u32.to_le_bytes());
    }

    #[test]
    fn commands_match_memory_h() {
        assert_eq!(XENMEM_INCREASE_RESERVATION, 0);
        assert_eq!(XENMEM_DECREASE_RESERVATION, 1);
        assert_eq!(XENMEM_MAXIMUM_RAM_PAGE, 2);
        assert_eq!(XENMEM_CURRENT_RESERVATION, 3);
        assert_eq!(XENMEM_MAXIMUM_RESERVATION, 4);
        assert_eq!(XENMEM_MACHPHYS_MFN_LIST, 5);
        assert_eq!(XENMEM_POPULATE_PHYSMAP, 6);
        assert_eq!(XENMEM_ADD_TO_PHYSMAP, 7);
        assert_eq!(XENMEM_MEMORY_MAP, 9);
        assert_eq!(XENMEM_MACHINE_MEMORY_MAP, 10);
        assert_eq!(XENMEM_EXCHANGE, 11);
        assert_eq!(XENMEM_MACHPHYS_MAPPING, 12);
        assert_eq!(XENMEM_SET_MEMORY_MAP, 13);
        assert_eq!(XENMEM_MAXIMUM_GPFN, 14);
        assert_eq!(XENMEM_REMOVE_FROM_PHYSMAP, 15);
        assert_eq!(XENMEM_SET_POD_TARGET, 16);
        assert_eq!(XENMEM_GET_POD_TARGET, 17);
        assert_eq!(XENMEM_ADD_TO_PHYSMAP_BATCH, 23);
        assert_eq!(XENMEM_CLAIM_PAGES, 24);
        assert_eq!(XENMEM_MACHPHYS_COMPAT_MFN_LIST, 25);
    }

    #[test]
    fn map_spaces_match_memory_h() {
        assert_eq!(XENMAPSPACE_SHARED_INFO, 0);
        assert_eq!(XENMAPSPACE_GRANT_TABLE, 1);
        assert_eq!(XENMAPSPACE_GMFN, 2);
        assert_eq!(XENMAPSPACE_GMFN_RANGE, 3);
        assert_eq!(XENMAPSPACE_GMFN_FOREIGN, 4);
        assert_eq!(XENMAPSPACE_DEV_MMIO, 5);
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(size_of::<XenMemoryReservation>(), 32);
        assert_eq!(offset_of!(XenMemoryReservation, nr_extents), 8);
        assert_eq!(offset_of!(XenMemoryReservation, extent_order), 16);
        assert_eq!(offset_of!(XenMemoryReservation, mem_flags), 20);
        assert_eq!(offset_of!(XenMemoryReservation, domid), 24);
        assert_eq!(size_of::<XenMemoryMap>(), 16);
        assert_eq!(offset_of!(XenMemoryMap, buffer), 8);
        assert_eq!(size_of::<XenAddToPhysmap>(), 24);
        assert_eq!(offset_of!(XenAddToPhysmap, size), 2);
        assert_eq!(offset_of!(XenAddToPhysmap, space), 4);
        assert_eq!(offset_of!(XenAddToPhysmap, idx), 8);
        assert_eq!(offset_of!(XenAddToPhysmap, gpfn), 16);
        assert_eq!(size_of::<XenMachphysMapping>(), 24);
    }
}
