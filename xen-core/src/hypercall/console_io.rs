//! console_io: the control domain reads and writes the hypervisor's serial console.

use hypercall_abi::Errno;
use hypercall_abi::console::ConsoleIoCmd;
use hypercall_abi::event_channel::VIRQ_CONSOLE;

use crate::arch::x86_64::uaccess::{copy_from_guest, copy_to_guest};
use crate::hypervisor::with_state;
use crate::{console, console_input, event_glue};

const CHUNK: usize = 256;

/// Handles console_io(cmd, count, buffer). Only the control domain may use it (Xen's default
/// XSM policy); its output goes to the console unprefixed, as Xen does for the hardware domain.
pub fn console_io(cmd: u64, count: u64, buffer: u64) -> Result<u64, Errno> {
    let cmd = ConsoleIoCmd::try_from(cmd)?;
    if !with_state(|st| st.dom.is_control()) {
        return Err(Errno::Perm);
    }
    // Xen's handler takes `unsigned int count`.
    let count = count as u32 as u64;
    let mut buf = [0u8; CHUNK];
    match cmd {
        ConsoleIoCmd::Write => {
            let mut done = 0;
            while done < count {
                let n = (count - done).min(CHUNK as u64) as usize;
                let at = buffer.checked_add(done).ok_or(Errno::Fault)?;
                copy_from_guest(&mut buf[..n], at)?;
                console::write_bytes(&buf[..n]);
                done += n as u64;
            }
            Ok(0)
        }
        ConsoleIoCmd::Read => {
            // What the serial line brought since the last read (Xen's serial_rx ring); a
            // buffer that cannot be written leaves the bytes for the next read.
            let (n, more) =
                console_input::read(count as usize, |bytes| copy_to_guest(buffer, bytes))?;
            if more {
                // The caller's buffer was too small: tell it that input still waits.
                with_state(|mut st| event_glue::send_global_virq(&mut st, VIRQ_CONSOLE));
            }
            Ok(n as u64)
        }
    }
}
