//! The virtual disks Dom0 serves: each one's xenbus handshake driven from xenstore each round, its ring mapped and served while connected, and everything let go on unplug or the guest's end.
// Each round (`pump`), per disk: the backend directory gone means the toolstack removed the
// device (forced detach, or the guest's end): tear down and forget it. The toolstack writing
// Closing over our state, or `online` 0, asks us to close. Then xenbus_handshake's next step for
// our state and the frontend's, whose actions are done here: publish the features (InitWait),
// map the ring and bind the event channel (Connected), unmap and close (Closing). A frontend
// that never set up anything (still Initialising) lets a closing backend go straight to Closed.
// Connected rings are served a batch each round; a corrupt ring closes the device. The
// frontend's values are hostile: parsed and checked (`vbd::parse_frontend_ring`), failures
// close the device with a log line.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::xenbus::XenbusState;

use dom0_tools::blkback::engine::BlkBack;
use dom0_tools::blkback::request::VbdRegion;
use dom0_tools::vbd::{self, FrontendRing};
use dom0_tools::xenbus_handshake::{self, Action, Role};
use dom0_tools::xenstored::Xenstored;

use super::devices::{BlockDevices, DevKey};
use crate::arch::x86_64::backend_grants::{GrantedRing, Staging};
use crate::arch::x86_64::toolstack_calls;

/// Rounds of handshake steps taken per disk per pump, at most.
const STEPS_PER_ROUND: usize = 4;
/// Service calls per connected disk per pump, at most (each up to a ring's worth).
const BATCHES_PER_ROUND: usize = 4;

/// A connected disk's ring.
struct Connection {
    ring: GrantedRing,
    port: EvtchnPort,
    engine: BlkBack,
    front: FrontendRing,
}

/// One virtual disk.
pub struct Vbd {
    /// The guest.
    pub domid: DomId,
    /// Its device number.
    pub devid: u32,
    /// The store.
    key: DevKey,
    /// The part of the store the guest sees.
    region: VbdRegion,
    cdrom: bool,
    /// The state we last wrote.
    ours: XenbusState,
    conn: Option<Connection>,
    /// Drop at the end of the round.
    gone: bool,
}

/// A disk the toolstack announced.
#[derive(Clone, Copy, Debug)]
pub struct NewVbd {
    /// The guest.
    pub domid: DomId,
    /// Its device number.
    pub devid: u32,
    /// The store.
    pub key: DevKey,
    /// The part of the store the guest sees.
    pub region: VbdRegion,
    /// A CD-ROM.
    pub cdrom: bool,
}

/// Every virtual disk, the stores and the staging pages.
#[derive(Default)]
pub struct Backends {
    vbds: Vec<Vbd>,
    /// Dom0's block devices.
    pub devices: BlockDevices,
    staging: Option<Staging>,
}

/// What a round wants said (log lines), and ports to add or drop from the wait set.
#[derive(Default)]
pub struct Round {
    /// Log lines.
    pub log: Vec<String>,
    /// Ports newly bound.
    pub bound: Vec<EvtchnPort>,
    /// Ports closed.
    pub closed: Vec<EvtchnPort>,
}

fn read(xs: &mut Xenstored, path: &str) -> Option<String> {
    xs.dom0().read_string(path).ok()
}

fn read_state(xs: &mut Xenstored, path: &str) -> XenbusState {
    read(xs, path)
        .and_then(|s| s.parse().ok())
        .unwrap_or(XenbusState::Unknown)
}

impl Backends {
    /// The staging pages (taken on first use); `None` if they cannot be had.
    pub fn staging(&mut self) -> Option<&mut Staging> {
        if self.staging.is_none() {
            self.staging = Staging::take();
        }
        self.staging.as_mut()
    }

    /// Resolves `target` to a store region: (key, first, sectors).
    pub fn resolve(&mut self, target: &str) -> Option<(DevKey, u64, u64)> {
        self.staging()?;
        let Backends {
            devices, staging, ..
        } = self;
        devices.resolve(target, staging.as_mut()?)
    }

