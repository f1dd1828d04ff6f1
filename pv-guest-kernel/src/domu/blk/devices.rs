//! The DomU's set of virtual disks: `device/vbd` watched, devices found and removed as it changes, watch events routed to the device they concern.

use alloc::vec::Vec;

use dom0_tools::blkfront::parse_decimal;
use dom0_tools::xs_client::directory_names;
use dom0_tools::xs_connection::{WatchEvent, XsError};

use super::device::Device;
use crate::console::{Escaped, kprintln};
use crate::domu::xenbus::Xenbus;

/// Where our vbds are listed (relative to our home).
pub const VBD_DIR: &str = "device/vbd";
/// The token of the `device/vbd` watch; every blk token starts with `blk:`.
const VBD_TOKEN: &str = "blk:vbd";
/// The most vbds we handle.
const MAX_DEVICES: usize = 8;

/// Our vbds.
#[derive(Default)]
pub struct BlkDevices {
    devices: Vec<Device>,
}

impl BlkDevices {
    /// No devices yet.
    pub const fn new() -> Self {
        BlkDevices {
            devices: Vec::new(),
        }
    }

    /// Watches `device/vbd` (the watch fires at once: the devices there are found then).
    pub fn setup(&mut self, xb: &mut Xenbus) -> Result<(), XsError> {
        xb.watch(VBD_DIR, VBD_TOKEN)
    }

    /// Whether a watch event is ours.
    pub fn owns(event: &WatchEvent) -> bool {
        event.token.starts_with(b"blk:")
    }

    /// Handles one of our watch events.
    pub fn handle(&mut self, xb: &mut Xenbus, event: &WatchEvent) {
        if event.token == VBD_TOKEN.as_bytes() {
            self.rescan(xb);
            return;
        }
        let id = event.token.strip_prefix(b"blk:be:").and_then(parse_decimal);
        if let Some(dev) = id.and_then(|id| self.devices.iter_mut().find(|d| d.devid == id)) {
            dev.backend_changed(xb);
        }
    }

    /// Finds new devices under `device/vbd` and lets go of those that left it.
    fn rescan(&mut self, xb: &mut Xenbus) {
        let names = match xb.directory(VBD_DIR) {
            Ok(n) => n,
            Err(e) if e.is_enoent() => Vec::new(),
            Err(e) => {
                kprintln!("blk: listing {}: {}", VBD_DIR, e);
                return;
            }
        };
        let mut ids = Vec::new();
        for name in directory_names(&names) {
            match parse_decimal(name) {
                Some(id) if ids.len() < MAX_DEVICES => ids.push(id),
                Some(_) => {}
                None => kprintln!("blk: ignoring {}/{}", VBD_DIR, Escaped(name)),
            }
        }
        // Gone: torn down without writing to their (removed) directories.
        self.devices.retain_mut(|d| {
            let keep = ids.contains(&d.devid);
            if !keep {
                d.tear_down();
                kprintln!("blk: {} removed", d.name);
            }
            keep
        });
        // Found before their directory was complete: look again.
        for d in self.devices.iter_mut() {
            if d.backend.is_none() {
                *d = Device::discover(xb, d.devid);
            }
        }
        for id in ids {
            if self.devices.iter().all(|d| d.devid != id) && self.devices.try_reserve(1).is_ok() {
                let dev = Device::discover(xb, id);
                if let Some(p) = &dev.problem {
                    kprintln!("blk: {}: {}", dev.name, p);
                }
                self.devices.push(dev);
            }
        }
    }

    /// The devices, in the order they were found.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The device named `name`.
    pub fn find(&mut self, name: &str) -> Option<&mut Device> {
        self.devices.iter_mut().find(|d| d.name == name)
    }
}
