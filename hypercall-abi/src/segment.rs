//! Flat segment selectors, the reserved GDT area and set_segment_base's `which`.

use crate::errno::Errno;

/// 32-bit flat code selector (RPL 3).
pub const FLAT_RING3_CS32: u16 = 0xe023;
/// 64-bit flat code selector (RPL 3).
pub const FLAT_RING3_CS64: u16 = 0xe033;
/// 32-bit flat data selector (RPL 3).
pub const FLAT_RING3_DS32: u16 = 0xe02b;
/// 64-bit data selector: the NULL selector, as in Xen's `xen-x86_64.h`.
pub const FLAT_RING3_DS64: u16 = 0x0000;
/// 32-bit flat stack selector (RPL 3).
pub const FLAT_RING3_SS32: u16 = 0xe02b;
/// 64-bit flat stack selector (RPL 3).
pub const FLAT_RING3_SS64: u16 = 0xe02b;
/// Guest kernel 64-bit code selector (the kernel runs at CPL 3 too).
pub const FLAT_KERNEL_CS64: u16 = FLAT_RING3_CS64;
/// Guest kernel 64-bit data selector.
pub const FLAT_KERNEL_DS64: u16 = FLAT_RING3_DS64;
/// Guest kernel 64-bit stack selector.
pub const FLAT_KERNEL_SS64: u16 = FLAT_RING3_SS64;
/// Guest user 64-bit code selector.
pub const FLAT_USER_CS64: u16 = FLAT_RING3_CS64;
/// Guest user 64-bit data selector.
pub const FLAT_USER_DS64: u16 = FLAT_RING3_DS64;
/// Guest user 64-bit stack selector.
pub const FLAT_USER_SS64: u16 = FLAT_RING3_SS64;

/// First GDT page reserved for the hypervisor.
pub const FIRST_RESERVED_GDT_PAGE: u64 = 14;
/// First GDT byte reserved for the hypervisor.
pub const FIRST_RESERVED_GDT_BYTE: u64 = FIRST_RESERVED_GDT_PAGE * 4096;
/// First GDT entry (8-byte descriptor index) reserved for the hypervisor.
pub const FIRST_RESERVED_GDT_ENTRY: u64 = FIRST_RESERVED_GDT_BYTE / 8;

/// The `which` argument of set_segment_base (`SEGBASE_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegBase {
    /// The FS base.
    Fs = 0,
    /// The user-mode GS base (`SEGBASE_GS_USER`).
    GsUser = 1,
    /// The kernel-mode GS base (`SEGBASE_GS_KERNEL`).
    GsKernel = 2,
    /// Load user %gs with the selector in bits 15:0 of the base (`SEGBASE_GS_USER_SEL`).
    GsUserSel = 3,
}

impl TryFrom<u64> for SegBase {
    type Error = Errno;

    /// Xen takes `which` as a C `unsigned int`: the upper 32 bits are ignored.
    fn try_from(which: u64) -> Result<Self, Errno> {
        match which as u32 {
            0 => Ok(SegBase::Fs),
            1 => Ok(SegBase::GsUser),
            2 => Ok(SegBase::GsKernel),
            3 => Ok(SegBase::GsUserSel),
            _ => Err(Errno::Inval),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_xen_x86_64_h() {
        assert_eq!(FLAT_RING3_CS32, 0xe023);
        assert_eq!(FLAT_RING3_CS64, 0xe033);
        assert_eq!(FLAT_RING3_DS32, 0xe02b);
        assert_eq!(FLAT_RING3_DS64, 0x0000);
        assert_eq!(FLAT_RING3_SS32, 0xe02b);
        assert_eq!(FLAT_RING3_SS64, 0xe02b);
        assert_eq!(FLAT_KERNEL_CS64, 0xe033);
        assert_eq!(FLAT_KERNEL_DS64, 0x0000);
        assert_eq!(FLAT_KERNEL_SS64, 0xe02b);
        assert_eq!(FLAT_USER_CS64, 0xe033);
        assert_eq!(FLAT_USER_DS64, 0x0000);
        assert_eq!(FLAT_USER_SS64, 0xe02b);
    }

    #[test]
    fn selectors_sit_in_the_reserved_gdt_area_with_rpl3() {
        for sel in [FLAT_RING3_CS32, FLAT_RING3_CS64, FLAT_RING3_SS64] {
            assert_eq!(sel & 3, 3);
            assert!(u64::from(sel & !7) >= FIRST_RESERVED_GDT_BYTE);
        }
    }

    #[test]
    fn reserved_gdt_matches_arch_x86_xen_h() {
        assert_eq!(FIRST_RESERVED_GDT_PAGE, 14);
        assert_eq!(FIRST_RESERVED_GDT_BYTE, 0xe000);
        assert_eq!(FIRST_RESERVED_GDT_ENTRY, 0x1c00);
    }

    #[test]
    fn segbase_values_match_xen_x86_64_h() {
        assert_eq!(SegBase::Fs as u8, 0);
        assert_eq!(SegBase::GsUser as u8, 1);
        assert_eq!(SegBase::GsKernel as u8, 2);
        assert_eq!(SegBase::GsUserSel as u8, 3);
    }

    #[test]
    fn segbase_decode() {
        assert_eq!(SegBase::try_from(0), Ok(SegBase::Fs));
        assert_eq!(SegBase::try_from(1), Ok(SegBase::GsUser));
        assert_eq!(SegBase::try_from(2), Ok(SegBase::GsKernel));
        assert_eq!(SegBase::try_from(3), Ok(SegBase::GsUserSel));
        assert_eq!(SegBase::try_from(4), Err(Errno::Inval));
        assert_eq!(SegBase::try_from(u64::from(u32::MAX)), Err(Errno::Inval));
        // Xen's `which` is an unsigned int: the high half is dropped.
        assert_eq!(SegBase::try_from(0x1_0000_0002), Ok(SegBase::GsKernel));
    }
}
