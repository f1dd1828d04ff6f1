//! Every fixed address of xen-core's own, in one place (docs/memory-layout.md explains them).

use hypercall_abi::layout::{HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START, MACH2PHYS_VIRT_START};

/// Page size in bytes.
pub const PAGE_SIZE: u64 = 4096;
/// log2 of the page size.
pub const PAGE_SHIFT: u32 = 12;

/// L4 slot of the read-only M2P table (guest-readable, the only user-visible hypervisor slot).
pub const M2P_L4_SLOT: usize = l4_slot(MACH2PHYS_VIRT_START);
/// Base of the direct map of all machine memory; xen-core's own image is linked inside it.
pub const DIRECTMAP_BASE: u64 = 0xFFFF_8300_0000_0000;
/// First L4 slot of the direct map.
pub const DIRECTMAP_L4_SLOT: usize = l4_slot(DIRECTMAP_BASE);
/// The direct map ends where the hypervisor range ends: 5 TiB of machine memory at most.
pub const DIRECTMAP_END: u64 = HYPERVISOR_VIRT_END;
/// First L4 slot reserved for the hypervisor in every address space.
pub const FIRST_XEN_L4_SLOT: usize = l4_slot(HYPERVISOR_VIRT_START);
/// One past the last reserved L4 slot.
pub const END_XEN_L4_SLOT: usize = l4_slot(HYPERVISOR_VIRT_END);

/// Physical address where the boot loader puts xen-core's image.
pub const IMAGE_LOAD_BASE: u64 = 0x10_0000;

/// Highest machine memory xen-core manages (the frame allocator's bitmap is sized for it).
pub const MAX_MACHINE_MEMORY: u64 = 4 << 30;
/// Number of machine frames under [`MAX_MACHINE_MEMORY`].
pub const MAX_MACHINE_FRAMES: usize = (MAX_MACHINE_MEMORY / PAGE_SIZE) as usize;

/// The L4 slot that maps `va`.
pub const fn l4_slot(va: u64) -> usize {
    ((va >> 39) & 511) as usize
}

/// The index of `va` in its page table at `level` (1 = L1 ... 4 = L4).
pub const fn table_index(va: u64, level: u32) -> usize {
    ((va >> (PAGE_SHIFT + 9 * (level - 1))) & 511) as usize
}

/// The direct-map virtual address of machine address `maddr`.
pub const fn maddr_to_virt(maddr: u64) -> u64 {
    DIRECTMAP_BASE + maddr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_xen() {
        assert_eq!(M2P_L4_SLOT, 256);
        assert_eq!(DIRECTMAP_L4_SLOT, 262);
        assert_eq!(FIRST_XEN_L4_SLOT, 256);
        assert_eq!(END_XEN_L4_SLOT, 272);
        assert!(maddr_to_virt(MAX_MACHINE_MEMORY) < DIRECTMAP_END);
    }

    #[test]
    fn table_indices() {
        let va = 0xFFFF_FFFF_8020_3000u64;
        assert_eq!(table_index(va, 4), 511);
        assert_eq!(table_index(va, 3), 510);
        assert_eq!(table_index(va, 2), 1);
        assert_eq!(table_index(va, 1), 3);
    }
}
