//! One virtual disk of ours: its xenstore directories, the frontend's side of the xenbus handshake (dom0-tools' xenbus_handshake), and its connection while there is one.
// The handshake only moves when the backend's state changes (a watch on `<backend>/state`),
// so a backend that never answers leaves the device waiting and the shell responsive. The
// disk's size and features are read when the backend is Connected (Linux's blkback publishes
// them in its connect step) and checked like any other input from another domain.

use alloc::format;
use alloc::string::String;

use hypercall_abi::blkif::{
    BLKIF_KEY_EVENT_CHANNEL, BLKIF_KEY_FEATURE_FLUSH_CACHE, BLKIF_KEY_INFO, BLKIF_KEY_PROTOCOL,
    BLKIF_KEY_RING_REF, BLKIF_KEY_SECTOR_SIZE, BLKIF_KEY_SECTORS, BLKIF_SECTOR_SIZE,
    XEN_IO_PROTO_ABI_X86_64,
};
use hypercall_abi::domid::{DOMID_FIRST_RESERVED, DomId};
use hypercall_abi::xenbus::{
    XENBUS_KEY_BACKEND, XENBUS_KEY_BACKEND_ID, XENBUS_KEY_STATE, XenbusState,
};

use dom0_tools::blk_command::vdev_name;
use dom0_tools::blkfront::{DiskInfo, parse_decimal, parse_feature};
use dom0_tools::xenbus_handshake::{self, Action, Role};
use dom0_tools::xs_connection::XsError;

use super::connection::Connection;
use crate::console::{Escaped, kprintln};
use crate::domu::xenbus::Xenbus;

/// The longest backend path we accept.
const MAX_PATH: usize = 256;

/// One vbd.
pub struct Device {
    /// Its device id (the directory name under `device/vbd`).
    pub devid: u64,
    /// Its name (`xvda`).
    pub name: String,
    /// Our directory, relative to our home (`device/vbd/51712`).
    dir: String,
    /// The backend's directory, once read.
    pub backend: Option<String>,
    /// The backend's domain.
    pub backend_id: DomId,
    /// Our state as we last wrote it.
    pub ours: XenbusState,
    /// The backend's state as we last read it.
    pub theirs: XenbusState,
    /// What the backend published, once Connected.
    pub info: Option<DiskInfo>,
    /// The ring and pool while set up.
    pub conn: Option<Connection>,
    /// Why the device is not usable, if something went wrong.
    pub problem: Option<String>,
    /// Pages kept back at teardowns because the backend still used them.
    pub kept_pages: usize,
}

/// The watch token for the backend state of device `devid`.
pub fn token(devid: u64) -> String {
    format!("blk:be:{devid}")
}

impl Device {
    /// Device `devid` found under `device/vbd`: reads where its backend is and watches its
    /// state (the watch fires at once, which starts the handshake).
    pub fn discover(xb: &mut Xenbus, devid: u64) -> Device {
        let name = vdev_name(devid).unwrap_or_else(|| format!("vbd{devid}"));
        let dir = format!("device/vbd/{devid}");
        let mut dev = Device {
            devid,
            name,
            dir,
            backend: None,
            backend_id: 0,
            ours: XenbusState::Initialising,
            theirs: XenbusState::Unknown,
            info: None,
            conn: None,
            problem: None,
            kept_pages: 0,
        };
        if let Err(why) = dev.find_backend(xb) {
            dev.problem = Some(why);
            return dev;
        }
        if let Ok(v) = xb.read(&dev.key(XENBUS_KEY_STATE))
            && let Some(s) = core::str::from_utf8(&v).ok().and_then(|s| s.parse().ok())
        {
            dev.ours = s;
        }
        if let Some(be) = &dev.backend {
            let path = format!("{be}/{XENBUS_KEY_STATE}");
            if let Err(e) = xb.watch(&path, &token(devid)) {
                dev.problem = Some(format!("cannot watch {path}: {e}"));
            }
        }
        dev
    }

    fn key(&self, k: &str) -> String {
        format!("{}/{}", self.dir, k)
    }

    fn find_backend(&mut self, xb: &mut Xenbus) -> Result<(), String> {
        let be = xb
            .read(&self.key(XENBUS_KEY_BACKEND))
            .map_err(|e| format!("no backend path: {e}"))?;
        let ok = !be.is_empty()
            && be.len() <= MAX_PATH
            && be[0] == b'/'
            && be.iter().all(|&b| b.is_ascii_graphic());
        let be = match core::str::from_utf8(&be) {
            Ok(s) if ok => String::from(s),
            _ => return Err(format!("bad backend path '{}'", Escaped(&be))),
        };
        let id = xb
            .read(&self.key(XENBUS_KEY_BACKEND_ID))
            .map_err(|e| format!("no backend-id: {e}"))?;
        let id = parse_decimal(&id)
            .and_then(|v| DomId::try_from(v).ok())
            .filter(|&d| d < DOMID_FIRST_RESERVED)
            .ok_or_else(|| format!("bad backend-id '{}'", Escaped(&id)))?;
        self.backend = Some(be);
        self.backend_id = id;
        Ok(())
    }

    /// Whether the device can take requests.
    pub fn connected(&self) -> bool {
        self.ours == XenbusState::Connected && self.conn.is_some() && self.info.is_some()
    }