    /// Whether `domid` has a disk `devid`.
    pub fn has(&self, domid: DomId, devid: u32) -> bool {
        self.vbds
            .iter()
            .any(|v| v.domid == domid && v.devid == devid)
    }

    /// Starts serving a disk whose nodes the toolstack wrote: publishes the features and goes
    /// to InitWait at once (as a backend driver probes a new device).
    pub fn add(
        &mut self,
        xs: &mut Xenstored,
        disk: NewVbd,
        round: &mut Round,
    ) -> Result<(), String> {
        self.vbds
            .try_reserve(1)
            .map_err(|_| String::from("out of memory for another disk\n"))?;
        self.vbds.push(Vbd {
            domid: disk.domid,
            devid: disk.devid,
            key: disk.key,
            region: disk.region,
            cdrom: disk.cdrom,
            ours: XenbusState::Initialising,
            conn: None,
            gone: false,
        });
        let i = self.vbds.len() - 1;
        self.step(i, xs, round);
        Ok(())
    }

    /// One round over every disk.
    pub fn pump(&mut self, xs: &mut Xenstored, round: &mut Round) {
        for i in 0..self.vbds.len() {
            self.step(i, xs, round);
        }
        self.vbds.retain(|v| !v.gone);
    }

    /// Tears down every disk of `domid` now and removes its backend directories (the guest
    /// is going away).
    pub fn release_domain(&mut self, xs: &mut Xenstored, domid: DomId, round: &mut Round) {
        for v in self.vbds.iter_mut().filter(|v| v.domid == domid) {
            teardown(v, round);
            v.gone = true;
        }
        self.vbds.retain(|v| !v.gone);
        let _ = xs.dom0().rm(&format!("{}/{domid}", vbd::BACKEND_ROOT));
    }

    /// Tears down `domid`'s disk `devid` now (a forced detach); the toolstack removes its
    /// nodes.
    pub fn force_remove(&mut self, domid: DomId, devid: u32, round: &mut Round) {
        for v in self
            .vbds
            .iter_mut()
            .filter(|v| v.domid == domid && v.devid == devid)
        {
            teardown(v, round);
            v.gone = true;
        }
        self.vbds.retain(|v| !v.gone);
    }

    fn step(&mut self, i: usize, xs: &mut Xenstored, round: &mut Round) {
        let Backends {
            vbds,
            devices,
            staging,
        } = self;
        let Some(v) = vbds.get_mut(i) else {
            return;
        };
        if v.gone {
            return;
        }
        let be = vbd::backend_path(v.domid, v.devid);
        let fe = vbd::frontend_path(v.domid, v.devid);
        let be_state = format!("{be}/state");
        let written = match read(xs, &be_state) {
            Some(s) => s.parse().unwrap_or(XenbusState::Unknown),
            None => {
                teardown(v, round);
                v.gone = true;
                return;
            }
        };
        let unplug = read(xs, &format!("{be}/online")).as_deref() != Some("1");
        if (written == XenbusState::Closing
            && v.ours != XenbusState::Closing
            && v.ours != XenbusState::Closed)
            || (unplug && !matches!(v.ours, XenbusState::Closing | XenbusState::Closed))
        {
            teardown(v, round);
            set_state(xs, v, XenbusState::Closing, round);
        }
        for _ in 0..STEPS_PER_ROUND {
            let theirs = read_state(xs, &format!("{fe}/state"));
            let next = if v.ours == XenbusState::Initialising {
                Some((XenbusState::InitWait, Action::PublishFeatures))
            } else if v.ours == XenbusState::Closing && theirs == XenbusState::Initialising {
                Some((XenbusState::Closed, Action::None))
            } else {
                xenbus_handshake::next(Role::Backend, v.ours, theirs).map(|s| (s.next, s.action))
            };
            let Some((state, action)) = next else {
                break;
            };
            match action {
                Action::PublishFeatures => publish_features(xs, v, &be),
                Action::MapRing => {
                    if let Err(e) = connect(xs, v, &fe, round) {
                        round
                            .log
                            .push(format!("blkback: vbd {}/{}: {e}\n", v.domid, v.devid));
                        set_state(xs, v, XenbusState::Closing, round);
                        continue;
                    }
                }
                Action::TearDown => teardown(v, round),
                Action::None | Action::SetUpRing => {}
            }
            set_state(xs, v, state, round);
        }
        // Serve the ring.
        let Some(conn) = v.conn.as_mut() else {
            return;
        };
        let (Some(store), Some(copier)) = (devices.store(v.key), staging.as_mut()) else {
            return;
        };
        for _ in 0..BATCHES_PER_ROUND {
            match conn.engine.service(&mut conn.ring, store, copier) {
                Ok(s) => {
                    if s.notify {
                        let _ = toolstack_calls::evtchn_send(conn.port);
                    }
                    if !s.more {
                        break;
                    }
                }
                Err(c) => {
                    round.log.push(format!(
                        "blkback: vbd {}/{}: ring index out of range (req_prod {}, req_cons {}), disconnecting\n",
                        v.domid, v.devid, c.prod, c.cons
                    ));
                    teardown(v, round);
                    set_state(xs, v, XenbusState::Closing, round);
                    break;
                }
            }
        }
    }
}

