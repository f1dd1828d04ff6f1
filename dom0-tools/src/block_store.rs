//! Sector-addressed storage: the `BlockStore` trait, partition views over it (`Region`), and an in-memory disk.
// Every length and sector number here may come from a guest's request (via blkback) or from a
// partition table on the disk: all arithmetic is checked and an out-of-range request is an
// error that touched nothing.

use alloc::vec::Vec;
use core::fmt;

use crate::ata::AtaError;

/// Bytes in a sector.
pub const SECTOR_SIZE: usize = 512;

/// Why a block operation was refused or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The buffer is not a whole number of sectors (or is empty).
    BadLength {
        /// The buffer's length in bytes.
        len: usize,
    },
    /// The sectors asked for are not all inside the store.
    OutOfRange {
        /// The first sector asked for.
        sector: u64,
        /// How many sectors were asked for.
        count: u64,
        /// The store's size in sectors.
        sectors: u64,
    },
    /// The device reported an error (or stopped answering).
    Device(AtaError),
    /// There was no memory for the operation.
    NoMemory,
    /// The store behind the device failed (a copy hypercall refused, say).
    Io,
}

impl From<AtaError> for BlockError {
    fn from(e: AtaError) -> Self {
        BlockError::Device(e)
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlockError::BadLength { len } => {
                write!(f, "buffer of {len} bytes is not a whole number of sectors")
            }
            BlockError::OutOfRange {
                sector,
                count,
                sectors,
            } => write!(
                f,
                "sectors {sector}+{count} are outside the device ({sectors} sectors)"
            ),
            BlockError::Device(e) => write!(f, "device error: {e}"),
            BlockError::NoMemory => f.write_str("out of memory"),
            BlockError::Io => f.write_str("I/O error"),
        }
    }
}

/// Storage addressed in 512-byte sectors. Buffer lengths are whole, non-zero numbers of
/// sectors; an implementation checks the range before it touches anything.
pub trait BlockStore {
    /// The size in sectors.
    fn sectors(&self) -> u64;
    /// Reads `buf.len() / 512` sectors starting at `sector` into `buf`.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `buf.len() / 512` sectors starting at `sector` from `buf`.
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError>;
    /// Makes every completed write durable (the device's write cache flushed).
    fn flush(&mut self) -> Result<(), BlockError>;
}

impl<T: BlockStore + ?Sized> BlockStore for &mut T {
    fn sectors(&self) -> u64 {
        (**self).sectors()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        (**self).read(sector, buf)
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        (**self).write(sector, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        (**self).flush()
    }
}

/// The number of sectors in a buffer of `len` bytes, if it is a whole, non-zero number.
pub fn sectors_in(len: usize) -> Result<u64, BlockError> {
    if len == 0 || !len.is_multiple_of(SECTOR_SIZE) {
        return Err(BlockError::BadLength { len });
    }
    Ok((len / SECTOR_SIZE) as u64)
}

/// Checks that a buffer of `len` bytes at `sector` lies inside a store of `sectors` sectors;
/// the number of sectors it covers.
pub fn check_range(sector: u64, len: usize, sectors: u64) -> Result<u64, BlockError> {
    let count = sectors_in(len)?;
    match sector.checked_add(count) {
        Some(end) if end <= sectors => Ok(count),
        _ => Err(BlockError::OutOfRange {
            sector,
            count,
            sectors,
        }),
    }
}

/// A window of `sectors` sectors starting at `first` in `store` (a partition): sector 0 of the
/// region is sector `first` of the store, and nothing outside the window can be reached.
#[derive(Debug)]
pub struct Region<S: BlockStore> {
    store: S,
    first: u64,
    sectors: u64,
}

impl<S: BlockStore> Region<S> {
    /// The window `first..first + sectors` of `store`; an error if it does not fit.
    pub fn new(store: S, first: u64, sectors: u64) -> Result<Self, BlockError> {
        match first.checked_add(sectors) {
            Some(end) if end <= store.sectors() => Ok(Region {
                store,
                first,
                sectors,
            }),
            _ => Err(BlockError::OutOfRange {
                sector: first,
                count: sectors,
                sectors: store.sectors(),
            }),
        }
    }

    /// The store sector where the region starts.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The store underneath.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }
}

impl<S: BlockStore> BlockStore for Region<S> {
    fn sectors(&self) -> u64 {
        self.sectors
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        check_range(sector, buf.len(), self.sectors)?;
        // Cannot overflow: sector + count <= self.sectors and first + sectors fits.
        self.store.read(self.first + sector, buf)
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        check_range(sector, buf.len(), self.sectors)?;
        self.store.write(self.first + sector, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.store.flush()
    }
}

/// A disk in memory, for tests: its bytes, a count of flushes, and sectors that fail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemDisk {
    bytes: Vec<u8>,
    /// Flushes done so far.
    pub flushes: u64,
    /// Reads that touch this sector fail with a device error.
    pub bad_read: Option<u64>,
    /// Writes that touch this sector fail with a device error (and write nothing).
    pub bad_write: Option<u64>,
}

impl MemDisk {
    /// A zeroed disk of `sectors` sectors; `NoMemory` if it cannot be allocated.
    pub fn new(sectors: u64) -> Result<Self, BlockError> {
        let len = usize::try_from(sectors)
            .ok()
            .and_then(|s| s.checked_mul(SECTOR_SIZE))
            .ok_or(BlockError::NoMemory)?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(len)
            .map_err(|_| BlockError::NoMemory)?;
        bytes.resize(len, 0);
        Ok(MemDisk {
            bytes,
            ..MemDisk::default()
        })
    }

