//! The bits of the page-table entries a 64-bit PV guest writes: what Xen 4.17 refuses and adds.
//!
//! Facts (Xen 4.17, `arch/x86/mm.c`, `arch/x86/pv/mm.h`, `asm/x86_64/page.h`), in our words:
//! - Xen's base mask lets a guest set only present, RW, user, accessed, dirty, the three
//!   available bits 9..=11, the high available bits 52..=62 and NX. Refused everywhere: PWT,
//!   PCD, PSE (PAT in an L1) and global. An L1 entry may also set global; a domain with I/O
//!   capabilities (Dom0) may also pick cache attributes (PWT/PCD/PAT) in an L1. L2, L3 and L4
//!   use the base mask, so superpages (PSE) are refused. A refused bit is -EINVAL.
//!   (`_PAGE_GNTTAB`, bit 62, is only refused by debug builds of Xen.)
//! - Xen adjusts what it stores: an L1 entry without the user bit gets user plus the
//!   "guest kernel" marker (bit 52); an L1 entry without that marker gets user plus global;
//!   L2 and L3 entries get user; L4 entries get user and accessed.
//! - An update that changes only accessed, dirty, user, global, the available bits or NX of a
//!   present entry keeps the same references (Xen's fast path); any other change of address,
//!   present, RW, PWT, PCD or PSE takes the new references first and drops the old ones.
//! - L4 slots 256..=271 belong to the hypervisor: Xen fills them when it validates an L4 and
//!   refuses guest updates of them with -EINVAL.

use hypercall_abi::mmu::{PTE_ADDR_MASK, PteFlags};

/// Entries in one page table (and descriptors in one descriptor page).
pub const ENTRIES: usize = 512;

/// Present.
pub const PRESENT: u64 = PteFlags::PRESENT.bits();
/// Writable.
pub const RW: u64 = PteFlags::RW.bits();
/// User accessible.
pub const USER: u64 = PteFlags::USER.bits();
/// Accessed.
pub const ACCESSED: u64 = PteFlags::ACCESSED.bits();
/// Dirty.
pub const DIRTY: u64 = PteFlags::DIRTY.bits();
/// Superpage in an L2/L3 entry.
pub const PSE: u64 = PteFlags::PSE.bits();
/// Global.
pub const GLOBAL: u64 = PteFlags::GLOBAL.bits();
/// Xen's `_PAGE_GUEST_KERNEL` (bit 52): marks an L1 mapping the guest made for its kernel.
pub const GUEST_KERNEL: u64 = 1 << 52;

/// Cache-attribute bits of an L1 entry: PWT, PCD and PAT (bit 7).
pub const CACHE_ATTRS: u64 = PteFlags::PWT.bits() | PteFlags::PCD.bits() | PSE;
/// Xen's base mask for 64-bit PV: PWT, PCD, PSE/PAT and global.
pub const BASE_DISALLOW: u64 = CACHE_ATTRS | GLOBAL;
/// Bits refused in an L1 entry (global is allowed there).
pub const L1_DISALLOW: u64 = BASE_DISALLOW & !GLOBAL;
/// Bits refused in L2, L3 and L4 entries (PSE among them: no superpages).
pub const L2_L4_DISALLOW: u64 = BASE_DISALLOW;
/// Bits whose change makes Xen drop the old references and take new ones.
pub const REVALIDATE_MASK: u64 =
    PTE_ADDR_MASK | PRESENT | RW | PteFlags::PWT.bits() | PteFlags::PCD.bits() | PSE;
/// The frame number Xen reads as "no frame" (all address bits set): -EINVAL, not -EPERM.
pub const INVALID_MFN: u64 = PTE_ADDR_MASK >> 12;
/// First L4 slot of the hypervisor's range.
pub const XEN_L4_FIRST: usize = 256;
/// Last L4 slot of the hypervisor's range.
pub const XEN_L4_LAST: usize = 271;

