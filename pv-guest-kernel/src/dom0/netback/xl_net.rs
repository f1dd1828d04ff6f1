//! The toolstack's network side: a new domain's `vif = [...]` written and served, the pump's netback round, a domain's vifs let go, and `xl network-attach`, `-detach`, `-list`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::xenbus::XenbusState;

use dom0_tools::vif::{VifDevice, mac_text};
use dom0_tools::xl::network::{HEADER, NetworkCommand, NicId, NicRow, format_row};
use dom0_tools::xl_cfg::{DomainConfig, VifSpec};

use super::backend::BackVif;
use crate::dom0::xl::commands::{Flow, lookup};
use crate::dom0::xl::output::print;
use crate::dom0::xl::shell::wait_until;
use crate::dom0::xl::toolstack::Toolstack;

/// How long network-attach waits for the guest to connect, and network-detach for it to let go.
const HANDSHAKE_WAIT_MS: u64 = 20_000;

/// Writes and serves the vifs of a domain just created from `cfg`.
pub fn create_vifs(ts: &mut Toolstack, domid: DomId, cfg: &DomainConfig) -> Result<(), String> {
    for (i, spec) in cfg.vifs.iter().enumerate() {
        add_vif(ts, domid, &cfg.name, spec, i as u32)?;
    }
    Ok(())
}

fn add_vif(
    ts: &mut Toolstack,
    domid: DomId,
    name: &str,
    spec: &VifSpec,
    devid: u32,
) -> Result<u32, String> {
    let dev = VifDevice::from_spec(spec, devid, domid, name)
        .map_err(|e| format!("libxl: error: vif {devid} of domain {domid}: {e}\n"))?;
    let handle = dev.handle;
    if ts
        .net
        .vifs
        .iter()
        .any(|v| v.dev.domid == domid && v.dev.handle == handle)
    {
        return Err(format!(
            "libxl: error: domain {domid} already has a vif with devid {handle}\n"
        ));
    }
    let vif = BackVif::write_nodes(dev, &mut ts.xs)
        .map_err(|e| format!("libxl: error: vif {handle} of domain {domid}: {e}\n"))?;
    if let Err(e) = ts.net.add(vif) {
        return Err(format!(
            "libxl: error: vif {handle} of domain {domid}: {e}\n"
        ));
    }
    Ok(handle)
}

/// The pump's network round (and the ports it wakes up for kept in the toolstack's list).
pub fn pump(ts: &mut Toolstack) {
    let Toolstack { xs, net, .. } = ts;
    net.pump(xs, Toolstack::now_ns());
    let mut ports: Vec<_> = net.ports().collect();
    ports.sort_unstable();
    // Our ports are those the toolstack lists beyond its own (store and console input ports
    // are never a vif's): replace the ones that went, add the new ones.
    let known = core::mem::take(&mut ts.net_ports);
    ts.extra_ports.retain(|p| !known.contains(p));
    ts.extra_ports.extend(ports.iter().copied());
    ts.net_ports = ports;
}

/// Lets go of every vif of `domid` (it is being destroyed or has vanished).
pub fn release_domain(ts: &mut Toolstack, domid: DomId) {
    let Toolstack { xs, net, .. } = ts;
    net.release_domain(domid, xs);
}

/// Runs network-attach, -detach or -list.
pub fn run(ts: &mut Toolstack, cmd: NetworkCommand) -> Result<Flow, String> {
    match cmd {
        NetworkCommand::Bad(text) => Err(text),
        NetworkCommand::Attach { domain, spec } => {
            let domid = lookup(ts, &domain)?;
            attach(ts, domid, &spec)
        }
        NetworkCommand::Detach { domain, nic } => {
            let domid = lookup(ts, &domain)?;
            detach(ts, domid, &nic)
        }
        NetworkCommand::List(domains) => {
            let mut ids = Vec::new();
            for d in &domains {
                ids.push(lookup(ts, d)?);
            }
            print(HEADER);
            for domid in ids {
                for row in rows(ts, domid) {
                    print(&format_row(&row));
                }
            }
            Ok(Flow::Prompt)
        }
    }
}

