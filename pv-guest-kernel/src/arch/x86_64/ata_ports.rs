//! The primary IDE channel's I/O ports (0x1f0-0x1f7, 0x3f6) for Dom0's ATA driver: `in`/`out` and `rep insl`/`rep outsl`.
// A PV kernel runs at ring 3: each port instruction traps to the hypervisor, which carries it
// out once the vCPU's virtual IOPL allows it (PHYSDEVOP_set_iopl 1 for the kernel) and the
// domain was given the port (Dom0 has every port the hypervisor keeps no claim on, the IDE
// channel among them). A `rep` string instruction is one trap for up to a batch of elements
// (xen-core: 1024), so a 512-byte sector moves as 128 dwords in one trap: QEMU's IDE data
// register accepts 32-bit accesses.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

use dom0_tools::ata::{AtaPorts, PRIMARY_COMMAND, PRIMARY_CONTROL, Reg};

use super::pirq_calls::set_iopl;

/// Whether the channel was handed out.
static CLAIMED: AtomicBool = AtomicBool::new(false);

/// The primary channel's ports: only [`PrimaryChannel::claim`] makes one, and only while no
/// other exists, so a single driver owns them.
#[derive(Debug)]
pub struct PrimaryChannel {
    wait: fn(),
}

impl Drop for PrimaryChannel {
    /// The channel can be claimed again (the virtual IOPL stays: other port users may rely
    /// on it).
    fn drop(&mut self) {
        CLAIMED.store(false, Ordering::Release);
    }
}

impl PrimaryChannel {
    /// Takes the primary channel's ports: raises the kernel's virtual IOPL to 1 so that port
    /// instructions are emulated. `Err(-errno)` if the hypervisor refuses, `Err(0)` if the
    /// channel is claimed already (until that claim is dropped).
    pub fn claim() -> Result<Self, i64> {
        if CLAIMED.swap(true, Ordering::AcqRel) {
            return Err(0);
        }
        let ret = set_iopl(1);
        if ret != 0 {
            CLAIMED.store(false, Ordering::Release);
            return Err(ret);
        }
        Ok(PrimaryChannel {
            wait: core::hint::spin_loop,
        })
    }

    /// Makes `wait` what the driver runs between status polls (a yield, a block on the
    /// disk's event channel with a timeout...); a CPU pause by default.
    pub fn set_wait(&mut self, wait: fn()) {
        self.wait = wait;
    }
}

/// `in al, dx`.
///
/// # Safety
/// `port` must be one of the channel's, which the caller owns.
unsafe fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: the caller owns the port; reading an IDE register only changes the device's
    // state (the interrupt acknowledgement), never our memory.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags))
    };
    value
}

/// `out dx, al`.
///
/// # Safety
/// `port` must be one of the channel's, which the caller owns.
unsafe fn outb(port: u16, value: u8) {
    // SAFETY: the caller owns the port; the write programs the disk, never our memory.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

impl AtaPorts for PrimaryChannel {
    fn inb(&mut self, reg: Reg) -> u8 {
        // SAFETY: a register of the channel this value owns.
        unsafe { inb(reg.port()) }
    }

    fn outb(&mut self, reg: Reg, value: u8) {
        // SAFETY: a register of the channel this value owns.
        unsafe { outb(reg.port(), value) }
    }

    fn alt_status(&mut self) -> u8 {
        // SAFETY: the channel's control block port, owned by this value.
        unsafe { inb(PRIMARY_CONTROL) }
    }

    fn set_control(&mut self, value: u8) {
        // SAFETY: the channel's control block port, owned by this value.
        unsafe { outb(PRIMARY_CONTROL, value) }
    }

    fn read_data(&mut self, buf: &mut [u8]) {
        let dwords = buf.len() / 4;
        // SAFETY: `rep insd` stores `dwords` * 4 <= buf.len() bytes at rdi, inside the live,
        // exclusively borrowed `buf` (no alignment needed); DF is clear (the ABI keeps it
        // clear between Rust statements), so rdi moves up. The data port is ours.
        unsafe {
            asm!(
                "rep insd",
                in("dx") PRIMARY_COMMAND,
                inout("rdi") buf.as_mut_ptr() => _,
                inout("rcx") dwords => _,
                options(nostack, preserves_flags)
            )
        };
    }

    fn write_data(&mut self, buf: &[u8]) {
        let dwords = buf.len() / 4;
        // SAFETY: `rep outsd` reads `dwords` * 4 <= buf.len() bytes at rsi, inside the live
        // `buf`; DF is clear, so rsi moves up. The data port is ours.
        unsafe {
            asm!(
                "rep outsd",
                in("dx") PRIMARY_COMMAND,
                inout("rsi") buf.as_ptr() => _,
                inout("rcx") dwords => _,
                options(nostack, preserves_flags, readonly)
            )
        };
    }

    fn wait_ready(&mut self) {
        (self.wait)();
    }
}
