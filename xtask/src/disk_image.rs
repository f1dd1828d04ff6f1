//! Raw disk images for QEMU's IDE disk: an MBR partition table and its partitions (zero partitions left sparse).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes in a sector.
pub const SECTOR: u64 = 512;
/// Sectors in a MiB.
pub const SECTORS_PER_MIB: u64 = 2048;
/// Where the first partition starts (1 MiB, as partitioning tools align).
pub const FIRST_PARTITION: u64 = SECTORS_PER_MIB;
/// The partition type written: Linux.
pub const TYPE_LINUX: u8 = 0x83;

/// One primary partition to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionSpec {
    /// Its size in MiB (> 0).
    pub size_mib: u64,
    /// `None`: zeroes (left sparse); `Some(seed)`: every sector filled by [`fill_sector`].
    pub fill: Option<u8>,
}

/// The default disk of `cargo xtask run`: hda1 16 MiB, hda2 16 MiB pattern-filled (a disk
/// that guests share read-only), hda3 16 MiB.
pub const DEFAULT_PARTITIONS: [PartitionSpec; 3] = [
    PartitionSpec {
        size_mib: 16,
        fill: None,
    },
    PartitionSpec {
        size_mib: 16,
        fill: Some(0x5a),
    },
    PartitionSpec {
        size_mib: 16,
        fill: None,
    },
];

/// Where a created partition lies, in sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// The first sector.
    pub first: u64,
    /// The number of sectors.
    pub sectors: u64,
}

impl Extent {
    /// One past the last sector.
    pub fn end(&self) -> u64 {
        self.first + self.sectors
    }
}

/// The contents of sector `sector` (counted from the partition's start) of a partition filled
/// with `seed`: the sector number (8 bytes, little-endian), then byte i = seed ^ i ^ sector*13
/// (mod 256), so a sector found in the wrong place is noticed.
pub fn fill_sector(seed: u8, sector: u64) -> [u8; SECTOR as usize] {
    let mut out = [0u8; SECTOR as usize];
    let salt = (sector as u8).wrapping_mul(13);
    for (i, b) in out.iter_mut().enumerate() {
        *b = seed ^ (i as u8) ^ salt;
    }
    out[..8].copy_from_slice(&sector.to_le_bytes());
    out
}

/// Where partitions of `specs` go, one after the other from [`FIRST_PARTITION`], and the
/// disk's total size in sectors.
pub fn layout(specs: &[PartitionSpec]) -> Result<(Vec<Extent>, u64), String> {
    if specs.len() > 4 {
        return Err(format!(
            "{} partitions asked for; an MBR holds 4",
            specs.len()
        ));
    }
    let mut next = FIRST_PARTITION;
    let mut extents = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if spec.size_mib == 0 {
            return Err(format!("partition {} has size 0", i + 1));
        }
        let sectors = spec
            .size_mib
            .checked_mul(SECTORS_PER_MIB)
            .filter(|&s| {
                next.checked_add(s)
                    .is_some_and(|e| e <= u64::from(u32::MAX))
            })
            .ok_or_else(|| format!("partition {} does not fit an MBR", i + 1))?;
        extents.push(Extent {
            first: next,
            sectors,
        });
        next += sectors;
    }
    Ok((extents, next))
}

/// Sector 0: the partition table for `extents`.
pub fn mbr(extents: &[Extent]) -> [u8; SECTOR as usize] {
    let mut s = [0u8; SECTOR as usize];
    for (i, e) in extents.iter().take(4).enumerate() {
        let entry = &mut s[446 + 16 * i..446 + 16 * (i + 1)];
        entry[0] = 0x00;
        // CHS fields saturated: addresses are LBA only.
        entry[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
        entry[4] = TYPE_LINUX;
        entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
        entry[8..12].copy_from_slice(&(e.first as u32).to_le_bytes());
        entry[12..16].copy_from_slice(&(e.sectors as u32).to_le_bytes());
    }
    s[510] = 0x55;
    s[511] = 0xaa;
    s
}

/// Creates (or replaces) the image at `path` with an MBR and the partitions of `specs`;
/// where they went.
pub fn create(path: &Path, specs: &[PartitionSpec]) -> Result<Vec<Extent>, String> {
    let (extents, total) = layout(specs)?;
    let fail = |what: &str, e: std::io::Error| format!("{what} {}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the directory of", e))?;
    }
    let mut file = File::create(path).map_err(|e| fail("cannot create", e))?;
    // A sparse file of the full size: unfilled partitions cost no space.
    file.set_len(total * SECTOR)
        .map_err(|e| fail("cannot size", e))?;
    file.write_all(&mbr(&extents))
        .map_err(|e| fail("cannot write the MBR of", e))?;
    for (spec, extent) in specs.iter().zip(&extents) {
        let Some(seed) = spec.fill else { continue };
        file.seek(SeekFrom::Start(extent.first * SECTOR))
            .map_err(|e| fail("cannot seek in", e))?;
        let mut chunk = Vec::with_capacity((SECTORS_PER_MIB * SECTOR) as usize);
        for s in 0..extent.sectors {
            chunk.extend_from_slice(&fill_sector(seed, s));
            if chunk.len() as u64 == SECTORS_PER_MIB * SECTOR || s + 1 == extent.sectors {
                file.write_all(&chunk)
                    .map_err(|e| fail("cannot fill a partition of", e))?;
                chunk.clear();
            }
        }
    }
    file.sync_all().map_err(|e| fail("cannot sync", e))?;
    Ok(extents)
}

