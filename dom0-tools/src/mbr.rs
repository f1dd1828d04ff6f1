//! The MBR partition table of sector 0: four primary entries, checked against the disk and each other.
// The table is on a disk whose contents anyone with write access to it (a guest given the whole
// disk, say) may have chosen: a table whose entries leave the disk, overlap each other or the
// table itself is refused as a whole, with a message naming the entry and what is wrong.

use core::fmt;

use crate::block_store::SECTOR_SIZE;

/// Offset of the first of the four partition entries.
pub const TABLE_OFFSET: usize = 446;
/// Bytes in a partition entry.
pub const ENTRY_SIZE: usize = 16;
/// Offset of the 0x55 0xaa signature.
pub const SIGNATURE_OFFSET: usize = 510;
/// The signature bytes.
pub const SIGNATURE: [u8; 2] = [0x55, 0xaa];
/// The partition type of an unused entry.
pub const TYPE_EMPTY: u8 = 0x00;
/// The partition type of a GPT disk's protective entry.
pub const TYPE_GPT_PROTECTIVE: u8 = 0xee;
/// The partition type of a Linux partition.
pub const TYPE_LINUX: u8 = 0x83;
/// Boot-flag values an entry may hold.
const BOOT_FLAGS: [u8; 2] = [0x00, 0x80];

/// One used primary partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Its number, 1..=4 (the entry's place in the table).
    pub number: u8,
    /// The partition type byte.
    pub kind: u8,
    /// Whether the boot flag is set.
    pub bootable: bool,
    /// The first sector.
    pub first: u64,
    /// The size in sectors (> 0).
    pub sectors: u64,
}

impl Partition {
    /// One past the last sector.
    pub fn end(&self) -> u64 {
        self.first + self.sectors
    }
}

/// A checked partition table: entry `i` is partition `i + 1`, `None` where the entry is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mbr {
    /// The four primary entries.
    pub entries: [Option<Partition>; 4],
}

impl Mbr {
    /// The used partitions in table order.
    pub fn partitions(&self) -> impl Iterator<Item = &Partition> {
        self.entries.iter().flatten()
    }

    /// Partition `number` (1..=4), if that entry is used.
    pub fn partition(&self, number: u8) -> Option<&Partition> {
        let index = usize::from(number).checked_sub(1)?;
        self.entries.get(index)?.as_ref()
    }
}

/// Why a partition table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MbrError {
    /// Fewer than 512 bytes were given.
    Short {
        /// The length given.
        len: usize,
    },
    /// Bytes 510..512 are not 0x55 0xaa: no partition table.
    NoSignature {
        /// The two bytes found.
        found: [u8; 2],
    },
    /// An entry's boot flag is neither 0x00 nor 0x80 (the sector is not a partition table).
    BadBootFlag {
        /// The partition number.
        number: u8,
        /// The flag found.
        flag: u8,
    },
    /// The disk is GPT-partitioned (a protective entry), which is not supported.
    Gpt,
    /// A used entry has no sectors.
    Empty {
        /// The partition number.
        number: u8,
    },
    /// A used entry starts at sector 0, over the partition table itself.
    OverTable {
        /// The partition number.
        number: u8,
    },
    /// A used entry goes past the end of the disk.
    PastEnd {
        /// The partition number.
        number: u8,
        /// One past its last sector.
        end: u64,
        /// The disk's size in sectors.
        disk: u64,
    },
    /// Two used entries share sectors.
    Overlap {
        /// The lower partition number.
        first: u8,
        /// The higher partition number.
        second: u8,
    },
}

impl fmt::Display for MbrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MbrError::Short { len } => {
                write!(f, "sector 0 is {len} bytes, a partition table needs 512")
            }
            MbrError::NoSignature { found } => write!(
                f,
                "no partition table (signature {:02x}{:02x}, expected 55aa)",
                found[0], found[1]
            ),
            MbrError::BadBootFlag { number, flag } => write!(
                f,
                "partition {number}: boot flag {flag:#04x} is neither 0x00 nor 0x80"
            ),
            MbrError::Gpt => f.write_str("GPT partition tables are not supported"),
            MbrError::Empty { number } => write!(f, "partition {number}: zero sectors long"),
            MbrError::OverTable { number } => {
                write!(f, "partition {number}: starts at sector 0, over the table")
            }
            MbrError::PastEnd { number, end, disk } => write!(
                f,
                "partition {number}: ends at sector {end}, past the disk's {disk} sectors"
            ),
            MbrError::Overlap { first, second } => {
                write!(f, "partitions {first} and {second} overlap")
            }
        }
    }
}

fn le32(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(word))
}

