//! physdev_op: the calling vCPU's virtual IOPL and I/O bitmap; other commands are -ENOSYS.
//!
//! As in Xen 4.17 (`arch/x86/physdev.c`): set_iopl takes 0..=3 (else -EINVAL); set_iobitmap
//! takes the guest address of a bitmap (outside the hypervisor range) and at most 65536 ports (else -EINVAL). Both only
//! record what the guest asked; the port-I/O emulation consults them
//! (`xen_core::trap::port_io`).

use hypercall_abi::Errno;
use hypercall_abi::physdev::{PHYSDEVOP_SET_IOBITMAP, PHYSDEVOP_SET_IOPL};
use xen_core::desc_tables::guest_addr_ok;

use crate::arch::x86_64::uaccess::read_guest;
use crate::hypervisor::with_state;

/// A decoded physdev_op request.
enum Request {
    SetIopl(u8),
    SetIobitmap { bitmap: u64, ports: u32 },
}

fn decode(cmd: u64, arg: u64) -> Result<Request, Errno> {
    // Xen takes `cmd` as an int.
    match u64::from(cmd as u32) {
        PHYSDEVOP_SET_IOPL => {
            let iopl = read_guest::<u32>(arg)?;
            if iopl > 3 {
                return Err(Errno::Inval);
            }
            Ok(Request::SetIopl(iopl as u8))
        }
        PHYSDEVOP_SET_IOBITMAP => {
            let bitmap = read_guest::<u64>(arg)?;
            let ports = read_guest::<u32>(arg.checked_add(8).ok_or(Errno::Fault)?)?;
            // Xen's guest_handle_okay() checks where the bitmap starts only.
            if !guest_addr_ok(bitmap) || ports > 65536 {
                return Err(Errno::Inval);
            }
            Ok(Request::SetIobitmap { bitmap, ports })
        }
        _ => Err(Errno::NoSys),
    }
}

/// Handles physdev_op(cmd, arg).
pub fn physdev_op(cmd: u64, arg: u64) -> Result<u64, Errno> {
    let request = decode(cmd, arg)?;
    with_state(|st| {
        let io = &mut st.dom.vcpu.io;
        match request {
            Request::SetIopl(iopl) => io.iopl = iopl,
            Request::SetIobitmap { bitmap, ports } => {
                io.bitmap = bitmap;
                io.bitmap_ports = ports;
            }
        }
    });
    Ok(0)
}
