//! The ping-pong DomUs' ways of waiting: for Dom0's lines on the console, and for the peer's event on the interdomain port.
// Events stay masked (the builder leaves evtchn_upcall_mask set and we register no callback):
// a wait is SCHEDOP_poll on the one port, with a timeout, then the port's pending bit taken.

use dom0_tools::pingpong_params::{PeerLink, is_release};
use hypercall_abi::event_channel::EvtchnPort;

use crate::arch::x86_64::{boot, console_front, shared_events, toolstack_calls};
use crate::selftest::report::{Detail, Ret};

/// How long one wait may last (system time): generous for software emulation.
pub const WAIT_NS: u64 = 30_000_000_000;
/// Longest link line kept.
const LINE_MAX: usize = 80;

/// Xen system time now; a failure detail if our shared_info gives none.
pub fn now_ns() -> Result<u64, Detail> {
    shared_events::system_time_ns()
        .ok_or_else(|| Detail::new(format_args!("no system time in shared_info")))
}

/// Waits until `port` is pending (taking the bit) or `deadline` (system time) passes: true if
/// it fired.
fn wait_port(port: EvtchnPort, deadline: u64) -> Result<bool, Detail> {
    loop {
        if shared_events::take_pending(port) {
            return Ok(true);
        }
        if now_ns()? >= deadline {
            return Ok(false);
        }
        let ret = toolstack_calls::sched_poll(&[port], deadline);
        if ret != 0 {
            return Err(Detail::new(format_args!(
                "SCHEDOP_poll on port {} returned {}",
                port,
                Ret(ret)
            )));
        }
    }
}

/// Reads the console input until Dom0's link line arrives (other lines are skipped).
pub fn read_peer_link() -> Result<PeerLink, Detail> {
    read_line("link", PeerLink::parse)
}

/// Reads the console input until Dom0's release line arrives (other lines are skipped).
pub fn read_release() -> Result<(), Detail> {
    read_line("release", |line| is_release(line).then_some(()))
}

/// Reads the console input until a line `parse` accepts arrives; `what` names it.
fn read_line<T>(what: &str, parse: impl Fn(&[u8]) -> Option<T>) -> Result<T, Detail> {
    let console = boot::start_info().console_evtchn;
    let deadline = now_ns()?.saturating_add(WAIT_NS);
    let mut line: heapless::Vec<u8, LINE_MAX> = heapless::Vec::new();
    loop {
        // Taken before reading: input that arrives after the read leaves the bit set.
        shared_events::take_pending(console);
        let mut buf = [0u8; 32];
        let n = console_front::read_input(&mut buf);
        for &b in &buf[..n] {
            if b == b'\n' {
                if let Some(value) = parse(&line) {
                    return Ok(value);
                }
                line.clear();
            } else if line.push(b).is_err() {
                line.clear();
            }
        }
        if n == 0 && !wait_port(console, deadline)? {
            return Err(Detail::new(format_args!(
                "no {} line on the console within {} s",
                what,
                WAIT_NS / 1_000_000_000
            )));
        }
    }
}

/// Our end of the interdomain channel.
#[derive(Clone, Copy, Debug)]
pub struct EventLink {
    /// Our local port.
    pub port: EvtchnPort,
}

impl EventLink {
    /// Notifies the peer.
    pub fn send(self) -> Result<(), Detail> {
        match toolstack_calls::evtchn_send(self.port) {
            0 => Ok(()),
            e => Err(Detail::new(format_args!(
                "send on port {} returned {}",
                self.port,
                Ret(e)
            ))),
        }
    }

    /// Waits for the peer's next notification; `what` names it in the failure detail.
    pub fn wait(self, what: &str) -> Result<(), Detail> {
        let deadline = now_ns()?.saturating_add(WAIT_NS);
        if wait_port(self.port, deadline)? {
            Ok(())
        } else {
            Err(Detail::new(format_args!(
                "no event on port {} ({}) within {} s",
                self.port,
                what,
                WAIT_NS / 1_000_000_000
            )))
        }
    }
}
