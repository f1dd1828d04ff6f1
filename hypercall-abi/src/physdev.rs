//! physdev_op: the I/O privilege commands a PV kernel uses for port access.

use core::mem::{offset_of, size_of};

/// `PHYSDEVOP_set_iopl`: set the calling vCPU's virtual I/O privilege level.
pub const PHYSDEVOP_SET_IOPL: u64 = 6;
/// `PHYSDEVOP_set_iobitmap`: set the calling vCPU's I/O-port permission bitmap.
pub const PHYSDEVOP_SET_IOBITMAP: u64 = 7;

/// Argument of `PHYSDEVOP_set_iopl` (`struct physdev_set_iopl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevSetIopl {
    /// The new IOPL, 0 to 3.
    pub iopl: u32,
}
const _: () = assert!(size_of::<PhysdevSetIopl>() == 4);
const _: () = assert!(offset_of!(PhysdevSetIopl, iopl) == 0);

/// Argument of `PHYSDEVOP_set_iobitmap` (`struct physdev_set_iobitmap`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevSetIobitmap {
    /// Guest virtual address of the bitmap (a set bit denies the port, as in a TSS).
    pub bitmap: u64,
    /// Number of ports the bitmap covers.
    pub nr_ports: u32,
    /// Padding (C alignment).
    pub pad: u32,
}
const _: () = assert!(size_of::<PhysdevSetIobitmap>() == 16);
const _: () = assert!(offset_of!(PhysdevSetIobitmap, bitmap) == 0);
const _: () = assert!(offset_of!(PhysdevSetIobitmap, nr_ports) == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_match_physdev_h() {
        assert_eq!(PHYSDEVOP_SET_IOPL, 6);
        assert_eq!(PHYSDEVOP_SET_IOBITMAP, 7);
    }

    #[test]
    fn layouts_match_physdev_h() {
        assert_eq!(size_of::<PhysdevSetIopl>(), 4);
        assert_eq!(size_of::<PhysdevSetIobitmap>(), 16);
        assert_eq!(offset_of!(PhysdevSetIobitmap, nr_ports), 8);
    }
}
