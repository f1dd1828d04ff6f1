//! A transfer's hardware side for dom0-tools' blkif engine: the ring page, event notifications, waiting with SCHEDOP_poll, and the data the pool pages carry (a seed's pattern out, a CRC-32 of what comes in).

use dom0_tools::blk_data::{Crc32, fill_pattern};
use dom0_tools::blkfront::{TransferIo, WaitError};
use dom0_tools::shared_ring::SharedRingMemory;

use super::connection::Link;
use crate::arch::x86_64::page_pool::PAGE;
use crate::arch::x86_64::{shared_events, toolstack_calls};

/// How long we wait for the backend's next event (system time).
pub const WAIT_NS: u64 = 10_000_000_000;

/// What the data of a transfer is.
pub enum Data {
    /// Nothing is touched (a benchmark moves the pages as they are).
    Untouched,
    /// A write of the pattern of `seed`; the CRC-32 of what was written.
    Pattern {
        /// The pattern's seed.
        seed: u64,
        /// Disk byte offset of the next byte.
        disk_offset: u64,
        /// Checksum so far.
        crc: Crc32,
    },
    /// A read; the CRC-32 of what came and its first 16 bytes.
    Check {
        /// Checksum so far.
        crc: Crc32,
        /// The first bytes read.
        first: [u8; 16],
        /// How many of them.
        first_len: usize,
    },
}

/// The ring, pool and port of a connection, with the data of one transfer.
pub struct RingIo<'a> {
    link: &'a mut Link,
    /// The transfer's data.
    pub data: Data,
    buf: [u8; PAGE],
}

impl<'a> RingIo<'a> {
    /// A transfer over `link` with `data`.
    pub fn new(link: &'a mut Link, data: Data) -> Self {
        RingIo {
            link,
            data,
            buf: [0; PAGE],
        }
    }
}

impl TransferIo for RingIo<'_> {
    fn ring(&mut self) -> &mut dyn SharedRingMemory {
        &mut self.link.ring
    }

    fn notify(&mut self) {
        let _ = toolstack_calls::evtchn_send(self.link.port);
    }

    fn wait(&mut self) -> Result<(), WaitError> {
        let port = self.link.port;
        let deadline = shared_events::system_time_ns()
            .ok_or(WaitError::Failed(-1))?
            .saturating_add(WAIT_NS);
        loop {
            if shared_events::take_pending(port) {
                self.link.events += 1;
                return Ok(());
            }
            let now = shared_events::system_time_ns().unwrap_or(u64::MAX);
            if now >= deadline {
                return Err(WaitError::Timeout);
            }
            let ret = toolstack_calls::sched_poll(&[port], deadline);
            if ret < 0 {
                return Err(WaitError::Failed(ret));
            }
        }
    }

    fn fill(&mut self, page: usize, len: usize) {
        let len = len.min(PAGE);
        if let Data::Pattern {
            seed,
            disk_offset,
            crc,
        } = &mut self.data
        {
            fill_pattern(*seed, *disk_offset, &mut self.buf[..len]);
            crc.update(&self.buf[..len]);
            *disk_offset += len as u64;
            if let Some(p) = self.link.pool.get_mut(page) {
                p.write(0, &self.buf[..len]);
            }
        }
    }

    fn consume(&mut self, page: usize, len: usize) {
        let len = len.min(PAGE);
        if let Data::Check {
            crc,
            first,
            first_len,
        } = &mut self.data
        {
            let Some(p) = self.link.pool.get(page) else {
                return;
            };
            p.read(0, &mut self.buf[..len]);
            crc.update(&self.buf[..len]);
            let take = (first.len() - *first_len).min(len);
            first[*first_len..*first_len + take].copy_from_slice(&self.buf[..take]);
            *first_len += take;
        }
    }
}
