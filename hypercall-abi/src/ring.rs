//! Header of the shared request/response rings of split drivers (io/ring.h).

use core::mem::{offset_of, size_of};

/// A free-running ring index.
pub type RingIdx = u32;

/// Bytes before the first ring slot.
pub const SRING_HEADER_SIZE: usize = 64;

/// The start of a shared ring page (`struct *_sring` without `ring[]`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedRingHeader {
    /// Requests produced by the frontend.
    pub req_prod: RingIdx,
    /// Backend wants a notification when `req_prod` passes this.
    pub req_event: RingIdx,
    /// Responses produced by the backend.
    pub rsp_prod: RingIdx,
    /// Frontend wants a notification when `rsp_prod` passes this.
    pub rsp_event: RingIdx,
    /// The 4-byte private union, then 44 bytes of padding.
    pub pad: [u8; 48],
}
const _: () = assert!(size_of::<SharedRingHeader>() == SRING_HEADER_SIZE);
const _: () = assert!(offset_of!(SharedRingHeader, req_prod) == 0);
const _: () = assert!(offset_of!(SharedRingHeader, req_event) == 4);
const _: () = assert!(offset_of!(SharedRingHeader, rsp_prod) == 8);
const _: () = assert!(offset_of!(SharedRingHeader, rsp_event) == 12);
const _: () = assert!(offset_of!(SharedRingHeader, pad) == 16);

impl SharedRingHeader {
    /// A freshly initialised ring (SHARED_RING_INIT): producers 0, events 1.
    pub const fn new() -> Self {
        SharedRingHeader {
            req_prod: 0,
            req_event: 1,
            rsp_prod: 0,
            rsp_event: 1,
            pad: [0; 48],
        }
    }
}

impl Default for SharedRingHeader {
    fn default() -> Self {
        Self::new()
    }
}

/// Number of slots of `slot_size` bytes in a ring of `area` bytes (header
/// included), rounded down to a power of two; 0 if none fit.
pub const fn ring_size(area: usize, slot_size: usize) -> usize {
    if slot_size == 0 || area <= SRING_HEADER_SIZE {
        return 0;
    }
    let n = (area - SRING_HEADER_SIZE) / slot_size;
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// After moving a producer from `old` to `new`: does the other side, which
/// asked to be woken at `event`, need an event channel notification?
pub const fn notify_needed(old: RingIdx, new: RingIdx, event: RingIdx) -> bool {
    new.wrapping_sub(event) < new.wrapping_sub(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_ring_h() {
        assert_eq!(size_of::<SharedRingHeader>(), 64);
        assert_eq!(offset_of!(SharedRingHeader, req_event), 4);
        assert_eq!(offset_of!(SharedRingHeader, rsp_prod), 8);
        assert_eq!(offset_of!(SharedRingHeader, rsp_event), 12);
        assert_eq!(offset_of!(SharedRingHeader, pad), 16);
    }

    #[test]
    fn init_sets_events_to_one() {
        let h = SharedRingHeader::new();
        assert_eq!(
            (h.req_prod, h.req_event, h.rsp_prod, h.rsp_event),
            (0, 1, 0, 1)
        );
        assert_eq!(SharedRingHeader::default(), h);
    }

    #[test]
    fn ring_sizes_of_known_rings() {
        // blkif: 112-byte slots in a 4 KiB page -> 32.
        assert_eq!(ring_size(4096, 112), 32);
        // netif tx: 12-byte requests -> 256.
        assert_eq!(ring_size(4096, 12), 256);
        // Exactly a power of two.
        assert_eq!(ring_size(64 + 8 * 16, 16), 8);
        assert_eq!(ring_size(64 + 9 * 16, 16), 8);
        assert_eq!(ring_size(64, 16), 0);
        assert_eq!(ring_size(10, 16), 0);
        assert_eq!(ring_size(4096, 0), 0);
        assert_eq!(ring_size(4096, 8192), 0);
    }

    #[test]
    fn notification_hold_off() {
        // Other side waits for the first new entry.
        assert!(notify_needed(5, 6, 6));
        // Other side asked to be woken later.
        assert!(!notify_needed(5, 6, 8));
        // Already past the event before this push.
        assert!(!notify_needed(5, 6, 5));
        // Across the u32 wrap.
        assert!(notify_needed(u32::MAX, 1, 0));
        assert!(!notify_needed(5, 5, 6));
    }
}
