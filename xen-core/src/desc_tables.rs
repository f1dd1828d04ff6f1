//! A vCPU's descriptor tables (set_gdt frames, mmuext set_ldt) and the rules for changing them.
//!
//! As in Xen 4.17 (`arch/x86/pv/descriptor-tables.c`, `MMUEXT_SET_LDT` in `arch/x86/mm.c`):
//! - set_gdt takes at most `FIRST_RESERVED_GDT_ENTRY` (7168) entries in up to 14 frames; each
//!   frame gets a descriptor-page type reference, and the frames are mapped, in order, at the
//!   start of the vCPU's GDT area. xen-core's own descriptors follow at byte 0xe000. The GDT
//!   limit always covers 15 pages; unused guest pages show a zero page, whose null descriptors
//!   fault when loaded.
//! - set_ldt takes a page-aligned guest address outside the hypervisor range and at most 8192
//!   entries. The LDT is mapped lazily: the vCPU's LDT area starts empty and the page fault of
//!   the first use of each page maps the guest's page there, if the guest maps it (present) in
//!   its kernel page tables and it can be typed as a descriptor page. Otherwise the guest gets
//!   the page fault, with CR2 pointing into its own LDT.

use hypercall_abi::Errno;
use hypercall_abi::layout::{HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START, is_canonical};
use hypercall_abi::segment::{FIRST_RESERVED_GDT_ENTRY, FIRST_RESERVED_GDT_PAGE};

use crate::layout::{PAGE_SIZE, l4_slot};

/// Guest frames a GDT may span.
pub const MAX_GDT_FRAMES: usize = FIRST_RESERVED_GDT_PAGE as usize;
/// Entries per descriptor page.
pub const ENTRIES_PER_PAGE: u64 = PAGE_SIZE / 8;
/// The most LDT entries (64 KiB).
pub const MAX_LDT_ENTRIES: u64 = 8192;
/// Pages of the LDT area.
pub const LDT_PAGES: usize = (MAX_LDT_ENTRIES * 8 / PAGE_SIZE) as usize;
/// Pages of the GDT area: 14 guest pages, xen-core's reserved page, one spare.
pub const GDT_AREA_PAGES: usize = 16;
/// The GDT limit loaded with `lgdt`: the guest pages and the reserved page (Xen: 0xefff).
pub const GDT_LIMIT: u16 = ((FIRST_RESERVED_GDT_PAGE + 1) * PAGE_SIZE - 1) as u16;

/// Base of the per-vCPU descriptor-table area (Xen's per-domain slot, L4 slot 260).
pub const PERVCPU_AREA_BASE: u64 = 0xFFFF_8200_0000_0000;
/// L4 slot of the per-vCPU area.
pub const PERVCPU_AREA_L4_SLOT: usize = l4_slot(PERVCPU_AREA_BASE);
/// The GDT of the (one) vCPU: what `lgdt` loads.
pub const GDT_AREA_BASE: u64 = PERVCPU_AREA_BASE;
/// The LDT of the (one) vCPU: what the LDT descriptor's base says.
pub const LDT_AREA_BASE: u64 = GDT_AREA_BASE + GDT_AREA_PAGES as u64 * PAGE_SIZE;
/// One past the end of the area.
pub const PERVCPU_AREA_END: u64 = LDT_AREA_BASE + LDT_PAGES as u64 * PAGE_SIZE;

/// A vCPU's GDT and LDT as the guest set them, and the LDT pages mapped so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescTables {
    /// The GDT frames, in order; only the first [`DescTables::gdt_frame_count`] count.
    pub gdt_frames: [u64; MAX_GDT_FRAMES],
    /// Frames in use by the GDT (each holds a descriptor-page type reference).
    pub gdt_frame_count: usize,
    /// GDT entries the guest declared.
    pub gdt_entries: u64,
    /// LDT base (guest linear address), 0 with no LDT.
    pub ldt_base: u64,
    /// LDT entries, 0 with no LDT.
    pub ldt_entries: u64,
    /// Frames mapped in the LDT area (each holds a descriptor-page type reference).
    pub ldt_mapped: [Option<u64>; LDT_PAGES],
}

/// Frames a GDT of `entries` entries spans; -EINVAL past the reserved area.
pub fn gdt_frames_for(entries: u64) -> Result<usize, Errno> {
    if entries > FIRST_RESERVED_GDT_ENTRY {
        return Err(Errno::Inval);
    }
    Ok(entries.div_ceil(ENTRIES_PER_PAGE) as usize)
}

