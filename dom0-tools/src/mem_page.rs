//! A shared page in ordinary memory, as both ends of a ring see it: the host tests' `RingMemory` (and `SharedRingMemory` with the default barriers: one thread).

use alloc::vec;
use alloc::vec::Vec;

use crate::console_ring::RingMemory;
use crate::shared_ring::SharedRingMemory;

/// One 4096-byte page of zeroes to start with.
pub struct Page(pub Vec<u8>);

impl Page {
    /// A zeroed page.
    pub fn new() -> Self {
        Page(vec![0; 4096])
    }
}

impl RingMemory for Page {
    fn read_u8(&self, offset: usize) -> u8 {
        self.0[offset]
    }
    fn write_u8(&mut self, offset: usize, value: u8) {
        self.0[offset] = value;
    }
    fn read_u32(&self, offset: usize) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.0[offset..offset + 4]);
        u32::from_le_bytes(b)
    }
    fn write_u32(&mut self, offset: usize, value: u32) {
        self.0[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }
}

impl SharedRingMemory for Page {}
