//! Both ends of the xenstore ring page (io/xs_wire.h): the guest writes requests and reads replies, xenstored the reverse.
// The page is shared with the other end, which may be hostile: each index the other end owns
// is read once per call, and a distance between the indexes larger than the ring means the
// ring is corrupt (the call then moves nothing and says so). The rings carry a byte stream;
// framing it into messages is xs_client's job (and the daemon's).

use core::mem::offset_of;

use hypercall_abi::xenstore::{XENSTORE_RING_SIZE, XenstoreDomainInterface};

use crate::byte_ring::ByteRing;

pub use crate::console_ring::{Corrupt, RingMemory};

/// Byte offset of the request ring in the page.
const REQ: usize = offset_of!(XenstoreDomainInterface, req);
/// Byte offset of the response ring in the page.
const RSP: usize = offset_of!(XenstoreDomainInterface, rsp);
const REQ_CONS: usize = offset_of!(XenstoreDomainInterface, req_cons);
const REQ_PROD: usize = offset_of!(XenstoreDomainInterface, req_prod);
const RSP_CONS: usize = offset_of!(XenstoreDomainInterface, rsp_cons);
const RSP_PROD: usize = offset_of!(XenstoreDomainInterface, rsp_prod);

const _: () = assert!(XENSTORE_RING_SIZE.is_power_of_two());

/// The request ring (the guest produces).
const REQUESTS: ByteRing = ByteRing {
    data: REQ,
    size: XENSTORE_RING_SIZE,
    cons: REQ_CONS,
    prod: REQ_PROD,
};
/// The response ring (xenstored produces).
const RESPONSES: ByteRing = ByteRing {
    data: RSP,
    size: XENSTORE_RING_SIZE,
    cons: RSP_CONS,
    prod: RSP_PROD,
};

/// Guest: appends as much of `bytes` as fits to the request ring; returns how many (0 when full).
pub fn write_request(page: &mut dyn RingMemory, bytes: &[u8]) -> Result<usize, Corrupt> {
    REQUESTS.produce(page, bytes)
}

/// Guest: moves reply and watch-event bytes into `buf` (as many as fit) and frees them;
/// returns how many.
pub fn read_response(page: &mut dyn RingMemory, buf: &mut [u8]) -> Result<usize, Corrupt> {
    RESPONSES.consume(page, buf)
}

/// xenstored: moves request bytes into `buf` (as many as fit) and frees them; returns how many.
pub fn read_request(page: &mut dyn RingMemory, buf: &mut [u8]) -> Result<usize, Corrupt> {
    REQUESTS.consume(page, buf)
}

/// xenstored: appends as much of `bytes` as fits to the response ring; returns how many
/// (0 when full).
pub fn write_response(page: &mut dyn RingMemory, bytes: &[u8]) -> Result<usize, Corrupt> {
    RESPONSES.produce(page, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mem_page::Page;

    #[test]
    fn offsets_match_xs_wire_h() {
        assert_eq!((REQ, RSP), (0, 1024));
        assert_eq!(
            (REQ_CONS, REQ_PROD, RSP_CONS, RSP_PROD),
            (2048, 2052, 2056, 2060)
        );
    }

    #[test]
    fn requests_go_from_guest_to_daemon_in_order() {
        let mut page = Page::new();
        assert_eq!(write_request(&mut page, b"hello"), Ok(5));
        assert_eq!(write_request(&mut page, b" store"), Ok(6));
        assert_eq!(page.read_u32(REQ_PROD), 11);
        assert_eq!(&page.0[REQ..REQ + 11], b"hello store");
        let mut buf = [0u8; 8];
        assert_eq!(read_request(&mut page, &mut buf), Ok(8));
        assert_eq!(&buf, b"hello st");
        assert_eq!(read_request(&mut page, &mut buf), Ok(3));
        assert_eq!(&buf[..3], b"ore");
        assert_eq!(read_request(&mut page, &mut buf), Ok(0));
        assert_eq!(page.read_u32(REQ_CONS), 11);
        assert_eq!(page.read_u32(RSP_PROD), 0, "the response ring is untouched");
    }

    #[test]
    fn replies_go_from_daemon_to_guest_in_order() {
        let mut page = Page::new();
        assert_eq!(write_response(&mut page, b"reply"), Ok(5));
        assert_eq!(&page.0[RSP..RSP + 5], b"reply");
        let mut buf = [0u8; 16];
        assert_eq!(read_response(&mut page, &mut buf), Ok(5));
        assert_eq!(&buf[..5], b"reply");
        assert_eq!(page.read_u32(RSP_CONS), 5);
        assert_eq!(page.read_u32(REQ_PROD), 0, "the request ring is untouched");
    }

    #[test]
    fn a_full_ring_takes_no_more_and_wraps_after_draining() {
        let mut page = Page::new();
        let big = vec![b'x'; 1500];
        assert_eq!(write_request(&mut page, &big), Ok(1024));
        assert_eq!(write_request(&mut page, b"y"), Ok(0));
        let mut buf = vec![0u8; 2048];
        assert_eq!(read_request(&mut page, &mut buf), Ok(1024));
        assert_eq!(write_request(&mut page, b"abc"), Ok(3));
        assert_eq!(page.read_u8(REQ), b'a', "wrapped to the start of the ring");
        assert_eq!(write_response(&mut page, &big), Ok(1024));
        assert_eq!(write_response(&mut page, b"z"), Ok(0));
        assert_eq!(read_response(&mut page, &mut buf), Ok(1024));
        assert_eq!(write_response(&mut page, b"def"), Ok(3));
        assert_eq!(page.read_u8(RSP), b'd');
    }

    #[test]
    fn indexes_wrap_around_u32() {
        let mut page = Page::new();
        page.write_u32(RSP_CONS, u32::MAX - 1);
        page.write_u32(RSP_PROD, u32::MAX - 1);
        assert_eq!(write_response(&mut page, b"wrap"), Ok(4));
        assert_eq!(page.read_u32(RSP_PROD), 2);
        let mut buf = [0u8; 8];
        assert_eq!(read_response(&mut page, &mut buf), Ok(4));
        assert_eq!(&buf[..4], b"wrap");
    }

    #[test]
    fn hostile_indexes_are_refused_and_nothing_moves() {
        let mut page = Page::new();
        // A daemon that claims more reply bytes than the ring holds.
        page.write_u32(RSP_PROD, 5000);
        let mut buf = [0u8; 8];
        assert_eq!(
            read_response(&mut page, &mut buf),
            Err(Corrupt {
                cons: 0,
                prod: 5000
            })
        );
        assert_eq!(page.read_u32(RSP_CONS), 0, "nothing consumed");
        // A daemon that moved the request consumer past the producer: the guest writes nothing.
        page.write_u32(REQ_CONS, 9000);
        assert_eq!(
            write_request(&mut page, b"x"),
            Err(Corrupt {
                cons: 9000,
                prod: 0
            })
        );
        assert_eq!(page.read_u32(REQ_PROD), 0);
        // A guest that claims more request bytes than the ring holds, seen by the daemon.
        let mut page = Page::new();
        page.write_u32(REQ_PROD, 1025);
        assert!(read_request(&mut page, &mut buf).is_err());
        page.write_u32(RSP_CONS, 3000);
        assert!(write_response(&mut page, b"x").is_err());
        assert_eq!(page.read_u32(RSP_PROD), 0);
    }
}