/// Xen's `__addr_ok`: below the canonical hole or above the hypervisor range.
pub fn guest_addr_ok(addr: u64) -> bool {
    (addr < HYPERVISOR_VIRT_START && is_canonical(addr)) || addr >= HYPERVISOR_VIRT_END
}

/// Checks the arguments of set_ldt: a page-aligned base outside the hypervisor range and at
/// most 8192 entries.
pub fn check_set_ldt(base: u64, entries: u64) -> Result<(), Errno> {
    if !base.is_multiple_of(PAGE_SIZE) || !guest_addr_ok(base) || entries > MAX_LDT_ENTRIES {
        return Err(Errno::Inval);
    }
    Ok(())
}

/// Where a page fault at `addr` falls in the vCPU's descriptor-table area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaFault {
    /// In the GDT part (never expected: every page is mapped).
    Gdt,
    /// In the LDT, at byte `offset`, within the LDT's limit.
    Ldt {
        /// Byte offset into the LDT.
        offset: u64,
    },
    /// In the LDT part but past the LDT's entries (the CPU checks the limit first, so only a
    /// stale access can get here).
    BeyondLdt,
}

/// Classifies a fault address; `None` outside the area.
pub fn area_fault(addr: u64, ldt_entries: u64) -> Option<AreaFault> {
    if !(GDT_AREA_BASE..PERVCPU_AREA_END).contains(&addr) {
        return None;
    }
    if addr < LDT_AREA_BASE {
        return Some(AreaFault::Gdt);
    }
    let offset = addr - LDT_AREA_BASE;
    if offset / 8 >= ldt_entries {
        return Some(AreaFault::BeyondLdt);
    }
    Some(AreaFault::Ldt { offset })
}

/// The selector error code Xen gives (#GP) when the LDT access would be non-canonical: the
/// descriptor offset with TI set.
pub fn ldt_selector_error(offset: u64) -> u64 {
    (offset & 0xfff8) | 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_layout() {
        assert_eq!(PERVCPU_AREA_L4_SLOT, 260, "Xen's per-domain slot");
        assert_eq!(GDT_LIMIT, 0xefff, "as sgdt shows under Xen 4.17");
        assert_eq!(LDT_PAGES, 16);
        assert_eq!(LDT_AREA_BASE, 0xFFFF_8200_0001_0000);
        assert_eq!(MAX_GDT_FRAMES, 14);
    }

    #[test]
    fn gdt_sizes() {
        assert_eq!(gdt_frames_for(0), Ok(0));
        assert_eq!(gdt_frames_for(1), Ok(1));
        assert_eq!(gdt_frames_for(512), Ok(1));
        assert_eq!(gdt_frames_for(513), Ok(2));
        assert_eq!(gdt_frames_for(7168), Ok(14));
        assert_eq!(gdt_frames_for(7169), Err(Errno::Inval));
        assert_eq!(gdt_frames_for(u64::MAX), Err(Errno::Inval));
    }

    #[test]
    fn set_ldt_arguments() {
        assert_eq!(check_set_ldt(0, 0), Ok(()));
        assert_eq!(check_set_ldt(0x1000, 4), Ok(()));
        assert_eq!(check_set_ldt(0xffff_ffff_8000_2000, 8192), Ok(()));
        assert_eq!(check_set_ldt(0xffff_8800_0000_0000, 1), Ok(()));
        assert_eq!(check_set_ldt(0x1001, 4), Err(Errno::Inval));
        assert_eq!(check_set_ldt(0x1000, 8193), Err(Errno::Inval));
        assert_eq!(check_set_ldt(0xffff_8000_0000_0000, 4), Err(Errno::Inval));
        assert_eq!(check_set_ldt(0x8000_0000_0000, 4), Err(Errno::Inval));
    }

    #[test]
    fn fault_classification() {
        assert_eq!(area_fault(0x1000, 4), None);
        assert_eq!(area_fault(GDT_AREA_BASE + 0x10, 4), Some(AreaFault::Gdt));
        assert_eq!(
            area_fault(LDT_AREA_BASE + 8, 4),
            Some(AreaFault::Ldt { offset: 8 })
        );
        assert_eq!(
            area_fault(LDT_AREA_BASE + 32, 4),
            Some(AreaFault::BeyondLdt)
        );
        assert_eq!(
            area_fault(LDT_AREA_BASE + 0x3000, 8192),
            Some(AreaFault::Ldt { offset: 0x3000 })
        );
        assert_eq!(area_fault(PERVCPU_AREA_END, 8192), None);
        assert_eq!(ldt_selector_error(0x18), 0x1c);
    }
}
