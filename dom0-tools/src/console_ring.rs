//! Both ends of the PV console ring (io/console.h): the DomU writes output and reads input, Dom0 the reverse.
// The page is shared with the other end, which may be hostile: each index the other end owns
// is read once per call, and a distance between the indexes larger than the ring means the
// ring is corrupt (the call then moves nothing and says so).

use core::mem::offset_of;

use hypercall_abi::io_console::{XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface, mask_out};

use crate::byte_ring::ByteRing;

/// Byte offset of the input ring in the page.
const IN: usize = offset_of!(XenconsInterface, in_);
/// Byte offset of the output ring in the page.
const OUT: usize = offset_of!(XenconsInterface, out);
const IN_CONS: usize = offset_of!(XenconsInterface, in_cons);
const IN_PROD: usize = offset_of!(XenconsInterface, in_prod);
const OUT_CONS: usize = offset_of!(XenconsInterface, out_cons);
const OUT_PROD: usize = offset_of!(XenconsInterface, out_prod);

/// The console page, as one end sees it. Implementations access the shared page in program
/// order (volatile accesses on x86, whose stores and loads are not reordered with each other
/// in the ways that matter here), so data written before an index is visible before it.
pub trait RingMemory {
    /// Reads the byte at `offset` (< 4096).
    fn read_u8(&self, offset: usize) -> u8;
    /// Writes the byte at `offset` (< 4096).
    fn write_u8(&mut self, offset: usize, value: u8);
    /// Reads the 4-byte-aligned u32 at `offset`.
    fn read_u32(&self, offset: usize) -> u32;
    /// Writes the 4-byte-aligned u32 at `offset`.
    fn write_u32(&mut self, offset: usize, value: u32);
}

/// The other end left indexes further apart than the ring is long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// The consumer index read.
    pub cons: u32,
    /// The producer index read.
    pub prod: u32,
}

const _: () = assert!(XENCONS_IN_SIZE.is_power_of_two() && XENCONS_OUT_SIZE.is_power_of_two());

/// The input ring (Dom0 produces).
const INPUT: ByteRing = ByteRing {
    data: IN,
    size: XENCONS_IN_SIZE,
    cons: IN_CONS,
    prod: IN_PROD,
};
/// The output ring (the DomU produces).
const OUTPUT: ByteRing = ByteRing {
    data: OUT,
    size: XENCONS_OUT_SIZE,
    cons: OUT_CONS,
    prod: OUT_PROD,
};

/// Dom0: hands every byte the DomU wrote to its output ring to `sink`, in order, and frees
/// them. Returns how many. A corrupt ring is skipped to its producer index (the bytes are lost)
/// and reported.
pub fn drain_output(ring: &mut dyn RingMemory, sink: &mut dyn FnMut(u8)) -> Result<usize, Corrupt> {
    let cons = ring.read_u32(OUT_CONS);
    let prod = ring.read_u32(OUT_PROD);
    let n = match OUTPUT.pending(cons, prod) {
        Ok(n) => n,
        Err(e) => {
            ring.write_u32(OUT_CONS, prod);
            return Err(e);
        }
    };
    for i in 0..n as u32 {
        sink(ring.read_u8(OUT + mask_out(cons.wrapping_add(i))));
    }
    ring.write_u32(OUT_CONS, prod);
    Ok(n)
}

/// Dom0: appends as much of `bytes` as fits to the DomU's input ring; returns how many.
pub fn write_input(ring: &mut dyn RingMemory, bytes: &[u8]) -> Result<usize, Corrupt> {
    INPUT.produce(ring, bytes)
}

/// DomU: appends as much of `bytes` as fits to the output ring; returns how many (0 when full).
pub fn write_output(ring: &mut dyn RingMemory, bytes: &[u8]) -> Result<usize, Corrupt> {
    OUTPUT.produce(ring, bytes)
}

/// DomU: moves input bytes into `buf` (as many as fit) and frees them; returns how many.
pub fn read_input(ring: &mut dyn RingMemory, buf: &mut [u8]) -> Result<usize, Corrupt> {
    INPUT.consume(ring, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mem_page::Page;

    fn drain(page: &mut Page) -> Result<Vec<u8>, Corrupt> {
        let mut out = Vec::new();
        drain_output(page, &mut |b| out.push(b)).map(|_| out)
    }

    #[test]
    fn output_goes_from_domu_to_dom0_in_order() {
        let mut page = Page::new();
        assert_eq!(write_output(&mut page, b"hello\r\n"), Ok(7));
        assert_eq!(write_output(&mut page, b"world"), Ok(5));
        assert_eq!(page.read_u32(OUT_PROD), 12);
        assert_eq!(drain(&mut page), Ok(b"hello\r\nworld".to_vec()));
        assert_eq!(page.read_u32(OUT_CONS), 12);
        assert_eq!(drain(&mut page), Ok(Vec::new()));
    }

    #[test]
    fn a_full_output_ring_takes_no_more_and_wraps_after_draining() {
        let mut page = Page::new();
        let big = vec![b'x'; 3000];
        assert_eq!(write_output(&mut page, &big), Ok(2048));
        assert_eq!(write_output(&mut page, b"y"), Ok(0));
        assert_eq!(drain(&mut page).unwrap().len(), 2048);
        assert_eq!(write_output(&mut page, b"abc"), Ok(3));
        assert_eq!(page.read_u8(OUT), b'a', "wrapped to the start of the ring");
        assert_eq!(drain(&mut page), Ok(b"abc".to_vec()));
    }

    #[test]
    fn indexes_wrap_around_u32() {
        let mut page = Page::new();
        page.write_u32(OUT_CONS, u32::MAX - 1);
        page.write_u32(OUT_PROD, u32::MAX - 1);
        assert_eq!(write_output(&mut page, b"wrap"), Ok(4));
        assert_eq!(page.read_u32(OUT_PROD), 2);
        assert_eq!(drain(&mut page), Ok(b"wrap".to_vec()));
    }

    #[test]
    fn a_hostile_producer_index_is_refused_and_skipped() {
        let mut page = Page::new();
        page.write_u32(OUT_PROD, 5000);
        assert_eq!(
            drain(&mut page),
            Err(Corrupt {
                cons: 0,
                prod: 5000
            })
        );
        assert_eq!(page.read_u32(OUT_CONS), 5000, "resynchronised");
        // A backend that moved the consumer index past the producer: the DomU writes nothing.
        page.write_u32(OUT_CONS, 9000);
        assert_eq!(
            write_output(&mut page, b"x"),
            Err(Corrupt {
                cons: 9000,
                prod: 5000
            })
        );
    }

    #[test]
    fn input_goes_from_dom0_to_domu() {
        let mut page = Page::new();
        assert_eq!(write_input(&mut page, b"stop\n"), Ok(5));
        let mut buf = [0u8; 3];
        assert_eq!(read_input(&mut page, &mut buf), Ok(3));
        assert_eq!(&buf, b"sto");
        assert_eq!(read_input(&mut page, &mut buf), Ok(2));
        assert_eq!(&buf[..2], b"p\n");
        assert_eq!(read_input(&mut page, &mut buf), Ok(0));
        let big = vec![b'z'; 1500];
        assert_eq!(write_input(&mut page, &big), Ok(1024));
        page.write_u32(IN_PROD, 7000);
        assert!(read_input(&mut page, &mut buf).is_err());
        assert!(write_input(&mut page, b"x").is_err());
    }
}
