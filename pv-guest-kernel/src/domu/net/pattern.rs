//! What `tcp send` sends: a byte pattern from a seed (both ends sum it with `blk_data`'s CRC-32, IEEE as zlib's crc32).
// The integration test computes the same pattern and checksum on the host to check both ends.

/// The running CRC-32 both ends sum with: the block tools' one.
pub use dom0_tools::blk_data::Crc32;

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
