//! One vif's backend in Dom0: its xenstore nodes, the xenbus handshake, and once connected its rings mapped, its port bound and its netback engine with staging pages.
// The handshake follows dom0-tools' xenbus_handshake, driven by polling the frontend's state
// node on every pump round (xenstored is in Dom0: a read is a function call). What the
// frontend wrote is checked by FrontendRings::read; a bad value closes the vif. Teardown
// unmaps both rings and closes the port; the staging pages go back to the pool.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::xenbus::XenbusState;

use dom0_tools::domain_paths::Access;
use dom0_tools::net_pages::StagingPage;
use dom0_tools::netback::{Netback, NetbackError, STAGING_PAGES};
use dom0_tools::vif::{BACKEND_FEATURES, FrontendRings, VifDevice};
use dom0_tools::xenbus_handshake::{Action, Role, close, next};
use dom0_tools::xenstored::perms::Access as XsAccess;
use dom0_tools::xenstored::{Perm, Perms, Xenstored};

use crate::arch::x86_64::backend_grants::{GrantedRing, NetStaging, StagingCopier};
use crate::arch::x86_64::toolstack_calls;
use crate::console::kprintln;

/// The permissions of a node written with `access` for guest `domid`.
pub fn perms_for(access: Access, domid: DomId) -> Perms {
    let list = match access {
        Access::GuestReads => vec![
            Perm::new(0, XsAccess::None),
            Perm::new(domid, XsAccess::Read),
        ],
        Access::GuestWrites => vec![Perm::new(domid, XsAccess::None)],
        Access::Dom0Only => vec![Perm::new(0, XsAccess::None)],
    };
    Perms::new(list).unwrap_or_else(|_| Perms::owned_by(0, XsAccess::None))
}

/// A connected vif's resources.
struct Connection {
    engine: Netback,
    tx: GrantedRing,
    rx: GrantedRing,
    /// Our end of the event channel.
    port: EvtchnPort,
    staging: NetStaging,
    copier: StagingCopier,
}

/// One vif's backend.
pub struct BackVif {
    /// What the toolstack wrote.
    pub dev: VifDevice,
    /// Our xenbus state.
    pub state: XenbusState,
    conn: Option<Connection>,
    /// The last error that closed it.
    pub error: Option<String>,
}

/// Frames a vif sent, with the bridge port they came in by.
pub type Outgoing = Vec<(u32, Vec<u8>)>;

/// Bytes of sent frames held at once in one pump round; frames beyond are dropped (a guest
/// sending big frames fast cannot exhaust Dom0's heap).
const OUT_BYTES_MAX: usize = 128 * 1024;

impl BackVif {
    /// The bridge port of this vif.
    pub fn port_id(&self) -> u32 {
        (u32::from(self.dev.domid) << 16) | (self.dev.handle & 0xffff)
    }

    /// Writes the toolstack's nodes (backend and frontend directories).
    pub fn write_nodes(dev: VifDevice, xs: &mut Xenstored) -> Result<BackVif, String> {
        let mut c = xs.dom0();
        let dirs = [
            (dev.backend_path(), Access::GuestReads),
            (dev.frontend_path(), Access::GuestWrites),
        ];
        for (dir, access) in &dirs {
            let ok =
                c.mkdir(dir).is_ok() && c.set_perms(dir, perms_for(*access, dev.domid)).is_ok();
            if !ok {
                return Err(format!("writing {dir} failed"));
            }
        }
        for e in dev.entries() {
            let ok = c.write(&e.path, e.value.as_bytes()).is_ok()
                && c.set_perms(&e.path, perms_for(e.access, dev.domid)).is_ok();
            if !ok {
                return Err(format!("writing {} failed", e.path));
            }
        }
        Ok(BackVif {
            dev,
            state: XenbusState::Initialising,
            conn: None,
            error: None,
        })
    }

    /// Removes both directories (after teardown).
    pub fn remove_nodes(&self, xs: &mut Xenstored) {
        let mut c = xs.dom0();
        let _ = c.rm(&self.dev.frontend_path());
        let _ = c.rm(&self.dev.backend_path());
    }

    fn set_state(&mut self, xs: &mut Xenstored, s: XenbusState) {
        self.state = s;
        let path = format!("{}/state", self.dev.backend_path());
        let _ = xs.dom0().write(&path, s.as_str().as_bytes());
    }

    /// The frontend's state (Unknown if missing or garbage).
    pub fn frontend_state(&self, xs: &mut Xenstored) -> XenbusState {
        xs.dom0()
            .read_string(&format!("{}/state", self.dev.frontend_path()))
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(XenbusState::Unknown)
    }

    /// One handshake step if the frontend moved; whether we moved.
    pub fn step(&mut self, xs: &mut Xenstored) -> bool {
        let theirs = self.frontend_state(xs);
        let Some(step) = next(Role::Backend, self.state, theirs) else {
            return false;
        };
        match step.action {
            Action::PublishFeatures => self.publish_features(xs),
            Action::MapRing => {
                if let Err(e) = self.connect(xs) {
                    kprintln!("netback: vif {}.{}: {}", self.dev.domid, self.dev.handle, e);
                    self.error = Some(e);
                    self.set_state(xs, XenbusState::Closing);
                    return true;
                }
            }
            Action::TearDown => self.disconnect(),
            _ => {}
        }
        self.set_state(xs, step.next);
        true
    }

