//! A DomU's recent console output, kept by Dom0 for `xl console` (the last few KiB, oldest dropped first).

use alloc::vec::Vec;

/// Bytes kept per console.
pub const HISTORY_BYTES: usize = 8192;

/// The last [`HISTORY_BYTES`] bytes a console produced.
#[derive(Clone, Debug, Default)]
pub struct ConsoleHistory {
    buf: Vec<u8>,
    /// Where the next byte goes once the buffer is full (the oldest byte's index).
    head: usize,
    /// Bytes ever pushed.
    total: u64,
}

impl ConsoleHistory {
    /// Empty.
    pub const fn new() -> Self {
        ConsoleHistory {
            buf: Vec::new(),
            head: 0,
            total: 0,
        }
    }

    /// Appends `byte`, dropping the oldest byte when full. A failed allocation drops the byte
    /// instead (the history is a convenience, never worth a panic).
    pub fn push(&mut self, byte: u8) {
        self.total += 1;
        if self.buf.len() < HISTORY_BYTES {
            if self.buf.try_reserve(1).is_ok() {
                self.buf.push(byte);
            }
            return;
        }
        self.buf[self.head] = byte;
        self.head = (self.head + 1) % HISTORY_BYTES;
    }

    /// Bytes ever pushed (also those no longer kept).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept bytes, oldest first, as two slices.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        let (newer, older) = self.buf.split_at(self.head);
        (older, newer)
    }

    /// Forgets everything kept.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(h: &ConsoleHistory) -> Vec<u8> {
        let (a, b) = h.as_slices();
        [a, b].concat()
    }

    #[test]
    fn keeps_everything_until_full() {
        let mut h = ConsoleHistory::new();
        for &b in b"hello\n" {
            h.push(b);
        }
        assert_eq!(kept(&h), b"hello\n");
        assert_eq!(h.total(), 6);
    }

    #[test]
    fn drops_the_oldest_bytes_when_full() {
        let mut h = ConsoleHistory::new();
        for i in 0..HISTORY_BYTES + 3 {
            h.push((i % 251) as u8);
        }
        let k = kept(&h);
        assert_eq!(k.len(), HISTORY_BYTES);
        assert_eq!(k[0], 3);
        assert_eq!(*k.last().unwrap(), ((HISTORY_BYTES + 2) % 251) as u8);
        assert_eq!(h.total(), (HISTORY_BYTES + 3) as u64);
        h.clear();
        assert!(kept(&h).is_empty());
    }
}
