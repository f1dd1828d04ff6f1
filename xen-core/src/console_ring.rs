//! The hypervisor's console history (Xen's conring), which sysctl readconsole (`xl dmesg`) reads.

/// Bytes kept: the newest this many bytes of console output (Xen's default is 16 KiB too).
pub const CONRING_SIZE: usize = 16 * 1024;

/// A ring of the last [`CONRING_SIZE`] bytes written, with Xen's free-running indices: `prod`
/// counts every byte ever written, `cons` is the oldest byte a reader still gets.
pub struct ConsoleRing {
    buf: [u8; CONRING_SIZE],
    prod: u32,
    cons: u32,
}

impl Default for ConsoleRing {
    fn default() -> Self {
        Self::new()
    }
}

/// What one read returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadResult {
    /// Bytes copied.
    pub count: usize,
    /// Where an incremental reader continues.
    pub next_index: u32,
}

impl ConsoleRing {
    /// An empty ring.
    pub const fn new() -> Self {
        Self {
            buf: [0; CONRING_SIZE],
            prod: 0,
            cons: 0,
        }
    }

    /// Appends `bytes`; the oldest bytes fall out once the ring is full.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.buf[self.prod as usize % CONRING_SIZE] = b;
            self.prod = self.prod.wrapping_add(1);
        }
        if self.prod.wrapping_sub(self.cons) as usize > CONRING_SIZE {
            self.cons = self.prod.wrapping_sub(CONRING_SIZE as u32);
        }
    }

    /// Copies into `out` what a reader gets: everything kept, or (`incremental`) what came
    /// after `index` (from the oldest kept byte if `index` fell out or lies ahead). `clear`
    /// then forgets everything written so far. Xen's readconsole semantics.
    pub fn read(
        &mut self,
        out: &mut [u8],
        incremental: bool,
        index: u32,
        clear: bool,
    ) -> ReadResult {
        let kept = self.prod.wrapping_sub(self.cons);
        let mut at = self.cons;
        if incremental && index.wrapping_sub(self.cons) <= kept {
            at = index;
        }
        let mut count = 0;
        while at != self.prod && count < out.len() {
            out[count] = self.buf[at as usize % CONRING_SIZE];
            count += 1;
            at = at.wrapping_add(1);
        }
        if clear {
            self.cons = self.prod;
        }
        ReadResult {
            count,
            next_index: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(r: &mut ConsoleRing) -> Vec<u8> {
        let mut out = vec![0; CONRING_SIZE * 2];
        let n = r.read(&mut out, false, 0, false).count;
        out.truncate(n);
        out
    }

    #[test]
    fn reads_what_was_written() {
        let mut r = ConsoleRing::new();
        r.write(b"(XEN) hello\n");
        assert_eq!(read_all(&mut r), b"(XEN) hello\n");
        assert_eq!(read_all(&mut r), b"(XEN) hello\n", "a plain read keeps it");
    }

    #[test]
    fn keeps_only_the_newest_bytes() {
        let mut r = ConsoleRing::new();
        for i in 0..(CONRING_SIZE + 100) {
            r.write(&[(i % 251) as u8]);
        }
        let all = read_all(&mut r);
        assert_eq!(all.len(), CONRING_SIZE);
        assert_eq!(all[0], 100);
        assert_eq!(*all.last().unwrap(), ((CONRING_SIZE + 99) % 251) as u8);
    }

    #[test]
    fn incremental_reads_continue_where_they_stopped() {
        let mut r = ConsoleRing::new();
        r.write(b"abcdef");
        let mut out = [0u8; 4];
        let first = r.read(&mut out, true, 0, false);
        assert_eq!((first.count, &out[..4]), (4, &b"abcd"[..]));
        let second = r.read(&mut out, true, first.next_index, false);
        assert_eq!((second.count, &out[..2]), (2, &b"ef"[..]));
        assert_eq!(second.next_index, 6);
        r.write(b"gh");
        let third = r.read(&mut out, true, second.next_index, false);
        assert_eq!((third.count, &out[..2]), (2, &b"gh"[..]));
    }

    #[test]
    fn a_stale_or_future_index_starts_at_the_oldest_byte() {
        let mut r = ConsoleRing::new();
        r.write(&[b'x'; CONRING_SIZE]);
        r.write(b"yz");
        let mut out = [0u8; 1];
        assert_eq!(r.read(&mut out, true, 0, false).next_index, 3);
        assert_eq!(out, *b"x");
        assert_eq!(r.read(&mut out, true, u32::MAX, false).next_index, 3);
    }

    #[test]
    fn clear_forgets_what_was_read_and_the_rest() {
        let mut r = ConsoleRing::new();
        r.write(b"old");
        let mut out = [0u8; 1];
        r.read(&mut out, false, 0, true);
        assert!(read_all(&mut r).is_empty());
        r.write(b"new");
        assert_eq!(read_all(&mut r), b"new");
    }

    #[test]
    fn an_empty_buffer_reads_nothing() {
        let mut r = ConsoleRing::new();
        r.write(b"abc");
        assert_eq!(r.read(&mut [], false, 0, false).count, 0);
    }
}
