//! `XENFEAT_*` feature bit numbers reported by `XENVER_get_features`.

/// The guest may write its page tables directly.
pub const XENFEAT_WRITABLE_PAGE_TABLES: u32 = 0;
/// The guest may write its descriptor tables directly.
pub const XENFEAT_WRITABLE_DESCRIPTOR_TABLES: u32 = 1;
/// The hypervisor translates pseudo-physical to machine addresses.
pub const XENFEAT_AUTO_TRANSLATED_PHYSMAP: u32 = 2;
/// The guest kernel runs in supervisor mode.
pub const XENFEAT_SUPERVISOR_MODE_KERNEL: u32 = 3;
/// PAE page directories may live above 4 GiB.
pub const XENFEAT_PAE_PGDIR_ABOVE_4GB: u32 = 4;
/// `MMU_PT_UPDATE_PRESERVE_AD` is supported.
pub const XENFEAT_MMU_PT_UPDATE_PRESERVE_AD: u32 = 5;
/// `MMUEXT_CLEAR_PAGE` / `MMUEXT_COPY_PAGE` are supported.
pub const XENFEAT_HIGHMEM_ASSIST: u32 = 6;
/// Grant mapping honours the PTE available bits.
pub const XENFEAT_GNTTAB_MAP_AVAIL_BITS: u32 = 7;
/// HVM callback vector supported.
pub const XENFEAT_HVM_CALLBACK_VECTOR: u32 = 8;
/// pvclock is safe for HVM.
pub const XENFEAT_HVM_SAFE_PVCLOCK: u32 = 9;
/// HVM guests may use PIRQs.
pub const XENFEAT_HVM_PIRQS: u32 = 10;
/// Operation as Dom0 is supported.
pub const XENFEAT_DOM0: u32 = 11;
/// `XENMEMF_vnode` is supported.
pub const XENFEAT_MEMORY_OP_VNODE_SUPPORTED: u32 = 13;
/// Arm SMCCC supported.
pub const XENFEAT_ARM_SMCCC_SUPPORTED: u32 = 14;
/// PVH: the ACPI RSDP may be anywhere.
pub const XENFEAT_LINUX_RSDP_UNRESTRICTED: u32 = 15;
/// The domain is not direct-mapped (gfn != mfn).
pub const XENFEAT_NOT_DIRECT_MAPPED: u32 = 16;
/// The domain is direct-mapped (gfn == mfn).
pub const XENFEAT_DIRECT_MAPPED: u32 = 17;
/// Number of 32-bit feature submaps.
pub const XENFEAT_NR_SUBMAPS: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_features_h() {
        assert_eq!(XENFEAT_WRITABLE_PAGE_TABLES, 0);
        assert_eq!(XENFEAT_WRITABLE_DESCRIPTOR_TABLES, 1);
        assert_eq!(XENFEAT_AUTO_TRANSLATED_PHYSMAP, 2);
        assert_eq!(XENFEAT_SUPERVISOR_MODE_KERNEL, 3);
        assert_eq!(XENFEAT_PAE_PGDIR_ABOVE_4GB, 4);
        assert_eq!(XENFEAT_MMU_PT_UPDATE_PRESERVE_AD, 5);
        assert_eq!(XENFEAT_HIGHMEM_ASSIST, 6);
        assert_eq!(XENFEAT_GNTTAB_MAP_AVAIL_BITS, 7);
        assert_eq!(XENFEAT_HVM_CALLBACK_VECTOR, 8);
        assert_eq!(XENFEAT_HVM_SAFE_PVCLOCK, 9);
        assert_eq!(XENFEAT_HVM_PIRQS, 10);
        assert_eq!(XENFEAT_DOM0, 11);
        assert_eq!(XENFEAT_MEMORY_OP_VNODE_SUPPORTED, 13);
        assert_eq!(XENFEAT_ARM_SMCCC_SUPPORTED, 14);
        assert_eq!(XENFEAT_LINUX_RSDP_UNRESTRICTED, 15);
        assert_eq!(XENFEAT_NOT_DIRECT_MAPPED, 16);
        assert_eq!(XENFEAT_DIRECT_MAPPED, 17);
        assert_eq!(XENFEAT_NR_SUBMAPS, 1);
    }
}