    /// The backend's state changed (or may have): reads it and takes the handshake's steps.
    pub fn backend_changed(&mut self, xb: &mut Xenbus) {
        let Some(be) = self.backend.clone() else {
            return;
        };
        self.theirs = match xb.read(&format!("{be}/{XENBUS_KEY_STATE}")) {
            Ok(v) => core::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(XenbusState::Unknown),
            Err(_) => XenbusState::Unknown,
        };
        // A handful of steps at most (Closing then Closed); bounded anyway.
        for _ in 0..4 {
            let Some(step) = xenbus_handshake::next(Role::Frontend, self.ours, self.theirs) else {
                return;
            };
            let ok = match step.action {
                Action::SetUpRing => self.set_up_ring(xb, &be),
                Action::TearDown => {
                    self.tear_down();
                    true
                }
                Action::None if step.next == XenbusState::Connected => self.read_disk(xb, &be),
                _ => true,
            };
            if !ok {
                self.close(xb);
                return;
            }
            self.set_state(xb, step.next);
            match step.next {
                XenbusState::Connected => {
                    if let Some(info) = self.info {
                        kprintln!(
                            "blk: {} connected: {} sectors{}",
                            self.name,
                            info.sectors,
                            if info.read_only() { " ro" } else { "" }
                        );
                    }
                }
                XenbusState::Closed => kprintln!("blk: {} closed", self.name),
                _ => {}
            }
        }
    }

    fn set_state(&mut self, xb: &mut Xenbus, state: XenbusState) {
        self.ours = state;
        if let Err(e) = xb.write(&self.key(XENBUS_KEY_STATE), state.as_str().as_bytes()) {
            kprintln!("blk: {}: writing state {}: {}", self.name, state.name(), e);
        }
    }

    /// Allocates, grants and publishes the ring (the backend is in InitWait).
    fn set_up_ring(&mut self, xb: &mut Xenbus, _backend: &str) -> bool {
        if let Some(old) = self.conn.take() {
            self.kept_pages += old.tear_down();
        }
        let handle = (self.devid & 0xFFFF) as u16;
        let conn = match Connection::set_up(self.backend_id, handle) {
            Ok(c) => c,
            Err(e) => {
                self.problem = Some(format!("setting up the ring: {e}"));
                return false;
            }
        };
        let keys = [
            (BLKIF_KEY_RING_REF, format!("{}", conn.ring_ref())),
            (BLKIF_KEY_EVENT_CHANNEL, format!("{}", conn.link.port)),
            (BLKIF_KEY_PROTOCOL, String::from(XEN_IO_PROTO_ABI_X86_64)),
        ];
        self.conn = Some(conn);
        for (k, v) in keys {
            if let Err(e) = xb.write(&self.key(k), v.as_bytes()) {
                self.problem = Some(format!("writing {k}: {e}"));
                return false;
            }
        }
        true
    }

    /// Reads what the backend published about the disk (the backend is Connected).
    fn read_disk(&mut self, xb: &mut Xenbus, backend: &str) -> bool {
        let mut read = |k: &str| -> Result<Option<alloc::vec::Vec<u8>>, XsError> {
            match xb.read(&format!("{backend}/{k}")) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.is_enoent() => Ok(None),
                Err(e) => Err(e),
            }
        };
        let number = |v: Option<alloc::vec::Vec<u8>>| v.as_deref().and_then(parse_decimal);
        let info = (|| -> Result<DiskInfo, String> {
            let err = |k: &str, e: XsError| format!("reading {k}: {e}");
            let sectors = number(read(BLKIF_KEY_SECTORS).map_err(|e| err(BLKIF_KEY_SECTORS, e))?)
                .ok_or_else(|| String::from("backend gave no valid sectors"))?;
            let info =
                number(read(BLKIF_KEY_INFO).map_err(|e| err(BLKIF_KEY_INFO, e))?).unwrap_or(0);
            let sector_size = read(BLKIF_KEY_SECTOR_SIZE)
                .map_err(|e| err(BLKIF_KEY_SECTOR_SIZE, e))?
                .map_or(Some(BLKIF_SECTOR_SIZE as u64), |v| parse_decimal(&v));
            let flush = read(BLKIF_KEY_FEATURE_FLUSH_CACHE)
                .map_err(|e| err(BLKIF_KEY_FEATURE_FLUSH_CACHE, e))?;
            if sector_size != Some(BLKIF_SECTOR_SIZE as u64) {
                return Err(String::from("sector-size other than 512 is not supported"));
            }
            Ok(DiskInfo {
                sectors,
                sector_size: BLKIF_SECTOR_SIZE as u32,
                info: u32::try_from(info).unwrap_or(u32::MAX),
                flush: parse_feature(flush.as_deref()),
            })
        })();
        match info {
            Ok(i) => {
                self.info = Some(i);
                true
            }
            Err(why) => {
                self.problem = Some(why);
                false
            }
        }
    }

    /// Stops using the ring: closes the port, ends the grants and frees the pages the
    /// backend no longer holds.
    pub fn tear_down(&mut self) {
        self.info = None;
        if let Some(conn) = self.conn.take() {
            let kept = conn.tear_down();
            if kept > 0 {
                kprintln!(
                    "blk: {}: {} pages still in use by the backend are never reused",
                    self.name,
                    kept
                );
            }
            self.kept_pages += kept;
        }
    }

    /// Closes the device on our own (a broken ring, a bad backend): Closing (or Closed
    /// before any setup); the backend's answer takes it on to Closed.
    pub fn close(&mut self, xb: &mut Xenbus) {
        if let Some(step) = xenbus_handshake::close(self.ours) {
            if step.action == Action::TearDown {
                self.tear_down();
            }
            self.set_state(xb, step.next);
        }
        self.tear_down();
    }
}