    /// A disk holding `bytes` (padded with zeroes to a whole sector).
    pub fn from_bytes(mut bytes: Vec<u8>) -> Self {
        let whole = bytes.len().div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
        bytes.resize(whole, 0);
        MemDisk {
            bytes,
            ..MemDisk::default()
        }
    }

    /// The disk's contents.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn span(&self, sector: u64, len: usize) -> Result<core::ops::Range<usize>, BlockError> {
        check_range(sector, len, self.sectors())?;
        // In range of a Vec, so these fit in usize.
        let start = sector as usize * SECTOR_SIZE;
        Ok(start..start + len)
    }

    fn touches(bad: Option<u64>, sector: u64, len: usize) -> bool {
        bad.is_some_and(|b| b >= sector && b < sector + (len / SECTOR_SIZE) as u64)
    }
}

impl BlockStore for MemDisk {
    fn sectors(&self) -> u64 {
        (self.bytes.len() / SECTOR_SIZE) as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let span = self.span(sector, buf.len())?;
        if Self::touches(self.bad_read, sector, buf.len()) {
            return Err(BlockError::Device(AtaError::injected()));
        }
        buf.copy_from_slice(&self.bytes[span]);
        Ok(())
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        let span = self.span(sector, buf.len())?;
        if Self::touches(self.bad_write, sector, buf.len()) {
            return Err(BlockError::Device(AtaError::injected()));
        }
        self.bytes[span].copy_from_slice(buf);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.flushes += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn numbered(sectors: u64) -> MemDisk {
        let mut disk = MemDisk::new(sectors).unwrap();
        for s in 0..sectors {
            disk.write(s, &[s as u8; SECTOR_SIZE]).unwrap();
        }
        disk
    }

    #[test]
    fn lengths_must_be_whole_sectors() {
        let mut disk = MemDisk::new(4).unwrap();
        assert_eq!(
            disk.read(0, &mut [0; 100]),
            Err(BlockError::BadLength { len: 100 })
        );
        assert_eq!(disk.write(0, &[]), Err(BlockError::BadLength { len: 0 }));
        assert_eq!(sectors_in(1024), Ok(2));
    }

    #[test]
    fn reads_past_the_end_are_refused() {
        let mut disk = numbered(4);
        let mut buf = [0u8; 1024];
        assert_eq!(
            disk.read(3, &mut buf),
            Err(BlockError::OutOfRange {
                sector: 3,
                count: 2,
                sectors: 4
            })
        );
        assert!(matches!(
            disk.read(u64::MAX, &mut buf[..512]),
            Err(BlockError::OutOfRange { .. })
        ));
        disk.read(2, &mut buf).unwrap();
        assert!(buf[..512].iter().all(|&b| b == 2));
        assert!(buf[512..].iter().all(|&b| b == 3));
    }

    #[test]
    fn a_region_shifts_and_bounds_every_access() {
        let mut disk = numbered(10);
        let mut part = Region::new(&mut disk, 4, 3).unwrap();
        assert_eq!(part.sectors(), 3);
        let mut buf = [0u8; 512];
        part.read(0, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 4));
        part.write(2, &[0xaa; 512]).unwrap();
        assert!(matches!(
            part.write(3, &[0; 512]),
            Err(BlockError::OutOfRange {
                sector: 3,
                count: 1,
                sectors: 3
            })
        ));
        assert!(matches!(
            part.read(2, &mut [0; 1024]),
            Err(BlockError::OutOfRange { .. })
        ));
        part.flush().unwrap();
        assert_eq!(disk.flushes, 1);
        assert!(disk.bytes()[6 * 512..7 * 512].iter().all(|&b| b == 0xaa));
        assert!(disk.bytes()[7 * 512..8 * 512].iter().all(|&b| b == 7));
    }

    #[test]
    fn a_region_must_fit_its_store() {
        let disk = MemDisk::new(10).unwrap();
        assert!(Region::new(disk.clone(), 5, 5).is_ok());
        assert_eq!(
            Region::new(disk.clone(), 5, 6).unwrap_err(),
            BlockError::OutOfRange {
                sector: 5,
                count: 6,
                sectors: 10
            }
        );
        assert!(Region::new(disk, u64::MAX, 2).is_err());
    }

    #[test]
    fn nested_regions_compose() {
        let mut disk = numbered(10);
        let outer = Region::new(&mut disk, 2, 6).unwrap();
        let mut inner = Region::new(outer, 1, 2).unwrap();
        let mut buf = [0u8; 1024];
        inner.read(0, &mut buf).unwrap();
        assert_eq!((buf[0], buf[512]), (3, 4));
        assert_eq!(inner.first(), 1);
    }

    #[test]
    fn injected_errors_touch_nothing() {
        let mut disk = numbered(4);
        disk.bad_write = Some(2);
        assert!(matches!(
            disk.write(1, &[9; 1024]),
            Err(BlockError::Device(_))
        ));
        assert!(disk.bytes()[512..1024].iter().all(|&b| b == 1));
        disk.bad_read = Some(0);
        assert!(matches!(
            disk.read(0, &mut [0; 512]),
            Err(BlockError::Device(_))
        ));
        assert!(disk.read(1, &mut [0; 512]).is_ok());
    }

    #[test]
    fn from_bytes_pads_to_a_sector() {
        let disk = MemDisk::from_bytes(vec![1; 700]);
        assert_eq!(disk.sectors(), 2);
        assert_eq!(disk.bytes()[699..701], [1, 0]);
    }

    #[test]
    fn huge_disks_are_refused_not_aborted() {
        assert_eq!(MemDisk::new(u64::MAX).unwrap_err(), BlockError::NoMemory);
    }
}
