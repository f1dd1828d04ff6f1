//! Xen ELF note types a PV guest kernel carries (owner "Xen").

/// Owner name of Xen's ELF notes.
pub const XEN_ELFNOTE_OWNER: &str = "Xen";

/// Virtual entry point.
pub const XEN_ELFNOTE_ENTRY: u32 = 1;
/// Virtual address of the hypercall page.
pub const XEN_ELFNOTE_HYPERCALL_PAGE: u32 = 2;
/// Virtual base of the kernel image.
pub const XEN_ELFNOTE_VIRT_BASE: u32 = 3;
/// Offset between virtual and physical addresses.
pub const XEN_ELFNOTE_PADDR_OFFSET: u32 = 4;
/// ABI version string ("xen-3.0").
pub const XEN_ELFNOTE_XEN_VERSION: u32 = 5;
/// Guest OS name.
pub const XEN_ELFNOTE_GUEST_OS: u32 = 6;
/// Guest OS version.
pub const XEN_ELFNOTE_GUEST_VERSION: u32 = 7;
/// Loader name ("generic").
pub const XEN_ELFNOTE_LOADER: u32 = 8;
/// PAE mode string.
pub const XEN_ELFNOTE_PAE_MODE: u32 = 9;
/// Required/optional features string.
pub const XEN_ELFNOTE_FEATURES: u32 = 10;
/// Whether to load the BSD symbol table.
pub const XEN_ELFNOTE_BSD_SYMTAB: u32 = 11;
/// Lowest hypervisor virtual address the guest allows (32-bit guests).
pub const XEN_ELFNOTE_HV_START_LOW: u32 = 12;
/// Mask and value identifying valid L1 MFN entries.
pub const XEN_ELFNOTE_L1_MFN_VALID: u32 = 13;
/// The guest supports suspend cancellation.
pub const XEN_ELFNOTE_SUSPEND_CANCEL: u32 = 14;
/// Virtual address at which to map the initial P2M.
pub const XEN_ELFNOTE_INIT_P2M: u32 = 15;
/// The guest accepts a PFN in `mod_start`.
pub const XEN_ELFNOTE_MOD_START_PFN: u32 = 16;
/// Bitmap of supported `XENFEAT_*` features.
pub const XEN_ELFNOTE_SUPPORTED_FEATURES: u32 = 17;
/// 32-bit physical entry point (PVH).
pub const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_elfnote_h() {
        assert_eq!(XEN_ELFNOTE_OWNER, "Xen");
        let all = [
            XEN_ELFNOTE_ENTRY,
            XEN_ELFNOTE_HYPERCALL_PAGE,
            XEN_ELFNOTE_VIRT_BASE,
            XEN_ELFNOTE_PADDR_OFFSET,
            XEN_ELFNOTE_XEN_VERSION,
            XEN_ELFNOTE_GUEST_OS,
            XEN_ELFNOTE_GUEST_VERSION,
            XEN_ELFNOTE_LOADER,
            XEN_ELFNOTE_PAE_MODE,
            XEN_ELFNOTE_FEATURES,
            XEN_ELFNOTE_BSD_SYMTAB,
            XEN_ELFNOTE_HV_START_LOW,
            XEN_ELFNOTE_L1_MFN_VALID,
            XEN_ELFNOTE_SUSPEND_CANCEL,
            XEN_ELFNOTE_INIT_P2M,
            XEN_ELFNOTE_MOD_START_PFN,
            XEN_ELFNOTE_SUPPORTED_FEATURES,
            XEN_ELFNOTE_PHYS32_ENTRY,
        ];
        assert_eq!(
            all,
            [
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18
            ]
        );
    }
}
