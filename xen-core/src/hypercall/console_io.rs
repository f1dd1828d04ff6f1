//! console_io: the control domain reads and writes the hypervisor's serial console.

use hypercall_abi::Errno;
use hypercall_abi::console::ConsoleIoCmd;

use crate::arch::x86_64::serial;
use crate::arch::x86_64::uaccess::{copy_from_guest, copy_to_guest};
use crate::console;
use crate::hypervisor::with_state;

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
            let want = count.min(CHUNK as u64) as usize;
            let mut n = 0;
            while n < want {
                match serial::read_byte() {
                    Some(b) => {
                        buf[n] = b;
                        n += 1;
                    }
                    None => break,
                }
            }
            copy_to_guest(buffer, &buf[..n])?;
            Ok(n as u64)
        }
    }
}
