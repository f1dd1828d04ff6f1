//! Bytes received on the serial line, kept for the hardware domain until CONSOLEIO_read (Xen's serial_rx ring).

/// Bytes kept (Xen's `SERIAL_RX_SIZE` is 128 too). A power of two, for the index mask.
pub const SERIAL_RX_SIZE: usize = 128;

const _: () = assert!(SERIAL_RX_SIZE.is_power_of_two());

/// A ring of received bytes with free-running indices, as Xen keeps it: `prod` counts every
/// byte ever stored, `cons` every byte ever taken. Unlike Xen, a full ring refuses the byte
/// instead of dropping it, so that the caller leaves it in the UART (whose FIFO then holds
/// the rest and pushes back on the sender).
pub struct SerialRx {
    buf: [u8; SERIAL_RX_SIZE],
    prod: u32,
    cons: u32,
}

impl Default for SerialRx {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialRx {
    /// An empty ring.
    pub const fn new() -> Self {
        SerialRx {
            buf: [0; SERIAL_RX_SIZE],
            prod: 0,
            cons: 0,
        }
    }

    /// Bytes waiting to be read.
    pub fn len(&self) -> usize {
        self.prod.wrapping_sub(self.cons) as usize
    }

    /// Whether no byte waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring takes no more bytes until some are read.
    pub fn is_full(&self) -> bool {
        self.len() >= SERIAL_RX_SIZE
    }

    /// Stores `byte`; false (and nothing stored) when the ring is full.
    pub fn push(&mut self, byte: u8) -> bool {
        if self.is_full() {
            return false;
        }
        self.buf[self.prod as usize % SERIAL_RX_SIZE] = byte;
        self.prod = self.prod.wrapping_add(1);
        true
    }

    /// Copies the oldest bytes into `out`, as many as fit and wait, leaving them in the ring;
    /// returns how many.
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        for (i, slot) in out[..n].iter_mut().enumerate() {
            *slot = self.buf[self.cons.wrapping_add(i as u32) as usize % SERIAL_RX_SIZE];
        }
        n
    }

    /// Drops the `n` oldest bytes (at most all of them), once a reader has them.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.cons = self.cons.wrapping_add(n as u32);
    }

    /// Moves the oldest bytes into `out`, as many as fit and wait; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(out);
        self.consume(n);
        n
    }

    /// Stores bytes from `next` until it returns `None` or the ring is full; returns how many
    /// were stored. `next` is not called once the ring is full, so no byte is taken and lost.
    pub fn fill_from(&mut self, mut next: impl FnMut() -> Option<u8>) -> usize {
        let mut stored = 0;
        while !self.is_full() {
            let Some(byte) = next() else { break };
            self.push(byte);
            stored += 1;
        }
        stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_xens() {
        assert_eq!(SERIAL_RX_SIZE, 128);
    }

    #[test]
    fn bytes_come_out_in_order() {
        let mut rx = SerialRx::new();
        assert!(rx.is_empty());
        for b in b"hello" {
            assert!(rx.push(*b));
        }
        assert_eq!(rx.len(), 5);
        let mut out = [0u8; 3];
        assert_eq!(rx.read(&mut out), 3);
        assert_eq!(&out, b"hel");
        let mut out = [0u8; 8];
        assert_eq!(rx.read(&mut out), 2);
        assert_eq!(&out[..2], b"lo");
        assert_eq!(rx.read(&mut out), 0);
        assert!(rx.is_empty());
    }

    #[test]
    fn a_full_ring_refuses_without_losing_anything() {
        let mut rx = SerialRx::new();
        for i in 0..SERIAL_RX_SIZE {
            assert!(rx.push(i as u8));
        }
        assert!(rx.is_full());
        assert!(!rx.push(0xff));
        let mut out = [0u8; SERIAL_RX_SIZE + 4];
        assert_eq!(rx.read(&mut out), SERIAL_RX_SIZE);
        assert!(
            out[..SERIAL_RX_SIZE]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == i as u8)
        );
    }

    #[test]
    fn fill_stops_taking_when_full() {
        let mut rx = SerialRx::new();
        let source: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
        let mut at = 0;
        let stored = rx.fill_from(|| {
            let b = source.get(at).copied();
            at += 1;
            b
        });
        assert_eq!(stored, SERIAL_RX_SIZE);
        // Exactly the stored bytes were taken from the source: the rest stays there.
        assert_eq!(at, SERIAL_RX_SIZE);
        let mut out = [0u8; 10];
        assert_eq!(rx.read(&mut out), 10);
        let stored = rx.fill_from(|| {
            let b = source.get(at).copied();
            at += 1;
            b
        });
        assert_eq!(stored, 10);
        let mut all = [0u8; SERIAL_RX_SIZE];
        assert_eq!(rx.read(&mut all), SERIAL_RX_SIZE);
        assert_eq!(&all[..], &source[10..SERIAL_RX_SIZE + 10]);
    }

    #[test]
    fn fill_stops_when_the_source_is_dry() {
        let mut rx = SerialRx::new();
        let mut left = 3;
        let stored = rx.fill_from(|| {
            (left > 0).then(|| {
                left -= 1;
                b'x'
            })
        });
        assert_eq!(stored, 3);
        assert_eq!(rx.len(), 3);
    }

    #[test]
    fn peek_leaves_the_bytes_until_consumed() {
        let mut rx = SerialRx::new();
        for b in b"abc" {
            assert!(rx.push(*b));
        }
        let mut out = [0u8; 2];
        assert_eq!(rx.peek(&mut out), 2);
        assert_eq!(&out, b"ab");
        assert_eq!(rx.len(), 3);
        rx.consume(1);
        assert_eq!(rx.peek(&mut out), 2);
        assert_eq!(&out, b"bc");
        rx.consume(10);
        assert!(rx.is_empty());
    }

    #[test]
    fn indices_wrap_around_u32() {
        let mut rx = SerialRx {
            buf: [0; SERIAL_RX_SIZE],
            prod: u32::MAX - 1,
            cons: u32::MAX - 1,
        };
        for b in b"abcd" {
            assert!(rx.push(*b));
        }
        assert_eq!(rx.len(), 4);
        let mut out = [0u8; 4];
        assert_eq!(rx.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert!(rx.is_empty());
    }
}