    /// Starts closing from our side (network-detach, a corrupt ring).
    pub fn close(&mut self, xs: &mut Xenstored) {
        if let Some(s) = close(self.state) {
            if s.action == Action::TearDown {
                self.disconnect();
            }
            self.set_state(xs, s.next);
        }
    }

    fn publish_features(&mut self, xs: &mut Xenstored) {
        let dir = self.dev.backend_path();
        let perms = perms_for(Access::GuestReads, self.dev.domid);
        let mut c = xs.dom0();
        for (k, v) in BACKEND_FEATURES {
            let path = format!("{dir}/{k}");
            let _ = c.write(&path, v.as_bytes());
            let _ = c.set_perms(&path, perms.clone());
        }
    }

    fn connect(&mut self, xs: &mut Xenstored) -> Result<(), String> {
        let dir = self.dev.frontend_path();
        let rings = {
            let mut c = xs.dom0();
            let mut values: Vec<(&str, Option<String>)> = Vec::new();
            for k in [
                "tx-ring-ref",
                "rx-ring-ref",
                "event-channel",
                "request-rx-copy",
                "feature-rx-notify",
                "feature-sg",
                "feature-gso-tcpv4",
                "feature-gso-tcpv6",
                "multi-queue-num-queues",
            ] {
                values.push((k, c.read_string(&format!("{dir}/{k}")).ok()));
            }
            FrontendRings::read(&|key| {
                values
                    .iter()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, v)| v.clone())
            })?
        };
        let domid = self.dev.domid;
        let tx = GrantedRing::map(domid, rings.tx_ring_ref)
            .map_err(|e| format!("mapping tx-ring-ref {} failed ({e})", rings.tx_ring_ref))?;
        let rx = GrantedRing::map(domid, rings.rx_ring_ref)
            .map_err(|e| format!("mapping rx-ring-ref {} failed ({e})", rings.rx_ring_ref))?;
        let staging =
            NetStaging::take(STAGING_PAGES).ok_or_else(|| String::from("no staging pages left"))?;
        let copier = match staging.copier() {
            Some(c) => c,
            None => {
                staging.release();
                return Err(String::from("out of memory"));
            }
        };
        let pages: Vec<StagingPage> = staging
            .frames()
            .enumerate()
            .map(|(page, frame)| StagingPage { page, frame })
            .collect();
        let engine = match Netback::new(domid, rings.sg, pages) {
            Ok(e) => e,
            Err(e) => {
                staging.release();
                return Err(format!("netback engine: {e:?}"));
            }
        };
        let port = match toolstack_calls::evtchn_bind_interdomain(domid, rings.event_channel) {
            Ok(p) => p,
            Err(e) => {
                staging.release();
                return Err(format!(
                    "binding event-channel {} failed ({e})",
                    rings.event_channel
                ));
            }
        };
        self.conn = Some(Connection {
            engine,
            tx,
            rx,
            port,
            staging,
            copier,
        });
        self.error = None;
        Ok(())
    }

    /// Unmaps the rings, closes the port, gives the staging pages back.
    pub fn disconnect(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = toolstack_calls::evtchn_close(c.port);
            let a = c.tx.unmap();
            let b = c.rx.unmap();
            if a != 0 || b != 0 {
                kprintln!(
                    "netback: vif {}.{}: unmapping the rings failed ({a}, {b})",
                    self.dev.domid,
                    self.dev.handle
                );
            }
            let Connection {
                staging, copier, ..
            } = c;
            drop(copier);
            staging.release();
        }
    }

    /// Our local port, while connected.
    pub fn local_port(&self) -> Option<EvtchnPort> {
        self.conn.as_ref().map(|c| c.port)
    }

    /// Takes the guest's tx packets into `out`; whether requests are left (poll again).
    pub fn poll_tx(&mut self, out: &mut Outgoing) -> bool {
        let from = self.port_id();
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        let mut room = OUT_BYTES_MAX.saturating_sub(out.iter().map(|(_, f)| f.len()).sum());
        let mut push = |f: &[u8]| {
            let mut v = Vec::new();
            if f.len() <= room && out.try_reserve(1).is_ok() && v.try_reserve_exact(f.len()).is_ok()
            {
                room -= f.len();
                v.extend_from_slice(f);
                out.push((from, v));
            }
        };
        match c
            .engine
            .poll_tx(&mut c.tx, &mut c.copier, &mut c.staging, &mut push)
        {
            Ok(p) => {
                if p.notify {
                    let _ = toolstack_calls::evtchn_send(c.port);
                }
                p.more
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Copies `frames` into the guest's rx buffers.
    pub fn deliver(&mut self, frames: &[&[u8]]) {
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        match c
            .engine
            .deliver_rx(&mut c.rx, &mut c.copier, &mut c.staging, frames)
        {
            Ok(p) => {
                if p.notify {
                    let _ = toolstack_calls::evtchn_send(c.port);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: NetbackError) {
        if self.error.is_none() {
            let text = format!("{e:?}");
            kprintln!(
                "netback: vif {}.{}: stopped: {}",
                self.dev.domid,
                self.dev.handle,
                text
            );
            self.error = Some(text);
        }
    }

    /// Whether the engine stopped (the vif is to be closed).
    pub fn stopped(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.engine.is_stopped())
    }
}
