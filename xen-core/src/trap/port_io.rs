//! Who may do port I/O, and what a guest sees of the ports xen-core keeps: Xen 4.17's rules.
//!
//! Two checks, as in Xen 4.17 (`guest_io_okay` and `admin_io_okay` in
//! `arch/x86/pv/emul-priv-op.c`):
//! 1. The guest's own permission: its virtual IOPL (PHYSDEVOP_set_iopl) must be at least its
//!    virtual CPL (1 for the kernel, 0 with VMASST_TYPE_architectural_iopl, 3 for user mode),
//!    or its I/O bitmap (PHYSDEVOP_set_iobitmap) must clear every bit of the access, which must
//!    lie below the bitmap's port count. Failing this, the instruction is a #GP.
//! 2. The administrator's grant: Dom0 has every port except those the hypervisor keeps
//!    (Xen: the PICs 0x20-0x21 and 0xa0-0xa1, the PIT 0x40-0x43, 0x61, the ACPI PM timer,
//!    PCI data 0xcfc-0xcff and the UART it prints on; the RTC 0x70-0x71 and a 32-bit access
//!    to 0xcf8 are never direct). A DomU has no port until it is granted some. An access that
//!    passes check 1 but not check 2 still completes: reads give all ones (except the few
//!    ports emulated below), writes are dropped.
//!
//! Emulated ports: 0xcf8 (a 32-bit latch, per domain), 0x70 (the CMOS index latch); 0x71 and
//! 0xcfc-0xcff are forwarded by the caller for Dom0 (see [`Emulated`]).

use core::ops::RangeInclusive;

/// The ports xen-core keeps from Dom0, as Xen 4.17 does, plus xen-core's own console UART.
/// (Xen finds its ACPI PM timer in the FADT; xen-core names QEMU's PIIX4 one.)
pub const DOM0_DENIED_PORTS: [RangeInclusive<u16>; 7] = [
    0x20..=0x21,
    0x40..=0x43,
    0x61..=0x61,
    0xa0..=0xa1,
    0x3f8..=0x3ff,
    0x608..=0x60b,
    0xcfc..=0xcff,
];

/// PCI configuration address port.
pub const PCI_CONF_ADDRESS: u16 = 0xcf8;
/// PCI configuration data ports.
pub const PCI_CONF_DATA: RangeInclusive<u16> = 0xcfc..=0xcff;
/// CMOS/RTC index port.
pub const RTC_INDEX: u16 = 0x70;
/// CMOS/RTC data port.
pub const RTC_DATA: u16 = 0x71;

/// A vCPU's port-I/O state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoState {
    /// Virtual IOPL, 0..=3.
    pub iopl: u8,
    /// Guest address of the I/O bitmap (PHYSDEVOP_set_iobitmap).
    pub bitmap: u64,
    /// Ports the bitmap covers; 0 disables it.
    pub bitmap_ports: u32,
    /// The last value written to port 0xcf8 as a 32-bit access.
    pub pci_cf8: u32,
    /// The last CMOS index written to port 0x70.
    pub cmos_index: u8,
}

/// The guest's virtual CPL: 1 for a PV kernel (0 with the architectural-IOPL assist), 3 for
/// its user mode.
pub fn virtual_cpl(kernel_mode: bool, architectural_iopl: bool) -> u8 {
    match (kernel_mode, architectural_iopl) {
        (true, true) => 0,
        (true, false) => 1,
        (false, _) => 3,
    }
}

/// Whether the virtual IOPL allows I/O (and `cli`/`sti`) at `cpl`.
pub fn iopl_ok(io: &IoState, cpl: u8) -> bool {
    cpl <= io.iopl
}

/// Whether the I/O bitmap allows `size` bytes at `port`. `read_bitmap(offset)` returns the two
/// bitmap bytes at `offset` (an unreadable byte denies, as in Xen).
pub fn bitmap_ok(
    io: &IoState,
    port: u16,
    size: u8,
    read_bitmap: impl FnOnce(u64) -> [Option<u8>; 2],
) -> bool {
    if u32::from(port) + u32::from(size) > io.bitmap_ports {
        return false;
    }
    let [lo, hi] = read_bitmap(u64::from(port >> 3));
    let mask = u16::from_le_bytes([lo.unwrap_or(0xff), hi.unwrap_or(0xff)]);
    let wanted = (((1u32 << size) - 1) << (port & 7)) as u16;
    mask & wanted == 0
}

/// Whether the administrator granted `size` bytes at `port` to the domain: Dom0 has all but
/// [`DOM0_DENIED_PORTS`], a DomU none; the RTC and a 32-bit 0xcf8 are never direct.
pub fn admin_ok(privileged: bool, port: u16, size: u8) -> bool {
    if (port == PCI_CONF_ADDRESS && size == 4) || port & !1 == RTC_INDEX {
        return false;
    }
    if !privileged {
        return false;
    }
    let first = u32::from(port);
    let last = first + u32::from(size) - 1;
    !DOM0_DENIED_PORTS
        .iter()
        .any(|r| first <= u32::from(*r.end()) && last >= u32::from(*r.start()))
}

/// What one byte (or the 32-bit 0xcf8 latch) of an access to a port the guest may not reach
/// directly turns into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulated {
    /// Reads as all ones, writes dropped.
    Nothing,
    /// The 0xcf8 latch (a 32-bit access).
    PciAddress,
    /// Byte `offset` of the PCI data window; Dom0's accesses go to the device addressed by the
    /// latch, others read all ones.
    PciData {
        /// 0..=3.
        offset: u8,
    },
    /// The CMOS index latch.
    RtcIndex,
    /// The CMOS data port, for Dom0: the register the latch names.
    RtcData,
}

