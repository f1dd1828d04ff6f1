//! One byte ring inside a shared page (the console's and xenstore's are all this shape): produce and consume.
// The other end may be hostile: its index is read once per call, and a distance between the
// indexes larger than the ring means the ring is corrupt (the call then moves nothing).

use crate::console_ring::{Corrupt, RingMemory};

/// Where a ring lives in its page: its data, its size (a power of two) and its two indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRing {
    /// Byte offset of the data.
    pub data: usize,
    /// Bytes of data (a power of two).
    pub size: usize,
    /// Byte offset of the consumer index.
    pub cons: usize,
    /// Byte offset of the producer index.
    pub prod: usize,
}

impl ByteRing {
    /// Bytes between `cons` and `prod`, or `Corrupt`.
    pub fn pending(&self, cons: u32, prod: u32) -> Result<usize, Corrupt> {
        let n = prod.wrapping_sub(cons) as usize;
        if n > self.size {
            Err(Corrupt { cons, prod })
        } else {
            Ok(n)
        }
    }

    fn at(&self, idx: u32) -> usize {
        self.data + (idx as usize & (self.size - 1))
    }

    /// Appends as much of `bytes` as fits (we are the producer); returns how many.
    pub fn produce(&self, page: &mut dyn RingMemory, bytes: &[u8]) -> Result<usize, Corrupt> {
        let cons = page.read_u32(self.cons);
        let prod = page.read_u32(self.prod);
        let used = self.pending(cons, prod)?;
        let n = bytes.len().min(self.size - used);
        for (i, &b) in bytes[..n].iter().enumerate() {
            page.write_u8(self.at(prod.wrapping_add(i as u32)), b);
        }
        page.write_u32(self.prod, prod.wrapping_add(n as u32));
        Ok(n)
    }

    /// Moves bytes into `buf`, as many as fit, and frees them (we are the consumer); returns
    /// how many.
    pub fn consume(&self, page: &mut dyn RingMemory, buf: &mut [u8]) -> Result<usize, Corrupt> {
        let cons = page.read_u32(self.cons);
        let prod = page.read_u32(self.prod);
        let n = self.pending(cons, prod)?.min(buf.len());
        for (i, slot) in buf[..n].iter_mut().enumerate() {
            *slot = page.read_u8(self.at(cons.wrapping_add(i as u32)));
        }
        page.write_u32(self.cons, cons.wrapping_add(n as u32));
        Ok(n)
    }
}
