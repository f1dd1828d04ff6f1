//! A block device as the backends see it: whole 512-byte sectors read, written and flushed (stand-in until the disk driver's version lands).

use alloc::vec;
use alloc::vec::Vec;

/// Bytes in a sector.
const SECTOR: usize = 512;

/// Why a block operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The sectors asked for are not all on the device (or the buffer is not whole sectors).
    OutOfRange,
    /// The device failed.
    Io,
}

/// A device of 512-byte sectors; buffer lengths are multiples of 512.
pub trait BlockStore {
    /// Size in sectors.
    fn sectors(&self) -> u64;
    /// Reads `buf.len() / 512` sectors from `sector` on.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `buf.len() / 512` sectors from `sector` on.
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError>;
    /// Makes every completed write durable.
    fn flush(&mut self) -> Result<(), BlockError>;
}

/// A disk in memory.
pub struct MemDisk {
    /// The disk's bytes.
    pub bytes: Vec<u8>,
}

impl MemDisk {
    /// A zeroed disk of `sectors` sectors.
    pub fn new(sectors: u64) -> Self {
        MemDisk {
            bytes: vec![0; sectors as usize * SECTOR],
        }
    }

    fn range(&self, sector: u64, len: usize) -> Result<core::ops::Range<usize>, BlockError> {
        if !len.is_multiple_of(SECTOR) {
            return Err(BlockError::OutOfRange);
        }
        let start = usize::try_from(sector)
            .ok()
            .and_then(|s| s.checked_mul(SECTOR))
            .ok_or(BlockError::OutOfRange)?;
        let end = start.checked_add(len).ok_or(BlockError::OutOfRange)?;
        if end > self.bytes.len() {
            return Err(BlockError::OutOfRange);
        }
        Ok(start..end)
    }
}

impl BlockStore for MemDisk {
    fn sectors(&self) -> u64 {
        (self.bytes.len() / SECTOR) as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let r = self.range(sector, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        let r = self.range(sector, buf.len())?;
        self.bytes[r].copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
}