fn attach(ts: &mut Toolstack, domid: DomId, spec: &VifSpec) -> Result<Flow, String> {
    let Some(name) = ts.domain(domid).map(|d| d.name.clone()) else {
        return Err(format!(
            "libxl: error: domain {domid} is not managed by this toolstack\n"
        ));
    };
    let devid = spec.devid.unwrap_or_else(|| {
        ts.net
            .vifs
            .iter()
            .filter(|v| v.dev.domid == domid)
            .map(|v| v.dev.handle + 1)
            .max()
            .unwrap_or(0)
    });
    let handle = add_vif(ts, domid, &name, spec, devid)?;
    let connected = wait_until(ts, HANDSHAKE_WAIT_MS, |ts| {
        let Some(i) = find(ts, domid, &NicId::Devid(handle)) else {
            return true;
        };
        let Toolstack { xs, net, .. } = ts;
        net.vifs[i].state == XenbusState::Connected
            && net.vifs[i].frontend_state(xs) == XenbusState::Connected
    });
    if !connected {
        print(&format!(
            "libxl: warning: vif {handle} of domain {domid} not connected after {} s\n",
            HANDSHAKE_WAIT_MS / 1000
        ));
    }
    Ok(Flow::Prompt)
}

fn find(ts: &Toolstack, domid: DomId, nic: &NicId) -> Option<usize> {
    ts.net.vifs.iter().position(|v| {
        v.dev.domid == domid
            && match nic {
                NicId::Devid(d) => v.dev.handle == *d,
                NicId::Mac(m) => v.dev.mac == *m,
            }
    })
}

fn detach(ts: &mut Toolstack, domid: DomId, nic: &NicId) -> Result<Flow, String> {
    let Some(i) = find(ts, domid, nic) else {
        let text = match nic {
            NicId::Devid(d) => d.to_string(),
            NicId::Mac(m) => mac_text(m),
        };
        return Err(format!("Unknown device {text}.\n"));
    };
    let handle = ts.net.vifs[i].dev.handle;
    {
        let Toolstack { xs, net, .. } = ts;
        net.vifs[i].close(xs);
    }
    let nic = NicId::Devid(handle);
    // The frontend follows (Closing); we then go Closed. A guest that does not answer is
    // cut off anyway: its rings are already unmapped.
    wait_until(ts, HANDSHAKE_WAIT_MS, |ts| {
        find(ts, domid, &nic).is_none_or(|i| ts.net.vifs[i].state == XenbusState::Closed)
    });
    if let Some(i) = find(ts, domid, &nic) {
        let Toolstack { xs, net, .. } = ts;
        net.remove(i, xs);
    }
    Ok(Flow::Prompt)
}

/// network-list's rows of `domid`, in devid order, from the frontend's nodes.
fn rows(ts: &mut Toolstack, domid: DomId) -> Vec<NicRow> {
    let mut vifs: Vec<(u32, DomId, [u8; 6], String, String)> = ts
        .net
        .vifs
        .iter()
        .filter(|v| v.dev.domid == domid)
        .map(|v| {
            (
                v.dev.handle,
                v.dev.backend,
                v.dev.mac,
                v.dev.frontend_path(),
                v.dev.backend_path(),
            )
        })
        .collect();
    vifs.sort_by_key(|v| v.0);
    let mut c = ts.xs.dom0();
    let mut number = |path: String| -> Option<i64> {
        c.read_string(&path)
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
    };
    vifs.into_iter()
        .enumerate()
        .map(|(idx, (handle, backend, mac, front, back))| NicRow {
            idx: idx as u32,
            backend_id: u32::from(backend),
            mac: mac_text(&mac),
            handle,
            state: number(format!("{front}/state")).unwrap_or(0) as u32,
            evtch: number(format!("{front}/event-channel")).unwrap_or(-1),
            tx_ref: number(format!("{front}/tx-ring-ref")).unwrap_or(-1),
            rx_ref: number(format!("{front}/rx-ring-ref")).unwrap_or(-1),
            be_path: back,
        })
        .collect()
}