/// How to emulate `size` bytes at `port` that [`admin_ok`] refused, piece by piece, for a
/// domain (`privileged` = Dom0): pieces of (port, width, what) in order.
pub fn emulated_pieces(
    privileged: bool,
    port: u16,
    size: u8,
) -> heapless::Vec<(u16, u8, Emulated), 4> {
    let mut out = heapless::Vec::new();
    if port == PCI_CONF_ADDRESS && size == 4 {
        let _ = out.push((port, 4, Emulated::PciAddress));
        return out;
    }
    let mut p = port;
    let mut left = size;
    while left > 0 {
        let (width, what) = if PCI_CONF_DATA.contains(&p) {
            let offset = (p & 3) as u8;
            let mut w = left.min(4 - offset);
            if w == 3 {
                w = 2;
            }
            let what = if privileged {
                Emulated::PciData { offset }
            } else {
                Emulated::Nothing
            };
            (w, what)
        } else if p == RTC_INDEX {
            (1, Emulated::RtcIndex)
        } else if p == RTC_DATA && privileged {
            (1, Emulated::RtcData)
        } else {
            (1, Emulated::Nothing)
        };
        let _ = out.push((p, width, what));
        p = p.wrapping_add(u16::from(width));
        left -= width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_iopl() {
        let mut io = IoState::default();
        assert!(!iopl_ok(&io, virtual_cpl(true, false)), "IOPL 0 at start");
        io.iopl = 1;
        assert!(iopl_ok(&io, virtual_cpl(true, false)));
        assert!(
            !iopl_ok(&io, virtual_cpl(false, false)),
            "user mode is ring 3"
        );
        io.iopl = 0;
        assert!(iopl_ok(&io, virtual_cpl(true, true)), "architectural IOPL");
        io.iopl = 3;
        assert!(iopl_ok(&io, virtual_cpl(false, false)));
    }

    #[test]
    fn io_bitmap() {
        let io = IoState {
            bitmap: 0x1000,
            bitmap_ports: 0x100,
            ..Default::default()
        };
        // Bitmap: port 0x80 allowed, 0x7f and 0x81 denied.
        let bytes = |off: u64| match off {
            0xf => [Some(0xff), Some(0xfe)],
            0x10 => [Some(0xfe), Some(0xff)],
            _ => [Some(0xff), Some(0xff)],
        };
        assert!(bitmap_ok(&io, 0x80, 1, bytes));
        assert!(!bitmap_ok(&io, 0x81, 1, bytes));
        assert!(!bitmap_ok(&io, 0x7f, 2, bytes), "0x7f is denied");
        assert!(!bitmap_ok(&io, 0xff, 2, bytes), "past the port count");
        assert!(!bitmap_ok(&io, 0x80, 1, |_| [None, None]), "unreadable");
        let off = IoState::default();
        assert!(!bitmap_ok(&off, 0x80, 1, bytes), "no bitmap");
    }

    #[test]
    fn dom0_grant_matches_xen() {
        // Ports Xen 4.17 gives Dom0 directly (QEMU probe: real values came back).
        for (port, size) in [(0x80, 1), (0x64, 1), (0x2f8, 2), (0xf4, 1), (0x604, 2)] {
            assert!(admin_ok(true, port, size), "{port:#x}");
        }
        // Ports it keeps (reads gave all ones).
        for (port, size) in [
            (0x21, 1),
            (0xa1, 1),
            (0x40, 1),
            (0x61, 1),
            (0x3fd, 1),
            (0x3f8, 4),
            (0x608, 4),
            (0xcfc, 4),
            (0xcf8, 4),
            (0x70, 1),
            (0x71, 1),
            (0x1f, 2),
        ] {
            assert!(!admin_ok(true, port, size), "{port:#x}/{size}");
        }
        assert!(
            admin_ok(true, 0xcf8, 1),
            "only 32-bit accesses hit the latch"
        );
        assert!(!admin_ok(false, 0x80, 1), "a DomU has no port");
    }

    #[test]
    fn emulated_ports() {
        let p = emulated_pieces(true, 0xcf8, 4);
        assert_eq!(p.as_slice(), &[(0xcf8, 4, Emulated::PciAddress)]);
        let p = emulated_pieces(true, 0xcfc, 4);
        assert_eq!(p.as_slice(), &[(0xcfc, 4, Emulated::PciData { offset: 0 })]);
        let p = emulated_pieces(true, 0xcfd, 4);
        assert_eq!(
            p.as_slice(),
            &[
                (0xcfd, 2, Emulated::PciData { offset: 1 }),
                (0xcff, 1, Emulated::PciData { offset: 3 }),
                (0xd00, 1, Emulated::Nothing)
            ]
        );
        let p = emulated_pieces(false, 0xcfc, 2);
        assert_eq!(p.as_slice(), &[(0xcfc, 2, Emulated::Nothing)]);
        let p = emulated_pieces(true, 0x70, 2);
        assert_eq!(
            p.as_slice(),
            &[(0x70, 1, Emulated::RtcIndex), (0x71, 1, Emulated::RtcData)]
        );
        let p = emulated_pieces(false, 0x71, 1);
        assert_eq!(p.as_slice(), &[(0x71, 1, Emulated::Nothing)]);
        assert_eq!(emulated_pieces(true, 0x21, 4).len(), 4);
    }
}
