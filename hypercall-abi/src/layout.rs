//! Fixed virtual addresses of the x86_64 PV ABI and guest range checks.

/// Start of the range reserved for the hypervisor in every guest address space.
pub const HYPERVISOR_VIRT_START: u64 = 0xFFFF_8000_0000_0000;
/// End (exclusive) of the hypervisor's reserved range (L4 slots 256-271).
pub const HYPERVISOR_VIRT_END: u64 = 0xFFFF_8800_0000_0000;
/// Start of the read-only machine-to-physical (M2P) table.
pub const MACH2PHYS_VIRT_START: u64 = 0xFFFF_8000_0000_0000;
/// End (exclusive) of the M2P table.
pub const MACH2PHYS_VIRT_END: u64 = 0xFFFF_8040_0000_0000;
/// Number of M2P entries (one u64 per machine frame).
pub const MACH2PHYS_NR_ENTRIES: u64 = (MACH2PHYS_VIRT_END - MACH2PHYS_VIRT_START) >> 3;
/// Page size in bytes.
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// Whether `va` is canonical: bits 63..47 all equal.
pub const fn is_canonical(va: u64) -> bool {
    (((va << 16) as i64) >> 16) as u64 == va
}

/// Whether `[addr, addr + len)` is a range a guest may name: it does not wrap,
/// lies wholly in one canonical half and does not touch the hypervisor range.
/// A zero-length range is fine iff `addr` is canonical.
pub fn guest_range_ok(addr: u64, len: u64) -> bool {
    if len == 0 {
        return is_canonical(addr);
    }
    let Some(last) = addr.checked_add(len - 1) else {
        return false;
    };
    if !is_canonical(addr) || !is_canonical(last) {
        return false;
    }
    // Both ends canonical but in different halves: the range spans the hole.
    if (addr >> 63) != (last >> 63) {
        return false;
    }
    last < HYPERVISOR_VIRT_START || addr >= HYPERVISOR_VIRT_END
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_xen_x86_64_h() {
        assert_eq!(HYPERVISOR_VIRT_START, 0xFFFF800000000000);
        assert_eq!(HYPERVISOR_VIRT_END, 0xFFFF880000000000);
        assert_eq!(MACH2PHYS_VIRT_START, 0xFFFF800000000000);
        assert_eq!(MACH2PHYS_VIRT_END, 0xFFFF804000000000);
        assert_eq!(MACH2PHYS_NR_ENTRIES, 0x40_0000_0000 / 8);
        assert_eq!(PAGE_SIZE, 4096);
        assert_eq!(PAGE_SHIFT, 12);
        assert_eq!(1u64 << PAGE_SHIFT, PAGE_SIZE);
    }

    #[test]
    fn hypervisor_range_is_l4_slots_256_to_271() {
        assert_eq!((HYPERVISOR_VIRT_START >> 39) & 511, 256);
        assert_eq!(((HYPERVISOR_VIRT_END - 1) >> 39) & 511, 271);
    }

    #[test]
    fn canonical() {
        assert!(is_canonical(0));
        assert!(is_canonical(0x0000_7FFF_FFFF_FFFF));
        assert!(!is_canonical(0x0000_8000_0000_0000));
        assert!(!is_canonical(0xFFFF_7FFF_FFFF_FFFF));
        assert!(is_canonical(0xFFFF_8000_0000_0000));
        assert!(is_canonical(u64::MAX));
        assert!(!is_canonical(0x1234_0000_0000_0000));
    }

    #[test]
    fn range_len_zero() {
        assert!(guest_range_ok(0, 0));
        assert!(guest_range_ok(0x0000_7FFF_FFFF_FFFF, 0));
        assert!(!guest_range_ok(0x0000_8000_0000_0000, 0));
        // Canonical, and inside the hypervisor range: still ok for len 0.
        assert!(guest_range_ok(HYPERVISOR_VIRT_START, 0));
    }

    #[test]
    fn range_overflow() {
        assert!(!guest_range_ok(u64::MAX, 2));
        assert!(!guest_range_ok(0xFFFF_FFFF_FFFF_F000, 0x2000));
        assert!(!guest_range_ok(1, u64::MAX));
        // Ends exactly at the top of the address space: no wrap.
        assert!(guest_range_ok(0xFFFF_FFFF_FFFF_F000, 0x1000));
        assert!(guest_range_ok(u64::MAX, 1));
    }

    #[test]
    fn range_non_canonical() {
        assert!(guest_range_ok(0x0000_7FFF_FFFF_F000, 0x1000));
        assert!(!guest_range_ok(0x0000_7FFF_FFFF_F000, 0x1001));
        assert!(!guest_range_ok(0x0000_8000_0000_0000, 1));
        assert!(!guest_range_ok(0xFFFF_7FFF_FFFF_FFFF, 1));
        // Both ends canonical, but spanning the hole.
        assert!(!guest_range_ok(
            0x0000_7FFF_FFFF_FFFF,
            0xFFFF_0000_0000_0002
        ));
    }

    #[test]
    fn range_hypervisor_overlap() {
        // From below: the bytes just below HYPERVISOR_VIRT_START are in the
        // non-canonical hole, so a range reaching the start is rejected.
        assert!(!guest_range_ok(HYPERVISOR_VIRT_START - 0x1000, 0x1000));
        assert!(!guest_range_ok(HYPERVISOR_VIRT_START - 0x1000, 0x1001));
        assert!(!guest_range_ok(
            0x0000_7FFF_FFFF_F000,
            HYPERVISOR_VIRT_START
        ));
        // Inside, at either edge.
        assert!(!guest_range_ok(HYPERVISOR_VIRT_START, 1));
        assert!(!guest_range_ok(HYPERVISOR_VIRT_END - 1, 1));
        assert!(!guest_range_ok(HYPERVISOR_VIRT_END - 1, 2));
        assert!(guest_range_ok(HYPERVISOR_VIRT_END, 1));
        assert!(guest_range_ok(HYPERVISOR_VIRT_END, 0x1000));
        // From above, touching the end of the range.
        assert!(!guest_range_ok(HYPERVISOR_VIRT_END - 0x1000, 0x2000));
        // Covering it entirely.
        assert!(!guest_range_ok(
            HYPERVISOR_VIRT_START,
            0x800_0000_0000 + 0x1000
        ));
        // Low half right up to its top.
        assert!(guest_range_ok(0, 0x0000_8000_0000_0000));
    }
}