/// Reads sector `sector` of the image at `path`.
pub fn read_sector(path: &Path, sector: u64) -> Result<[u8; SECTOR as usize], String> {
    let mut file = OpenOptions::new()
        .read(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut out = [0u8; SECTOR as usize];
    file.seek(SeekFrom::Start(sector * SECTOR))
        .and_then(|_| file.read_exact(&mut out))
        .map_err(|e| format!("cannot read sector {sector} of {}: {e}", path.display()))?;
    Ok(out)
}

/// The default image's path: `images/disk.img` in the target directory.
pub fn default_path() -> Result<PathBuf, String> {
    Ok(crate::paths::target_dir()?.join("images").join("disk.img"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn temp_image() -> PathBuf {
        static N: AtomicU32 = AtomicU32::new(0);
        std::env::temp_dir().join(format!(
            "xtask-disk-{}-{}.img",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ))
    }

    #[test]
    fn partitions_follow_each_other_from_1_mib() {
        let (extents, total) = layout(&DEFAULT_PARTITIONS).unwrap();
        assert_eq!(
            extents,
            [
                Extent {
                    first: 2048,
                    sectors: 32768
                },
                Extent {
                    first: 34816,
                    sectors: 32768
                },
                Extent {
                    first: 67584,
                    sectors: 32768
                },
            ]
        );
        assert_eq!(total, 100_352);
    }

    #[test]
    fn bad_layouts_are_refused() {
        let p = PartitionSpec {
            size_mib: 1,
            fill: None,
        };
        assert!(layout(&[p; 5]).unwrap_err().contains("4"));
        let zero = PartitionSpec { size_mib: 0, ..p };
        assert_eq!(layout(&[p, zero]).unwrap_err(), "partition 2 has size 0");
        let huge = PartitionSpec {
            size_mib: 3 << 20,
            ..p
        };
        assert!(layout(&[huge]).is_err());
    }

    #[test]
    fn the_mbr_lists_each_partition() {
        let (extents, _) = layout(&DEFAULT_PARTITIONS).unwrap();
        let s = mbr(&extents);
        assert_eq!(s[510..], [0x55, 0xaa]);
        for (i, e) in extents.iter().enumerate() {
            let entry = &s[446 + 16 * i..][..16];
            assert_eq!(entry[0], 0);
            assert_eq!(entry[4], TYPE_LINUX);
            assert_eq!(
                u32::from_le_bytes(entry[8..12].try_into().unwrap()),
                e.first as u32
            );
            assert_eq!(
                u32::from_le_bytes(entry[12..16].try_into().unwrap()),
                e.sectors as u32
            );
        }
        assert_eq!(s[446 + 48..446 + 64], [0; 16]);
    }

    #[test]
    fn creates_the_image_with_filled_and_sparse_partitions() {
        let path = temp_image();
        let specs = [
            PartitionSpec {
                size_mib: 1,
                fill: None,
            },
            PartitionSpec {
                size_mib: 2,
                fill: Some(7),
            },
            PartitionSpec {
                size_mib: 32,
                fill: None,
            },
        ];
        let extents = create(&path, &specs).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, (1 + 1 + 2 + 32) * 1024 * 1024);
        assert_eq!(read_sector(&path, 0).unwrap(), mbr(&extents));
        let p2 = extents[1];
        assert_eq!(read_sector(&path, p2.first).unwrap(), fill_sector(7, 0));
        assert_eq!(
            read_sector(&path, p2.end() - 1).unwrap(),
            fill_sector(7, p2.sectors - 1)
        );
        assert_eq!(read_sector(&path, p2.end()).unwrap(), [0; 512]);
        assert_eq!(read_sector(&path, extents[0].first).unwrap(), [0; 512]);
        {
            use std::os::unix::fs::MetadataExt;
            let used = std::fs::metadata(&path).unwrap().blocks() * 512;
            assert!(used < 8 << 20, "{used} bytes allocated: not sparse");
        }
        assert!(read_sector(&path, len / 512).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn filled_sectors_differ_and_carry_their_number() {
        let a = fill_sector(1, 0);
        let b = fill_sector(1, 1);
        assert_ne!(a, b);
        assert_eq!(b[..8], 1u64.to_le_bytes());
        assert_ne!(fill_sector(2, 0), a);
    }
}
