//! Dom0's names for the physical disk: `/dev/hda` (the whole disk) and `/dev/hda1..4` (its partitions).

use crate::mbr::Mbr;

/// The whole disk's name.
pub const DISK: &str = "hda";
/// The partitions' names, partition `n` at index `n - 1`.
pub const PARTITIONS: [&str; 4] = ["hda1", "hda2", "hda3", "hda4"];
/// The directory the names live in.
pub const DEV_PREFIX: &str = "/dev/";

/// The disk's extent and its partitions' extents, as `(first sector, sectors)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskNames {
    disk_sectors: u64,
    partitions: [Option<(u64, u64)>; 4],
}

impl DiskNames {
    /// The names of a disk of `disk_sectors` sectors with the (checked) partition table `mbr`,
    /// if it has one.
    pub fn new(disk_sectors: u64, mbr: Option<&Mbr>) -> Self {
        let mut partitions = [None; 4];
        if let Some(mbr) = mbr {
            for (slot, entry) in partitions.iter_mut().zip(mbr.entries.iter()) {
                *slot = entry.map(|p| (p.first, p.sectors));
            }
        }
        DiskNames {
            disk_sectors,
            partitions,
        }
    }

    /// The extent `(first sector, sectors)` that `name` (`/dev/hda`, `/dev/hda2`, or the same
    /// without `/dev/`) stands for; `None` for any other name or an unused partition.
    pub fn resolve(&self, name: &str) -> Option<(u64, u64)> {
        let name = name.strip_prefix(DEV_PREFIX).unwrap_or(name);
        if name == DISK {
            return Some((0, self.disk_sectors));
        }
        let index = PARTITIONS.iter().position(|p| *p == name)?;
        self.partitions[index]
    }

    /// Every name in use with its extent: the disk first, then its partitions in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64, u64)> + '_ {
        core::iter::once((DISK, 0, self.disk_sectors)).chain(
            PARTITIONS
                .iter()
                .zip(self.partitions.iter())
                .filter_map(|(name, p)| p.map(|(first, sectors)| (*name, first, sectors))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbr::Partition;
    use alloc::vec::Vec;

    fn names() -> DiskNames {
        let mut mbr = Mbr::default();
        mbr.entries[0] = Some(Partition {
            number: 1,
            kind: 0x83,
            bootable: false,
            first: 2048,
            sectors: 100,
        });
        mbr.entries[2] = Some(Partition {
            number: 3,
            kind: 0x83,
            bootable: false,
            first: 4096,
            sectors: 50,
        });
        DiskNames::new(10_000, Some(&mbr))
    }

    #[test]
    fn resolves_the_disk_and_its_used_partitions() {
        let n = names();
        assert_eq!(n.resolve("/dev/hda"), Some((0, 10_000)));
        assert_eq!(n.resolve("hda"), Some((0, 10_000)));
        assert_eq!(n.resolve("/dev/hda1"), Some((2048, 100)));
        assert_eq!(n.resolve("/dev/hda3"), Some((4096, 50)));
        assert_eq!(n.resolve("/dev/hda2"), None);
        assert_eq!(n.resolve("/dev/hda5"), None);
        assert_eq!(n.resolve("/dev/hdb"), None);
        assert_eq!(n.resolve("/dev/"), None);
        assert_eq!(n.resolve("/dev/dev/hda"), None);
    }

    #[test]
    fn lists_what_is_in_use() {
        let listed: Vec<_> = names().iter().map(|(n, _, _)| n).collect();
        assert_eq!(listed, ["hda", "hda1", "hda3"]);
        let bare = DiskNames::new(8, None);
        assert_eq!(bare.iter().count(), 1);
        assert_eq!(bare.resolve("hda1"), None);
    }
}
