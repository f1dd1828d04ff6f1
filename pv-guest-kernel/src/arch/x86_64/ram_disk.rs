//! Dom0's RAM disk `/dev/ram0`: free frames of ours (outside the initial mapping) holding the sectors, moved to and from the staging pages with frame-to-frame GNTTABOP_copy.
// The frames are mapped nowhere, so no Rust object lives in them; a copy writes either one of
// them or the staging pages (`backend_grants::staging_frame_at` checks that the buffer lies
// there and names its frames), whose borrow the caller holds for the call.

use alloc::vec::Vec;

use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::grant_table::{GNTST_OKAY, GNTTABOP_COPY, GnttabCopy, GnttabCopyPtr};
use hypercall_abi::hypercall::Hypercall;

use dom0_tools::block_store::{BlockError, BlockStore, check_range};

use super::backend_grants::staging_frame_at;
use super::calls::hc;
use super::frames;

/// Bytes in a page.
const PAGE: usize = 4096;
/// Bytes in a sector.
const SECTOR: usize = 512;
/// Copy elements per hypercall.
const BATCH: usize = 32;

/// A disk in free frames of ours.
pub struct RamDisk {
    frames: Vec<u64>,
}

impl RamDisk {
    /// A disk of up to `pages` free frames (fewer if we run out; `None` if none). Its
    /// contents are whatever the frames held: the caller zeroes it through `write`.
    pub fn new(pages: usize) -> Option<RamDisk> {
        let mut frames = Vec::new();
        frames.try_reserve(pages).ok()?;
        while frames.len() < pages {
            match frames::take_free() {
                Some(f) => frames.push(f.mfn),
                None => break,
            }
        }
        (!frames.is_empty()).then_some(RamDisk { frames })
    }

    /// Copies `len` bytes at disk byte `at` to or from the staging buffer at `buf`.
    fn transfer(
        &mut self,
        at: usize,
        buf: u64,
        len: usize,
        to_disk: bool,
    ) -> Result<(), BlockError> {
        let mut ops = [GnttabCopy::default(); BATCH];
        let mut n = 0;
        let mut done = 0;
        while done < len {
            let disk_off = at + done;
            let buf_va = buf + done as u64;
            let (stage_mfn, stage_off) = staging_frame_at(buf_va).ok_or(BlockError::Io)?;
            let disk_mfn = *self.frames.get(disk_off / PAGE).ok_or(BlockError::Io)?;
            let chunk = (len - done)
                .min(PAGE - disk_off % PAGE)
                .min(PAGE - stage_off);
            let disk_side = GnttabCopyPtr {
                u: disk_mfn,
                domid: DOMID_SELF,
                offset: (disk_off % PAGE) as u16,
                pad: 0,
            };
            let stage_side = GnttabCopyPtr {
                u: stage_mfn,
                domid: DOMID_SELF,
                offset: stage_off as u16,
                pad: 0,
            };
            let (source, dest) = if to_disk {
                (stage_side, disk_side)
            } else {
                (disk_side, stage_side)
            };
            ops[n] = GnttabCopy {
                source,
                dest,
                len: chunk as u16,
                flags: 0,
                status: 0,
                pad: 0,
            };
            n += 1;
            done += chunk;
            if n == BATCH || done == len {
                // SAFETY: live elements; each writes a RAM disk frame (mapped nowhere) or the
                // staging buffer the caller lent us (checked to lie in the staging pages).
                let ret = unsafe {
                    hc(
                        Hypercall::GrantTableOp,
                        u64::from(GNTTABOP_COPY),
                        ops.as_mut_ptr() as u64,
                        n as u64,
                        0,
                        0,
                    )
                };
                if ret != 0 || ops[..n].iter().any(|o| o.status != GNTST_OKAY) {
                    return Err(BlockError::Io);
                }
                n = 0;
            }
        }
        Ok(())
    }

    fn check(&self, sector: u64, len: usize) -> Result<usize, BlockError> {
        check_range(sector, len, self.sectors())?;
        Ok(sector as usize * SECTOR)
    }
}

impl BlockStore for RamDisk {
    fn sectors(&self) -> u64 {
        (self.frames.len() * (PAGE / SECTOR)) as u64
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let at = self.check(sector, buf.len())?;
        self.transfer(at, buf.as_mut_ptr() as u64, buf.len(), false)
    }

    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        let at = self.check(sector, buf.len())?;
        self.transfer(at, buf.as_ptr() as u64, buf.len(), true)
    }

    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
}
