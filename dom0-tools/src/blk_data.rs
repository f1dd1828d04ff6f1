//! The bytes the DomU's `blk` commands write and check: a pattern derived from a seed and the disk offset, and the CRC-32 they print.
// CRC-32 is the IEEE 802.3 / zlib one (reflected polynomial 0xEDB88320, initial value and final
// xor 0xFFFFFFFF): `python3 -c 'import zlib; print(hex(zlib.crc32(data)))'` gives the same
// number, so a test can check a disk image on the host. The pattern of a byte depends only on
// the seed and the byte's offset on the disk, so a write of a range and a later read of any
// part of it agree.

/// The reflected CRC-32 polynomial (IEEE 802.3, zlib).
const POLY: u32 = 0xEDB8_8320;

/// The byte-at-a-time table of the polynomial.
const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// A CRC-32 being computed over bytes fed in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32(u32);

impl Crc32 {
    /// Nothing fed yet.
    pub const fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of everything fed.
    pub const fn value(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// The CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.value()
}

/// splitmix64's mixing step: spreads every input bit over the output.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 8 pattern bytes of `seed` at disk byte offset `word_offset` (a multiple of 8).
pub fn pattern_word(seed: u64, word_offset: u64) -> [u8; 8] {
    mix(mix(seed).wrapping_add(word_offset / 8)).to_le_bytes()
}

/// Fills `buf` with the pattern of `seed` for the disk bytes starting at `disk_offset` (a
/// multiple of 8, as every sector boundary is).
pub fn fill_pattern(seed: u64, disk_offset: u64, buf: &mut [u8]) {
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let word = pattern_word(seed, disk_offset + i as u64 * 8);
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        // zlib.crc32 of these inputs.
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(&[0u8; 512]), 0xB2AA_7578);
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.value(), 0xCBF4_3926, "fed in pieces");
    }

    #[test]
    fn the_pattern_depends_on_the_disk_offset_only() {
        let mut whole = [0u8; 1024];
        fill_pattern(7, 4096, &mut whole);
        let mut tail = [0u8; 512];
        fill_pattern(7, 4096 + 512, &mut tail);
        assert_eq!(&whole[512..], &tail[..]);
        let mut other = [0u8; 1024];
        fill_pattern(8, 4096, &mut other);
        assert_ne!(whole, other, "another seed, other bytes");
        assert_ne!(whole[..8], whole[8..16], "words differ");
        let mut short = [0u8; 13];
        fill_pattern(7, 4096, &mut short);
        assert_eq!(short, whole[..13]);
    }
}
