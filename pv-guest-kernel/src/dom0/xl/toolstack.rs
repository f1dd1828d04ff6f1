//! The toolstack's state and its pump: consoles drained, shutdowns handled, while waiting for news.

use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;

use dom0_tools::domain_info::DomainState;

use super::managed::Managed;
use crate::arch::x86_64::console_input::ConsoleInput;
use crate::arch::x86_64::{shared_events, xen};
use crate::dom0::control;
use crate::dom0::events::Events;

/// Nanoseconds in a millisecond.
pub const MS: u64 = 1_000_000;
/// How long one wait lasts before everything is looked at again anyway.
const TICK_NS: u64 = 50 * MS;
/// Bytes of console output forwarded to the serial line at once.
const LIVE_CHUNK: usize = 256;

/// What happened to a domain that shut down, for the caller to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownNews {
    /// The domain.
    pub domid: DomId,
    /// Its shutdown code (`SHUTDOWN_*`).
    pub code: u32,
}

/// Everything the toolstack holds.
pub struct Toolstack {
    /// Our event source (VIRQ_DOM_EXC and polling).
    pub events: Events,
    /// The domains we created.
    pub domains: Vec<Managed>,
    /// The domain whose console is attached (`xl console`).
    pub attached: Option<DomId>,
    /// Extra ports to wake up for (console input, xenstore rings).
    pub extra_ports: Vec<EvtchnPort>,
    /// VIRQ_DOM_EXC count when the domains were last looked at.
    dom_exc_checked: u32,
    /// Domains created so far (makes handles unique).
    pub serial: u32,
    /// A command is running (its output, not a prompt, comes next).
    pub in_command: bool,
    /// xenstored.
    pub xs: dom0_tools::xenstored::Xenstored,
    /// Dom0's console input (VIRQ_CONSOLE and console_io read).
    input: Option<ConsoleInput>,
    /// Input read while a command ran (top's "any key"), for the shell.
    typeahead: Vec<u8>,
    /// The block backend's disks.
    pub blk: crate::dom0::blkback::backend::Backends,
    /// The vifs and bridges (network backend), and their ports among `extra_ports`.
    pub net: crate::dom0::netback::switch::NetBackends,
    /// See `net`.
    pub net_ports: Vec<EvtchnPort>,
}

impl Toolstack {
    /// A toolstack with no domains yet.
    pub fn new(events: Events, input: Option<ConsoleInput>) -> Self {
        let mut extra_ports = Vec::new();
        if let Some(i) = &input {
            extra_ports.push(i.port());
        }
        Toolstack {
            xs: super::store::new_daemon(),
            input,
            typeahead: Vec::new(),
            events,
            domains: Vec::new(),
            attached: None,
            extra_ports,
            dom_exc_checked: 0,
            serial: 0,
            in_command: false,
            blk: Default::default(),
            net: Default::default(),
            net_ports: Vec::new(),
        }
    }

    /// The managed domain `domid`.
    pub fn domain(&mut self, domid: DomId) -> Option<&mut Managed> {
        self.domains.iter_mut().find(|d| d.domid == domid)
    }

    /// Drains every console into its history (the attached one also to the serial line).
    pub fn pump_consoles(&mut self) {
        let attached = self.attached;
        for d in &mut self.domains {
            if Some(d.domid) == attached {
                let mut chunk: heapless::Vec<u8, LIVE_CHUNK> = heapless::Vec::new();
                let mut live = |b: u8| {
                    if chunk.push(b).is_err() {
                        let _ = xen::console_write(&chunk);
                        chunk.clear();
                        let _ = chunk.push(b);
                    }
                };
                d.pump_console(Some(&mut live));
                if !chunk.is_empty() {
                    let _ = xen::console_write(&chunk);
                }
            } else {
                d.pump_console(None);
            }
        }
    }

    /// The managed domains that have shut down since last asked (each reported once), and
    /// those that vanished (dropped from the list, their console disconnected).
    pub fn take_shutdowns(&mut self) -> Vec<ShutdownNews> {
        let mut news = Vec::new();
        if self.events.dom_exc_seen == self.dom_exc_checked {
            return news;
        }
        self.dom_exc_checked = self.events.dom_exc_seen;
        let mut gone: Vec<DomId> = Vec::new();
        for d in &mut self.domains {
            match control::getdomaininfo(d.domid) {
                Ok(DomainState {
                    shutdown: Some(code),
                    dying: false,
                    ..
                }) if !d.shutdown_handled => {
                    d.shutdown_handled = true;
                    let _ = news.try_reserve(1);
                    news.push(ShutdownNews {
                        domid: d.domid,
                        code,
                    });
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = gone.try_reserve(1);
                    gone.push(d.domid);
                }
            }
        }
        for domid in gone {
            self.forget(domid);
        }
        news
    }

    /// Drops `domid` from the list (its console's last output kept out of sight).
    pub fn forget(&mut self, domid: DomId) -> Option<Managed> {
        crate::dom0::blkback::xl_block::release_domain(self, domid);
        crate::dom0::netback::xl_net::release_domain(self, domid);
        let at = self.domains.iter().position(|d| d.domid == domid)?;
        let mut d = self.domains.remove(at);
        d.pump_console(None);
        d.console.disconnect();
        if self.attached == Some(domid) {
            self.attached = None;
        }
        Some(d)
    }

    /// Ports to wake up for: the consoles, and the extra ones.
    fn ports(&self) -> Vec<EvtchnPort> {
        let mut ports = Vec::new();
        let _ = ports.try_reserve(self.domains.len() + self.extra_ports.len());
        ports.extend(self.domains.iter().filter_map(|d| d.console.local_port()));
        ports.extend(self.extra_ports.iter().copied());
        ports
    }

    /// Sleeps until a port fires or `max_ns` pass.
    pub fn wait(&mut self, max_ns: u64) {
        let ports = self.ports();
        self.events.wait(&ports, max_ns.min(TICK_NS));
    }

    /// Console input: what was typed ahead, else what is there now (never blocks).
    pub fn read_input(&mut self, buf: &mut [u8]) -> usize {
        if !self.typeahead.is_empty() {
            let n = buf.len().min(self.typeahead.len());
            buf[..n].copy_from_slice(&self.typeahead[..n]);
            self.typeahead.drain(..n);
            return n;
        }
        self.input.as_ref().map_or(0, |i| i.read(buf))
    }

    /// Whether console input is waiting (it is kept for [`Toolstack::read_input`]).
    pub fn input_pending(&mut self) -> bool {
        if self.typeahead.is_empty()
            && let Some(i) = &self.input
        {
            let mut buf = [0u8; 16];
            let n = i.read(&mut buf);
            if n > 0 && self.typeahead.try_reserve(n).is_ok() {
                self.typeahead.extend_from_slice(&buf[..n]);
            }
        }
        !self.typeahead.is_empty()
    }

    /// Forgets console input typed so far.
    pub fn discard_input(&mut self) {
        self.typeahead.clear();
    }

    /// The system time in ns (0 if unknown).
    pub fn now_ns() -> u64 {
        shared_events::system_time_ns().unwrap_or(0)
    }
}

/// `name` is free among `domains` (ignoring `except`).
pub fn name_free(domains: &[Managed], name: &str, except: Option<DomId>) -> bool {
    !domains
        .iter()
        .any(|d| d.name == name && Some(d.domid) != except)
}