/// Parses and checks the partition table in `sector0` (at least 512 bytes) of a disk of
/// `disk_sectors` sectors.
pub fn parse(sector0: &[u8], disk_sectors: u64) -> Result<Mbr, MbrError> {
    if sector0.len() < SECTOR_SIZE {
        return Err(MbrError::Short { len: sector0.len() });
    }
    let found = [sector0[SIGNATURE_OFFSET], sector0[SIGNATURE_OFFSET + 1]];
    if found != SIGNATURE {
        return Err(MbrError::NoSignature { found });
    }
    let mut mbr = Mbr::default();
    for (index, slot) in mbr.entries.iter_mut().enumerate() {
        let number = index as u8 + 1;
        let entry = &sector0[TABLE_OFFSET + index * ENTRY_SIZE..][..ENTRY_SIZE];
        let flag = entry[0];
        if !BOOT_FLAGS.contains(&flag) {
            return Err(MbrError::BadBootFlag { number, flag });
        }
        let kind = entry[4];
        if kind == TYPE_EMPTY {
            continue;
        }
        if kind == TYPE_GPT_PROTECTIVE {
            return Err(MbrError::Gpt);
        }
        let first = le32(entry, 8);
        let sectors = le32(entry, 12);
        if sectors == 0 {
            return Err(MbrError::Empty { number });
        }
        if first == 0 {
            return Err(MbrError::OverTable { number });
        }
        // Both are below 2^32: no overflow.
        let end = first + sectors;
        if end > disk_sectors {
            return Err(MbrError::PastEnd {
                number,
                end,
                disk: disk_sectors,
            });
        }
        *slot = Some(Partition {
            number,
            kind,
            bootable: flag == 0x80,
            first,
            sectors,
        });
    }
    for a in mbr.partitions() {
        for b in mbr.partitions().filter(|b| b.number > a.number) {
            if a.first < b.end() && b.first < a.end() {
                return Err(MbrError::Overlap {
                    first: a.number,
                    second: b.number,
                });
            }
        }
    }
    Ok(mbr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(u8, u8, u32, u32)]) -> [u8; 512] {
        let mut s = [0u8; 512];
        for (i, &(flag, kind, first, sectors)) in entries.iter().enumerate() {
            let e = &mut s[TABLE_OFFSET + i * ENTRY_SIZE..][..ENTRY_SIZE];
            e[0] = flag;
            e[4] = kind;
            e[8..12].copy_from_slice(&first.to_le_bytes());
            e[12..16].copy_from_slice(&sectors.to_le_bytes());
        }
        s[510] = 0x55;
        s[511] = 0xaa;
        s
    }

    #[test]
    fn parses_three_partitions_and_an_empty_entry() {
        let s = table(&[
            (0x80, TYPE_LINUX, 2048, 100),
            (0, TYPE_LINUX, 2148, 50),
            (0, 0, 0, 0),
            (0, 0x0c, 3000, 10),
        ]);
        let mbr = parse(&s, 4000).unwrap();
        let parts: alloc::vec::Vec<_> = mbr.partitions().map(|p| p.number).collect();
        assert_eq!(parts, [1, 2, 4]);
        assert_eq!(
            mbr.partition(1),
            Some(&Partition {
                number: 1,
                kind: TYPE_LINUX,
                bootable: true,
                first: 2048,
                sectors: 100
            })
        );
        assert_eq!(mbr.partition(3), None);
        assert_eq!(mbr.partition(0), None);
        assert_eq!(mbr.partition(5), None);
        assert_eq!(mbr.partition(4).unwrap().end(), 3010);
    }

    #[test]
    fn an_empty_type_ignores_garbage_in_the_entry() {
        let s = table(&[(0, 0, 0xffff_ffff, 0xffff_ffff)]);
        assert_eq!(parse(&s, 10).unwrap(), Mbr::default());
    }

    #[test]
    fn a_table_needs_its_signature_and_512_bytes() {
        let mut s = table(&[]);
        assert_eq!(parse(&s[..511], 10), Err(MbrError::Short { len: 511 }));
        s[511] = 0;
        assert_eq!(
            parse(&s, 10),
            Err(MbrError::NoSignature { found: [0x55, 0] })
        );
        assert_eq!(
            parse(&s, 10).unwrap_err().to_string(),
            "no partition table (signature 5500, expected 55aa)"
        );
    }

    #[test]
    fn hostile_entries_are_refused_by_name() {
        type Entries = &'static [(u8, u8, u32, u32)];
        let cases: [(Entries, MbrError, &str); 6] = [
            (
                &[(0, 0x83, 1, 5), (0x81, 0x83, 10, 5)],
                MbrError::BadBootFlag {
                    number: 2,
                    flag: 0x81,
                },
                "partition 2: boot flag 0x81 is neither 0x00 nor 0x80",
            ),
            (
                &[(0, 0x83, 10, 0)],
                MbrError::Empty { number: 1 },
                "partition 1: zero sectors long",
            ),
            (
                &[(0, 0x83, 0, 5)],
                MbrError::OverTable { number: 1 },
                "partition 1: starts at sector 0, over the table",
            ),
            (
                &[(0, 0, 0, 0), (0, 0x83, 90, 11)],
                MbrError::PastEnd {
                    number: 2,
                    end: 101,
                    disk: 100,
                },
                "partition 2: ends at sector 101, past the disk's 100 sectors",
            ),
            (
                &[(0, 0x83, 10, 10), (0, 0x83, 40, 5), (0, 0x83, 19, 2)],
                MbrError::Overlap {
                    first: 1,
                    second: 3,
                },
                "partitions 1 and 3 overlap",
            ),
            (
                &[(0, TYPE_GPT_PROTECTIVE, 1, 99)],
                MbrError::Gpt,
                "GPT partition tables are not supported",
            ),
        ];
        for (entries, want, text) in cases {
            let got = parse(&table(entries), 100).unwrap_err();
            assert_eq!(got, want);
            assert_eq!(got.to_string(), text);
        }
    }

    #[test]
    fn the_largest_entries_do_not_overflow() {
        let s = table(&[(0, 0x83, u32::MAX, u32::MAX)]);
        assert_eq!(
            parse(&s, u64::MAX).unwrap().partition(1).unwrap().end(),
            2 * u64::from(u32::MAX)
        );
        assert!(matches!(
            parse(&s, 1 << 32),
            Err(MbrError::PastEnd { number: 1, .. })
        ));
    }

    #[test]
    fn touching_partitions_do_not_overlap() {
        let s = table(&[(0, 0x83, 1, 9), (0, 0x83, 10, 10), (0, 0x83, 20, 80)]);
        assert_eq!(parse(&s, 100).unwrap().partitions().count(), 3);
    }
}
