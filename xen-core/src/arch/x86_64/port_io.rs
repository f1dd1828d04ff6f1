//! Port I/O on a guest's behalf: ports it was granted, and the RTC and PCI configuration
//! accesses xen-core forwards for Dom0 (ports a guest never reaches directly).

use core::arch::asm;

use xen_core::trap::port_io::{PCI_CONF_ADDRESS, RTC_DATA, RTC_INDEX, admin_ok};

/// Proof that the running domain may access `size` bytes at `port` directly: only
/// [`GrantedPort::new`] makes one, after the administrator's check.
pub struct GrantedPort {
    port: u16,
    size: u8,
}

/// # Safety
/// `size` is 1, 2 or 4, and reading `port` must not disturb xen-core.
unsafe fn inp(port: u16, size: u8) -> u32 {
    let value: u32;
    // SAFETY: the caller vouches for the port; we run at CPL 0.
    unsafe {
        match size {
            1 => {
                let v: u8;
                asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags));
                value = u32::from(v);
            }
            2 => {
                let v: u16;
                asm!("in ax, dx", in("dx") port, out("ax") v, options(nomem, nostack, preserves_flags));
                value = u32::from(v);
            }
            _ => {
                asm!("in eax, dx", in("dx") port, out("eax") value, options(nomem, nostack, preserves_flags));
            }
        }
    }
    value
}

/// # Safety
/// `size` is 1, 2 or 4, and writing `port` must not disturb xen-core.
unsafe fn outp(port: u16, size: u8, value: u32) {
    // SAFETY: the caller vouches for the port; we run at CPL 0.
    unsafe {
        match size {
            1 => {
                asm!("out dx, al", in("dx") port, in("al") value as u8, options(nomem, nostack, preserves_flags))
            }
            2 => {
                asm!("out dx, ax", in("dx") port, in("ax") value as u16, options(nomem, nostack, preserves_flags))
            }
            _ => {
                asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
            }
        }
    }
}

impl GrantedPort {
    /// The grant for `size` (1, 2 or 4) bytes at `port` for a domain (`privileged` = Dom0), if
    /// the administrator gave it (`trap::port_io::admin_ok`: never a port xen-core drives).
    pub fn new(privileged: bool, port: u16, size: u8) -> Option<Self> {
        (matches!(size, 1 | 2 | 4) && admin_ok(privileged, port, size))
            .then_some(GrantedPort { port, size })
    }

    /// Reads the port.
    pub fn read(&self) -> u32 {
        // SAFETY: the grant excludes every port xen-core uses (its UART, the PICs, the PIT, the
        // RTC, PCI configuration), and the size was checked.
        unsafe { inp(self.port, self.size) }
    }

    /// Writes the low bytes of `value` to the port.
    pub fn write(&self, value: u32) {
        // SAFETY: as in `read`.
        unsafe { outp(self.port, self.size, value) }
    }
}

/// Reads CMOS register `index` (bit 7, the NMI mask, is kept clear), for Dom0 as Xen does.
pub fn cmos_read(index: u8) -> u8 {
    // SAFETY: xen-core itself touches the RTC/CMOS only once, at boot (`rtc::read`), before any
    // guest exists; an index write followed by a data read is the whole protocol, done with
    // interrupts off so nothing can come between.
    unsafe {
        outp(RTC_INDEX, 1, u32::from(index & 0x7f));
        inp(RTC_DATA, 1) as u8
    }
}

/// Writes CMOS register `index`, for Dom0 as Xen does.
pub fn cmos_write(index: u8, value: u8) {
    // SAFETY: as in `cmos_read`.
    unsafe {
        outp(RTC_INDEX, 1, u32::from(index & 0x7f));
        outp(RTC_DATA, 1, u32::from(value));
    }
}

/// Reads `size` bytes at `offset` (0..=3) of the PCI configuration dword `cf8` selects, for
/// Dom0 as Xen does.
pub fn pci_conf_read(cf8: u32, offset: u8, size: u8) -> u32 {
    let size = if matches!(size, 1 | 2 | 4) { size } else { 1 };
    // SAFETY: xen-core does not use PCI configuration space; the address/data pair is done with
    // interrupts off, so nothing can come between.
    unsafe {
        outp(PCI_CONF_ADDRESS, 4, cf8);
        inp(0xcfc + u16::from(offset & 3), size)
    }
}

/// Writes `size` bytes at `offset` of the PCI configuration dword `cf8` selects, for Dom0.
pub fn pci_conf_write(cf8: u32, offset: u8, size: u8, value: u32) {
    let size = if matches!(size, 1 | 2 | 4) { size } else { 1 };
    // SAFETY: as in `pci_conf_read`.
    unsafe {
        outp(PCI_CONF_ADDRESS, 4, cf8);
        outp(0xcfc + u16::from(offset & 3), size, value);
    }
}
