//! vm_assist: commands and assist types.

/// Enable an assist.
pub const VMASST_CMD_ENABLE: u32 = 0;
/// Disable an assist.
pub const VMASST_CMD_DISABLE: u32 = 1;

/// x86_32: emulate 4 GiB segment limits.
pub const VMASST_TYPE_4GB_SEGMENTS: u32 = 0;
/// x86_32: trap when the 4 GiB segment emulation is used.
pub const VMASST_TYPE_4GB_SEGMENTS_NOTIFY: u32 = 1;
/// Writable bottom-level page tables (emulated PTE writes).
pub const VMASST_TYPE_WRITABLE_PAGETABLES: u32 = 2;
/// x86 PAE: PDPTs above 4 GiB.
pub const VMASST_TYPE_PAE_EXTENDED_CR3: u32 = 3;
/// Architectural behaviour of the virtual IOPL.
pub const VMASST_TYPE_ARCHITECTURAL_IOPL: u32 = 4;
/// Runstate area update flag.
pub const VMASST_TYPE_RUNSTATE_UPDATE_FLAG: u32 = 5;
/// x86_64: hide the M2P from guest user mode strictly.
pub const VMASST_TYPE_M2P_STRICT: u32 = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_xen_h() {
        assert_eq!(VMASST_CMD_ENABLE, 0);
        assert_eq!(VMASST_CMD_DISABLE, 1);
        assert_eq!(VMASST_TYPE_4GB_SEGMENTS, 0);
        assert_eq!(VMASST_TYPE_4GB_SEGMENTS_NOTIFY, 1);
        assert_eq!(VMASST_TYPE_WRITABLE_PAGETABLES, 2);
        assert_eq!(VMASST_TYPE_PAE_EXTENDED_CR3, 3);
        assert_eq!(VMASST_TYPE_ARCHITECTURAL_IOPL, 4);
        assert_eq!(VMASST_TYPE_RUNSTATE_UPDATE_FLAG, 5);
        assert_eq!(VMASST_TYPE_M2P_STRICT, 32);
    }
}
