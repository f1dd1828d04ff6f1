//! Xen's CPUID leaves and the forced-emulation prefix.

/// First hypervisor CPUID leaf.
pub const XEN_CPUID_FIRST_LEAF: u32 = 0x4000_0000;
/// Signature EBX: "XenV".
pub const XEN_CPUID_SIGNATURE_EBX: u32 = 0x566e_6558;
/// Signature ECX: "MMXe".
pub const XEN_CPUID_SIGNATURE_ECX: u32 = 0x6558_4d4d;
/// Signature EDX: "nVMM".
pub const XEN_CPUID_SIGNATURE_EDX: u32 = 0x4d4d_566e;
/// `ud2; .ascii "xen"`: before `cpuid` it asks for the guest's emulated view.
pub const FORCED_EMULATION_PREFIX: [u8; 5] = [0x0f, 0x0b, 0x78, 0x65, 0x6e];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_arch_x86_cpuid_h() {
        assert_eq!(XEN_CPUID_FIRST_LEAF, 0x40000000);
        assert_eq!(XEN_CPUID_SIGNATURE_EBX, 0x566e6558);
        assert_eq!(XEN_CPUID_SIGNATURE_ECX, 0x65584d4d);
        assert_eq!(XEN_CPUID_SIGNATURE_EDX, 0x4d4d566e);
    }

    #[test]
    fn signature_spells_xenvmmxenvmm() {
        let mut sig = [0u8; 12];
        sig[..4].copy_from_slice(&XEN_CPUID_SIGNATURE_EBX.to_le_bytes());
        sig[4..8].copy_from_slice(&XEN_CPUID_SIGNATURE_ECX.to_le_bytes());
        sig[8..].copy_from_slice(&XEN_CPUID_SIGNATURE_EDX.to_le_bytes());
        assert_eq!(&sig, b"XenVMMXenVMM");
    }

    #[test]
    fn forced_emulation_prefix_is_ud2_xen() {
        assert_eq!(FORCED_EMULATION_PREFIX, [0x0f, 0x0b, 0x78, 0x65, 0x6e]);
        assert_eq!(&FORCED_EMULATION_PREFIX[2..], b"xen");
    }
}
