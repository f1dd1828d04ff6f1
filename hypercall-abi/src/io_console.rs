//! The PV console ring page shared by a guest and its console backend (io/console.h).

use core::mem::{offset_of, size_of};

/// Bytes in the input (backend to guest) ring.
pub const XENCONS_IN_SIZE: usize = 1024;
/// Bytes in the output (guest to backend) ring.
pub const XENCONS_OUT_SIZE: usize = 2048;
/// `XenconsInterface::connection`: the backend services the ring.
pub const XENCONSOLE_CONNECTED: u8 = 0;
/// `XenconsInterface::connection`: no backend yet.
pub const XENCONSOLE_DISCONNECTED: u8 = 1;

/// The console ring page (`struct xencons_interface`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenconsInterface {
    /// Input ring (`in` in C).
    pub in_: [u8; XENCONS_IN_SIZE],
    /// Output ring.
    pub out: [u8; XENCONS_OUT_SIZE],
    /// Input consumer index (guest).
    pub in_cons: u32,
    /// Input producer index (backend).
    pub in_prod: u32,
    /// Output consumer index (backend).
    pub out_cons: u32,
    /// Output producer index (guest).
    pub out_prod: u32,
    /// `XENCONSOLE_*` (newer Xen only; 0 = connected on older ones).
    pub connection: u8,
    /// Padding (C alignment).
    pub pad: [u8; 3],
}
const _: () = assert!(size_of::<XenconsInterface>() == 3092);
const _: () = assert!(offset_of!(XenconsInterface, in_) == 0);
const _: () = assert!(offset_of!(XenconsInterface, out) == 1024);
const _: () = assert!(offset_of!(XenconsInterface, in_cons) == 3072);
const _: () = assert!(offset_of!(XenconsInterface, in_prod) == 3076);
const _: () = assert!(offset_of!(XenconsInterface, out_cons) == 3080);
const _: () = assert!(offset_of!(XenconsInterface, out_prod) == 3084);
const _: () = assert!(offset_of!(XenconsInterface, connection) == 3088);
const _: () = assert!(offset_of!(XenconsInterface, pad) == 3089);

impl Default for XenconsInterface {
    fn default() -> Self {
        XenconsInterface {
            in_: [0; XENCONS_IN_SIZE],
            out: [0; XENCONS_OUT_SIZE],
            in_cons: 0,
            in_prod: 0,
            out_cons: 0,
            out_prod: 0,
            connection: XENCONSOLE_CONNECTED,
            pad: [0; 3],
        }
    }
}

/// Byte offset in the input ring of free-running index `idx`.
pub const fn mask_in(idx: u32) -> usize {
    idx as usize & (XENCONS_IN_SIZE - 1)
}

/// Byte offset in the output ring of free-running index `idx`.
pub const fn mask_out(idx: u32) -> usize {
    idx as usize & (XENCONS_OUT_SIZE - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_console_h() {
        assert_eq!(size_of::<XenconsInterface>(), 3092);
        assert_eq!(offset_of!(XenconsInterface, out), 1024);
        assert_eq!(offset_of!(XenconsInterface, in_cons), 3072);
        assert_eq!(offset_of!(XenconsInterface, in_prod), 3076);
        assert_eq!(offset_of!(XenconsInterface, out_cons), 3080);
        assert_eq!(offset_of!(XenconsInterface, out_prod), 3084);
        assert_eq!(offset_of!(XenconsInterface, connection), 3088);
        assert_eq!(XENCONSOLE_CONNECTED, 0);
        assert_eq!(XENCONSOLE_DISCONNECTED, 1);
    }

    #[test]
    fn masks_wrap() {
        assert_eq!(mask_in(1023), 1023);
        assert_eq!(mask_in(1024), 0);
        assert_eq!(mask_out(2049), 1);
        assert_eq!(mask_out(u32::MAX), 2047);
    }
}
