//! Dom0's console input: VIRQ_CONSOLE bound, CONSOLEIO_read, and waiting for input with a timeout.

use hypercall_abi::console::ConsoleIoCmd;
use hypercall_abi::event_channel::{EvtchnPort, VIRQ_CONSOLE};
use hypercall_abi::hypercall::Hypercall;

use super::calls::hc;
use super::{shared_events, toolstack_calls, xen};

/// The hardware domain's end of the hypervisor's serial line: the port VIRQ_CONSOLE arrives
/// on. Bytes typed on the serial console wait in the hypervisor (128 of them) until read.
pub struct ConsoleInput {
    port: EvtchnPort,
}

impl ConsoleInput {
    /// Maps our shared_info (for the pending bits and the time) and binds VIRQ_CONSOLE on
    /// vCPU 0. On failure, says which step and its -errno.
    pub fn bind() -> Result<ConsoleInput, (&'static str, i64)> {
        match shared_events::map() {
            0 => {}
            e => return Err(("map our shared_info", e)),
        }
        let port = toolstack_calls::evtchn_bind_virq(VIRQ_CONSOLE, 0)
            .map_err(|e| ("bind_virq(VIRQ_CONSOLE)", e))?;
        Ok(ConsoleInput { port })
    }

    /// The port VIRQ_CONSOLE arrives on, for an event loop that polls several ports (call
    /// [`ConsoleInput::read`] until it returns 0 whenever it fired).
    pub fn port(&self) -> EvtchnPort {
        self.port
    }

    /// Takes the bytes that wait (at most `buf.len()`) without blocking; 0 when none do (or
    /// the hypervisor refused: console input is the control domain's). Clears the port's
    /// pending bit first, so input arriving after this call fires the port again.
    pub fn read(&self, buf: &mut [u8]) -> usize {
        shared_events::take_pending(self.port);
        let ret = console_read(buf);
        usize::try_from(ret).map_or(0, |n| n.min(buf.len()))
    }

    /// Returns once input may have arrived (the port fired, now or since the last
    /// [`ConsoleInput::read`]) or after `max_ns` of system time. Where the hypervisor cannot
    /// poll (or we cannot read the time), a yield stands in for the wait.
    pub fn wait(&self, max_ns: u64) {
        if shared_events::take_pending(self.port) {
            return;
        }
        let polled = match shared_events::system_time_ns() {
            Some(now) => toolstack_calls::sched_poll(&[self.port], now.saturating_add(max_ns)) == 0,
            None => false,
        };
        if !polled {
            let _ = xen::sched_yield();
        }
    }

    /// Reads what waits, first waiting up to `max_ns` if nothing does; 0 on timeout.
    pub fn read_timeout(&self, buf: &mut [u8], max_ns: u64) -> usize {
        match self.read(buf) {
            0 => {
                self.wait(max_ns);
                self.read(buf)
            }
            n => n,
        }
    }
}

/// CONSOLEIO_read into `buf`: the number of bytes read or -errno.
fn console_read(buf: &mut [u8]) -> i64 {
    // SAFETY: the hypervisor writes at most `buf.len()` bytes to the live buffer and changes
    // no other memory of ours.
    unsafe {
        hc(
            Hypercall::ConsoleIo,
            ConsoleIoCmd::Read as u64,
            buf.len() as u64,
            buf.as_mut_ptr() as u64,
            0,
            0,
        )
    }
}
