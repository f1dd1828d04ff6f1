//! Dom0's vifs and the software bridge between them: each pump round moves every handshake on, takes every guest's sent frames and hands each to the vifs the bridge names.
// Every vif joins the bridge `xenbr0` (or the one its spec names: each name is its own bridge)
// when it is created, and leaves it when it goes. A frame is forwarded within its bridge only.
// The bridge ages its table by pump rounds of a second.

use alloc::string::String;
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::xenbus::XenbusState;

use dom0_tools::bridge::{Bridge, Forward};
use dom0_tools::xenstored::Xenstored;

use super::backend::{BackVif, Outgoing};
use crate::console::kprintln;

/// Rounds of tx polling per pump while guests keep sending.
const ROUNDS: usize = 8;
/// Nanoseconds between two ageing ticks of the bridges.
const TICK_NS: u64 = 1_000_000_000;

/// A named bridge.
struct NamedBridge {
    name: String,
    bridge: Bridge,
}

/// Every vif and bridge.
#[derive(Default)]
pub struct NetBackends {
    /// The vifs.
    pub vifs: Vec<BackVif>,
    bridges: Vec<NamedBridge>,
    last_tick_ns: u64,
}

impl NetBackends {
    /// Adds `vif` to its bridge and to the list.
    pub fn add(&mut self, vif: BackVif) -> Result<(), String> {
        let port = vif.port_id();
        let name = vif.dev.bridge.clone();
        let at = match self.bridges.iter().position(|b| b.name == name) {
            Some(i) => i,
            None => {
                self.bridges.push(NamedBridge {
                    name,
                    bridge: Bridge::default(),
                });
                self.bridges.len() - 1
            }
        };
        self.bridges[at]
            .bridge
            .add_port(port)
            .map_err(|e| alloc::format!("joining bridge {}: {e:?}", self.bridges[at].name))?;
        self.vifs.push(vif);
        Ok(())
    }

    /// Removes vif `i` (already closed or its guest gone): disconnected, off its bridge,
    /// its nodes removed.
    pub fn remove(&mut self, i: usize, xs: &mut Xenstored) -> Option<BackVif> {
        if i >= self.vifs.len() {
            return None;
        }
        let mut vif = self.vifs.remove(i);
        vif.disconnect();
        let port = vif.port_id();
        for b in &mut self.bridges {
            b.bridge.remove_port(port);
        }
        vif.remove_nodes(xs);
        Some(vif)
    }

    /// Removes every vif of `domid` (the guest is going away).
    pub fn release_domain(&mut self, domid: DomId, xs: &mut Xenstored) {
        while let Some(i) = self.vifs.iter().position(|v| v.dev.domid == domid) {
            self.remove(i, xs);
        }
        let _ = xs
            .dom0()
            .rm(&alloc::format!("/local/domain/0/backend/vif/{domid}"));
    }

    /// The ports of the connected vifs (to wake up for).
    pub fn ports(&self) -> impl Iterator<Item = EvtchnPort> + '_ {
        self.vifs.iter().filter_map(BackVif::local_port)
    }

    /// One round: handshakes, then frames through the bridges.
    pub fn pump(&mut self, xs: &mut Xenstored, now_ns: u64) {
        for v in &mut self.vifs {
            while v.step(xs) {}
            if v.stopped() && v.state == XenbusState::Connected {
                kprintln!(
                    "netback: vif {}.{}: closing after an error",
                    v.dev.domid,
                    v.dev.handle
                );
                v.close(xs);
            }
        }
        if now_ns.saturating_sub(self.last_tick_ns) >= TICK_NS {
            self.last_tick_ns = now_ns;
            for b in &mut self.bridges {
                b.bridge.tick();
            }
        }
        for _ in 0..ROUNDS {
            let mut out: Outgoing = Vec::new();
            let mut more = false;
            for v in &mut self.vifs {
                more |= v.poll_tx(&mut out);
            }
            if out.is_empty() {
                break;
            }
            self.forward(&out);
            if !more && out.len() < 4 {
                break;
            }
        }
    }

    /// Hands each frame to the vifs its bridge sends it to (per target, in order).
    fn forward(&mut self, out: &Outgoing) {
        let mut targets: Vec<(u32, Vec<&[u8]>)> = Vec::new();
        for (ingress, frame) in out {
            let Some(b) = self
                .bridges
                .iter_mut()
                .find(|b| b.bridge.ports().contains(ingress))
            else {
                continue;
            };
            let ports: Vec<u32> = match b.bridge.forward(*ingress, frame) {
                Forward::Port(p) => alloc::vec![p],
                Forward::Flood => b.bridge.flood_ports(*ingress).collect(),
                Forward::Drop(_) => Vec::new(),
            };
            for p in ports {
                match targets.iter_mut().find(|(t, _)| *t == p) {
                    Some((_, list)) => list.push(frame),
                    None => targets.push((p, alloc::vec![frame.as_slice()])),
                }
            }
        }
        for (port, frames) in targets {
            if let Some(v) = self.vifs.iter_mut().find(|v| v.port_id() == port) {
                v.deliver(&frames);
            }
        }
    }
}