/// Is L4 slot `index` one of the hypervisor's?
pub fn is_xen_l4_slot(index: usize) -> bool {
    (XEN_L4_FIRST..=XEN_L4_LAST).contains(&index)
}

/// Is `entry` present?
pub fn is_present(entry: u64) -> bool {
    entry & PRESENT != 0
}

/// Bits a guest may not set in a present entry of a level-`level` table.
/// `cache_attrs_allowed`: the table's domain has I/O capabilities.
pub fn disallow_mask(level: u8, cache_attrs_allowed: bool) -> u64 {
    match (level, cache_attrs_allowed) {
        (1, false) => L1_DISALLOW,
        (1, true) => L1_DISALLOW & !CACHE_ATTRS,
        _ => L2_L4_DISALLOW,
    }
}

/// The flags Xen forces on a present entry of a level-`level` table of a 64-bit PV guest
/// (its kernel runs in ring 3, so every guest mapping must be user-accessible).
pub fn adjust_guest_entry(level: u8, entry: u64) -> u64 {
    if !is_present(entry) {
        return entry;
    }
    match level {
        1 => {
            let mut e = entry;
            if e & USER == 0 {
                e |= USER | GUEST_KERNEL;
            }
            if e & GUEST_KERNEL == 0 {
                e |= GLOBAL | USER;
            }
            e
        }
        4 => entry | USER | ACCESSED,
        _ => entry | USER,
    }
}

/// Does going from `old` to `new` need new references (not just Xen's fast path)?
pub fn needs_revalidation(old: u64, new: u64) -> bool {
    !is_present(old) || (old ^ new) & REVALIDATE_MASK != 0
}

/// The machine frame an entry points at.
pub fn pte_mfn(value: u64) -> u64 {
    (value & PTE_ADDR_MASK) >> 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_xen_4_17() {
        assert_eq!(CACHE_ATTRS, 0x98);
        assert_eq!(BASE_DISALLOW, 0x198);
        assert_eq!(L1_DISALLOW, 0x98);
        assert_eq!(L2_L4_DISALLOW, 0x198);
        assert_eq!(disallow_mask(1, true), 0);
        assert_eq!(disallow_mask(3, true), 0x198);
        assert_eq!(REVALIDATE_MASK, 0x000F_FFFF_FFFF_F09B);
        assert_eq!(INVALID_MFN, 0xFF_FFFF_FFFF);
        assert!(is_xen_l4_slot(256) && is_xen_l4_slot(271));
        assert!(!is_xen_l4_slot(255) && !is_xen_l4_slot(272));
    }

    #[test]
    fn adjustments_match_xen_4_17() {
        // Kernel mapping: user + guest-kernel marker, no global.
        assert_eq!(adjust_guest_entry(1, 0x5003), 0x5007 | GUEST_KERNEL);
        // User mapping: global added.
        assert_eq!(adjust_guest_entry(1, 0x5007), 0x5107);
        // Already marked: unchanged.
        assert_eq!(
            adjust_guest_entry(1, 0x5007 | GUEST_KERNEL),
            0x5007 | GUEST_KERNEL
        );
        assert_eq!(adjust_guest_entry(2, 0x5003), 0x5007);
        assert_eq!(adjust_guest_entry(3, 0x5001), 0x5005);
        assert_eq!(adjust_guest_entry(4, 0x5001), 0x5025);
        // Not present: left alone at every level.
        for level in 1..=4 {
            assert_eq!(adjust_guest_entry(level, 0x5002), 0x5002);
        }
    }

    #[test]
    fn fast_path_changes() {
        let old = 0x5067 | (1 << 63);
        assert!(!needs_revalidation(old, 0x5007));
        assert!(!needs_revalidation(
            old,
            old | GUEST_KERNEL | 0xE00 | GLOBAL
        ));
        assert!(needs_revalidation(old, old & !RW));
        assert!(needs_revalidation(old, 0x6067));
        assert!(needs_revalidation(old, old | 0x10));
        assert!(needs_revalidation(0, 0x5001));
    }
}
