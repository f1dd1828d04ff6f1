//! The DomU's network as the shell runs it: the vifs' frontends, and the IPv4 host started on the first vif once it connects, at the address the command line (`ip=A.B.C.D/N`) or the vif's `ip` node gives.

use alloc::string::String;
use alloc::vec::Vec;

use hypercall_abi::event_channel::EvtchnPort;
use smoltcp::wire::Ipv4Cidr;

use dom0_tools::xs_connection::WatchEvent;

use super::front::Frontends;
use super::stack::{Stack, parse_cidr};
use crate::arch::x86_64::boot;
use crate::console::kprintln;
use crate::domu::xenbus::Xenbus;

/// The network.
#[derive(Default)]
pub struct NetRuntime {
    /// The vifs.
    pub fronts: Frontends,
    /// The host, once a vif connected with an address to use.
    pub stack: Option<Stack>,
}

/// `ip=` on our command line.
fn cmdline_cidr() -> Option<Ipv4Cidr> {
    boot::start_info()
        .cmdline()
        .split(|b| b.is_ascii_whitespace())
        .find_map(|w| w.strip_prefix(b"ip="))
        .and_then(|v| core::str::from_utf8(v).ok())
        .and_then(parse_cidr)
}

impl NetRuntime {
    /// Starts looking for vifs.
    pub fn start(&mut self, xb: &mut Xenbus) {
        self.fronts.start(xb);
    }

    /// Handles a watch event if it is the network's.
    pub fn handle_event(&mut self, xb: &mut Xenbus, event: &WatchEvent) -> bool {
        let ours = self.fronts.handle_event(xb, event);
        if ours {
            self.bind_stack();
        }
        ours
    }

    /// Starts the host on the first connected vif (or follows it to a new connection).
    fn bind_stack(&mut self) {
        let Some(vif) = self
            .fronts
            .vifs
            .iter()
            .find(|v| v.conn.borrow().as_ref().is_some_and(|c| c.up))
        else {
            return;
        };
        if self
            .stack
            .as_ref()
            .is_some_and(|s| s.runs_on(&vif.conn) && s.mac == vif.mac)
        {
            return;
        }
        let cidr = cmdline_cidr().or_else(|| vif.ip.as_deref().and_then(parse_cidr));
        let Some(cidr) = cidr else {
            kprintln!(
                "net: vif {} has no address (ip= on the command line or in the vif)",
                vif.handle
            );
            return;
        };
        kprintln!("net: vif {} is {}", vif.handle, cidr);
        self.stack = Some(Stack::new(vif.conn.clone(), vif.mac, cidr));
    }

    /// The shell loop's turn: frames taken, the host polled; lines to print.
    pub fn poll(&mut self) -> Vec<String> {
        self.fronts.poll();
        let mut lines = Vec::new();
        if let Some(s) = self.stack.as_mut()
            && let Some(line) = s.poll()
        {
            lines.push(line);
        }
        lines
    }

    /// Ports to wake up for.
    pub fn ports(&self) -> impl Iterator<Item = EvtchnPort> + '_ {
        self.fronts.ports()
    }

    /// When the host next wants to be polled (system time), if it does.
    pub fn deadline_ns(&mut self) -> Option<u64> {
        self.stack.as_mut().and_then(Stack::deadline_ns)
    }
}
