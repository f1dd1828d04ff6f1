//! What `tcp send` sends and how both ends sum it: a byte pattern from a seed, and CRC-32 (IEEE, as zlib's crc32).
// The integration test computes the same pattern and checksum on the host to check both ends.

/// The reflected IEEE polynomial.
const POLY: u32 = 0xedb8_8320;

/// The table of CRC-32 remainders of each byte value.
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

/// A running CRC-32.
#[derive(Clone, Copy, Debug)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32(0xffff_ffff)
    }
}

impl Crc32 {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of everything added.
    pub const fn value(&self) -> u32 {
        !self.0
    }
}

/// Byte `i` of the pattern for `seed`.
pub const fn byte(i: u64, seed: u64) -> u8 {
    (i ^ (i >> 8) ^ (i >> 16))
        .wrapping_mul(31)
        .wrapping_add(seed.wrapping_mul(0x9e37)) as u8
}

/// Fills `buf` with the pattern from byte `at` on.
pub fn fill(buf: &mut [u8], at: u64, seed: u64) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = byte(at + k as u64, seed);
    }
}
