//! Dom0's block devices by name, as `disk = [...]` targets name them: the IDE disk `/dev/hda` and its partitions `/dev/hda1..4`, and `/dev/ram0` (a RAM disk of free frames, made on first use and kept).
// `resolve` gives the store and region a name stands for, `store` the store. The IDE disk is
// opened once, when the toolstack starts (`open_physical`), and driven with its interrupt.

use dom0_tools::blkback::copier::StagedCopier;
use dom0_tools::block_store::BlockStore;

use crate::arch::x86_64::backend_grants::Staging;
use crate::arch::x86_64::ram_disk::RamDisk;
use crate::console::kprintln;
use crate::dom0::disk::irq;
use crate::dom0::disk::open::{self, Disk};

/// Pages of the RAM disk: 4 MiB.
pub const RAM0_PAGES: usize = 1024;
/// The RAM disk's name.
pub const RAM0: &str = "/dev/ram0";

/// Which store a virtual disk uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevKey {
    /// `/dev/ram0`.
    Ram0,
    /// The IDE disk (`/dev/hda` or one of its partitions: the region says which).
    Hda,
}

/// Dom0's block devices.
#[derive(Default)]
pub struct BlockDevices {
    ram0: Option<RamDisk>,
    hda: Option<Disk>,
}

impl BlockDevices {
    /// Opens the IDE disk if there is one (printing what it found) and routes its interrupt
    /// to us; without the interrupt the driver polls.
    pub fn open_physical(&mut self) {
        let Some(mut disk) = open::open() else {
            return;
        };
        if let Err((what, e)) = irq::enable(&mut disk) {
            kprintln!("hda: {} failed ({}): polling the disk", what, e);
        }
        self.hda = Some(disk);
    }

    /// The store and region (first sector, sectors) `name` stands for; `staging` is used to
    /// zero a RAM disk made now.
    pub fn resolve(&mut self, name: &str, staging: &mut Staging) -> Option<(DevKey, u64, u64)> {
        match name {
            RAM0 => {
                if self.ram0.is_none() {
                    let mut disk = RamDisk::new(RAM0_PAGES)?;
                    if !(check(&mut disk, staging) && zero(&mut disk, staging)) {
                        return None;
                    }
                    self.ram0 = Some(disk);
                }
                let sectors = self.ram0.as_ref()?.sectors();
                Some((DevKey::Ram0, 0, sectors))
            }
            _ => {
                let (first, sectors) = self.hda.as_ref()?.names.resolve(name)?;
                Some((DevKey::Hda, first, sectors))
            }
        }
    }

    /// The store behind `key`.
    pub fn store(&mut self, key: DevKey) -> Option<&mut dyn BlockStore> {
        match key {
            DevKey::Ram0 => self.ram0.as_mut().map(|d| d as &mut dyn BlockStore),
            DevKey::Hda => self.hda.as_mut().map(|d| &mut d.ata as &mut dyn BlockStore),
        }
    }
}

/// Writes a pattern to the last sector, reads it back through cleared staging: whether both
/// directions of the frame copies work.
fn check(disk: &mut RamDisk, staging: &mut Staging) -> bool {
    let last = disk.sectors() - 1;
    let buf = &mut staging.staging()[..512];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8 ^ 0x5a;
    }
    if disk.write(last, buf).is_err() {
        return false;
    }
    buf.fill(0);
    disk.read(last, buf).is_ok() && buf.iter().enumerate().all(|(i, &b)| b == i as u8 ^ 0x5a)
}

/// Writes zeroes over the whole disk through the staging pages; whether every write worked.
fn zero(disk: &mut RamDisk, staging: &mut Staging) -> bool {
    let buf = staging.staging();
    buf.fill(0);
    let per = (buf.len() / 512) as u64;
    let all = disk.sectors();
    let mut s = 0;
    while s < all {
        let n = per.min(all - s);
        if disk.write(s, &buf[..n as usize * 512]).is_err() {
            return false;
        }
        s += n;
    }
    true
}
