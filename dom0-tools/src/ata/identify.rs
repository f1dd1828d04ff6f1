//! The IDENTIFY DEVICE data block: model, serial number, addressing modes and capacity.
// Words are little-endian; ATA strings hold two characters per word, the first in the high
// byte. The device is hardware we trust to be a disk, but its strings are still cleaned to
// printable ASCII before anyone prints them.

use super::AtaError;
use crate::block_store::SECTOR_SIZE;

/// Characters of the model string (words 27..=46).
pub const MODEL_LEN: usize = 40;
/// Characters of the serial number (words 10..=19).
pub const SERIAL_LEN: usize = 20;

/// What the disk says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    model: [u8; MODEL_LEN],
    model_len: u8,
    serial: [u8; SERIAL_LEN],
    serial_len: u8,
    /// Addressable sectors (the LBA48 count if the disk supports LBA48, else the LBA28 one).
    pub sectors: u64,
    /// Whether the 48-bit address feature set is supported.
    pub lba48: bool,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            model: [b' '; MODEL_LEN],
            model_len: 0,
            serial: [b' '; SERIAL_LEN],
            serial_len: 0,
            sectors: 0,
            lba48: false,
        }
    }
}

fn word(data: &[u8; SECTOR_SIZE], index: usize) -> u16 {
    u16::from_le_bytes([data[2 * index], data[2 * index + 1]])
}

/// The ATA string in words `first..first + N/2`, cleaned to printable ASCII and trimmed of
/// trailing spaces; with its length.
fn ata_string<const N: usize>(data: &[u8; SECTOR_SIZE], first: usize) -> ([u8; N], u8) {
    let mut out = [b' '; N];
    for (i, pair) in out.chunks_exact_mut(2).enumerate() {
        let [hi, lo] = word(data, first + i).to_be_bytes();
        pair[0] = hi;
        pair[1] = lo;
    }
    for c in out.iter_mut() {
        if !(0x20..0x7f).contains(c) {
            *c = b'?';
        }
    }
    let len = out.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    (out, len as u8)
}

impl Identity {
    /// Parses the 512 bytes IDENTIFY DEVICE returned.
    pub fn parse(data: &[u8; SECTOR_SIZE]) -> Result<Identity, AtaError> {
        // Word 0 bit 15 set: not an ATA device.
        if word(data, 0) & 0x8000 != 0 {
            return Err(AtaError::NotAta {
                signature: word(data, 0),
            });
        }
        // Word 49 bit 9: LBA supported.
        if word(data, 49) & (1 << 9) == 0 {
            return Err(AtaError::NoLba);
        }
        let lba28 = u64::from(word(data, 60)) | u64::from(word(data, 61)) << 16;
        // Word 83 is valid when its bits 15:14 are 01; bit 10 is the 48-bit address set.
        let w83 = word(data, 83);
        let lba48 = w83 & 0xc000 == 0x4000 && w83 & (1 << 10) != 0;
        let lba48_sectors = (100..104)
            .rev()
            .fold(0u64, |acc, w| acc << 16 | u64::from(word(data, w)));
        let sectors = if lba48 && lba48_sectors != 0 {
            lba48_sectors
        } else {
            lba28.min(LBA28_MAX)
        };
        let (model, model_len) = ata_string::<MODEL_LEN>(data, 27);
        let (serial, serial_len) = ata_string::<SERIAL_LEN>(data, 10);
        Ok(Identity {
            model,
            model_len,
            serial,
            serial_len,
            sectors,
            lba48: lba48 && lba48_sectors != 0,
        })
    }

    /// The model string, trimmed.
    pub fn model(&self) -> &str {
        // Only printable ASCII is ever stored.
        core::str::from_utf8(&self.model[..usize::from(self.model_len)]).unwrap_or("?")
    }

    /// The serial number, trimmed.
    pub fn serial(&self) -> &str {
        core::str::from_utf8(&self.serial[..usize::from(self.serial_len)]).unwrap_or("?")
    }

    /// The capacity in MiB (rounded down).
    pub fn mib(&self) -> u64 {
        self.sectors / 2048
    }
}

/// The largest LBA28 capacity a device may report (words 60..=61).
const LBA28_MAX: u64 = 0x0fff_ffff;

/// Builds IDENTIFY data, for tests of the driver and of this parser.
#[cfg(test)]
pub fn sample(model: &str, sectors: u64, lba48: bool) -> [u8; SECTOR_SIZE] {
    let mut words = [0u16; 256];
    words[0] = 0x0040;
    for (i, pair) in model.as_bytes().chunks(2).take(MODEL_LEN / 2).enumerate() {
        let hi = pair[0];
        let lo = pair.get(1).copied().unwrap_or(b' ');
        words[27 + i] = u16::from_be_bytes([hi, lo]);
    }
    for w in words[27 + model.len().div_ceil(2).min(20)..47].iter_mut() {
        *w = 0x2020;
    }
    for (i, w) in words[10..20].iter_mut().enumerate() {
        *w = u16::from_be_bytes([b'Q', b'0' + i as u8]);
    }
    words[49] = 1 << 9;
    let lba28 = sectors.min(LBA28_MAX);
    words[60] = lba28 as u16;
    words[61] = (lba28 >> 16) as u16;
    words[83] = 0x4000 | (1 << 12) | if lba48 { 1 << 10 } else { 0 };
    if lba48 {
        for (i, w) in words[100..104].iter_mut().enumerate() {
            *w = (sectors >> (16 * i)) as u16;
        }
    }
    let mut data = [0u8; SECTOR_SIZE];
    for (i, w) in words.iter().enumerate() {
        data[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_serial_and_lba28_capacity() {
        let id = Identity::parse(&sample("QEMU HARDDISK", 98_304, false)).unwrap();
        assert_eq!(id.model(), "QEMU HARDDISK");
        assert_eq!(id.serial(), "Q0Q1Q2Q3Q4Q5Q6Q7Q8Q9");
        assert_eq!(id.sectors, 98_304);
        assert!(!id.lba48);
        assert_eq!(id.mib(), 48);
    }

    #[test]
    fn lba48_capacity_wins_when_supported() {
        let id = Identity::parse(&sample("BIG", 1 << 33, true)).unwrap();
        assert_eq!(id.sectors, 1 << 33);
        assert!(id.lba48);
        let small = Identity::parse(&sample("BIG", 1 << 33, false)).unwrap();
        assert_eq!(small.sectors, LBA28_MAX);
    }

    #[test]
    fn word_83_counts_only_when_marked_valid() {
        let mut data = sample("X", 1 << 30, true);
        data[2 * 83 + 1] = 0xc4; // bits 15:14 = 11: not valid
        let id = Identity::parse(&data).unwrap();
        assert!(!id.lba48);
        assert_eq!(id.sectors, LBA28_MAX);
    }

    #[test]
    fn strings_are_cleaned() {
        let mut data = sample("AB", 8, false);
        data[2 * 27] = 0x07; // low byte of word 27: the second character
        data[2 * 28 + 1] = 0xff; // high byte of word 28: the third character
        let id = Identity::parse(&data).unwrap();
        assert_eq!(id.model(), "A??");
    }

    #[test]
    fn non_ata_and_chs_only_devices_are_refused() {
        let mut data = sample("CD", 8, false);
        data[1] = 0x85;
        assert!(matches!(
            Identity::parse(&data),
            Err(AtaError::NotAta { .. })
        ));
        let mut data = sample("OLD", 8, false);
        data[2 * 49 + 1] = 0;
        assert_eq!(Identity::parse(&data), Err(AtaError::NoLba));
    }
}
