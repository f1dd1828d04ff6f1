//! Opening the physical disk: the ATA driver on the primary IDE channel, sector 0's partition table, the `/dev/hda*` names.

use dom0_tools::ata::{Ata, DEFAULT_POLL_BUDGET};
use dom0_tools::block_store::{BlockStore, SECTOR_SIZE};
use dom0_tools::disk_names::DiskNames;
use dom0_tools::mbr::{self, Mbr, MbrError};

use crate::arch::x86_64::ata_ports::PrimaryChannel;
use crate::console::kprintln;

/// The opened disk.
#[derive(Debug)]
pub struct Disk {
    /// The driver (a [`BlockStore`] of the whole disk).
    pub ata: Ata<PrimaryChannel>,
    /// The checked partition table, if sector 0 holds one.
    pub mbr: Option<Mbr>,
    /// `/dev/hda` and its partitions.
    pub names: DiskNames,
}

/// Opens the disk on the primary IDE channel and prints what it found, as Xen's Dom0 kernels
/// do (`hda: MODEL, N sectors (M MiB)`, then `hda: hda1 hda2 ...`). `None` (after one line
/// saying why) if there is no usable disk.
pub fn open() -> Option<Disk> {
    let ports = match PrimaryChannel::claim() {
        Ok(ports) => ports,
        Err(0) => {
            kprintln!("hda: the primary IDE channel is in use already");
            return None;
        }
        Err(errno) => {
            kprintln!(
                "hda: no I/O privilege (physdev_op set_iopl returned {})",
                errno
            );
            return None;
        }
    };
    let mut ata = match Ata::open(ports, DEFAULT_POLL_BUDGET) {
        Ok(ata) => ata,
        Err(e) => {
            kprintln!("hda: no disk on the primary IDE channel ({})", e);
            return None;
        }
    };
    let id = *ata.identity();
    kprintln!(
        "hda: {}, {} sectors ({} MiB)",
        id.model(),
        id.sectors,
        id.mib()
    );
    let mut sector0 = [0u8; SECTOR_SIZE];
    let mbr = match ata.read(0, &mut sector0) {
        Ok(()) => match mbr::parse(&sector0, id.sectors) {
            Ok(table) => Some(table),
            Err(MbrError::NoSignature { .. }) => {
                kprintln!("hda: unknown partition table");
                None
            }
            Err(e) => {
                kprintln!("hda: partition table refused: {}", e);
                None
            }
        },
        Err(e) => {
            kprintln!("hda: cannot read the partition table: {}", e);
            None
        }
    };
    let names = DiskNames::new(id.sectors, mbr.as_ref());
    if mbr.is_some() {
        let mut line: heapless::String<64> = heapless::String::new();
        for (name, _, _) in names.iter().skip(1) {
            let _ = line.push(' ');
            let _ = line.push_str(name);
        }
        kprintln!("hda:{}", line.as_str());
    }
    Some(Disk { ata, mbr, names })
}