/// Writes our state and logs the transition.
fn set_state(xs: &mut Xenstored, v: &mut Vbd, state: XenbusState, round: &mut Round) {
    v.ours = state;
    let be = vbd::backend_path(v.domid, v.devid);
    let _ = xs
        .dom0()
        .write(&format!("{be}/state"), state.as_str().as_bytes());
    round.log.push(format!(
        "blkback: vbd {}/{} {}\n",
        v.domid,
        v.devid,
        state.name()
    ));
}

fn publish_features(xs: &mut Xenstored, v: &Vbd, be: &str) {
    let mut c = xs.dom0();
    for (key, value) in vbd::backend_features(v.region.sectors, v.region.readonly, v.cdrom) {
        let _ = c.write(&format!("{be}/{key}"), value.as_bytes());
    }
}

/// Reads the frontend's ring, maps it, binds its event channel.
fn connect(xs: &mut Xenstored, v: &mut Vbd, fe: &str, round: &mut Round) -> Result<(), String> {
    let mut values: [Option<String>; 4] = Default::default();
    for (value, key) in values.iter_mut().zip(vbd::FRONTEND_RING_KEYS) {
        *value = read(xs, &format!("{fe}/{key}"));
    }
    let [ring_ref, evtchn, protocol, order] = &values;
    let front = vbd::parse_frontend_ring(
        ring_ref.as_deref(),
        evtchn.as_deref(),
        protocol.as_deref(),
        order.as_deref(),
    )?;
    let ring = GrantedRing::map(v.domid, front.ring_ref)
        .map_err(|e| format!("mapping ring-ref {} failed ({e})", front.ring_ref))?;
    let port = toolstack_calls::evtchn_bind_interdomain(v.domid, front.event_channel)
        .map_err(|e| format!("binding event-channel {} failed ({e})", front.event_channel))?;
    round.bound.push(port);
    v.conn = Some(Connection {
        ring,
        port,
        engine: BlkBack::new(v.domid, v.region),
        front,
    });
    Ok(())
}

/// Stops serving: unmaps the ring (dropping it), closes the port.
fn teardown(v: &mut Vbd, round: &mut Round) {
    if let Some(mut c) = v.conn.take() {
        let ret = c.ring.unmap();
        if ret != 0 {
            round.log.push(format!(
                "blkback: vbd {}/{}: unmapping ring-ref {} failed ({ret})\n",
                v.domid, v.devid, c.front.ring_ref
            ));
        }
        let _ = toolstack_calls::evtchn_close(c.port);
        round.closed.push(c.port);
        let st = c.engine.stats();
        round.log.push(format!(
            "blkback: vbd {}/{}: {} requests, {} segments, {} errors, {} notifications, {} kicks\n",
            v.domid, v.devid, st.requests, st.segments, st.errors, st.notifications, st.kicks
        ));
    }
}
