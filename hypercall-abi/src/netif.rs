//! The network split-driver rings: tx/rx requests and responses, flags and xenstore keys (io/netif.h).

use crate::grant_table::GrantRef;
use crate::layout::PAGE_SIZE;
use crate::ring::ring_size;
use core::mem::{align_of, offset_of, size_of};

/// Fewest tx slots of one packet a backend must accept.
pub const XEN_NETIF_NR_SLOTS_MIN: usize = 18;
/// Largest packet a tx request chain may carry.
pub const XEN_NETIF_MAX_TX_SIZE: u16 = 0xFFFF;

/// Tx flag: the protocol checksum is blank (offloaded).
pub const NETTXF_CSUM_BLANK: u16 = 1 << 0;
/// Tx flag: the packet's checksum was validated.
pub const NETTXF_DATA_VALIDATED: u16 = 1 << 1;
/// Tx flag: the packet continues in the next request.
pub const NETTXF_MORE_DATA: u16 = 1 << 2;
/// Tx flag: a `NetifExtraInfo` slot follows.
pub const NETTXF_EXTRA_INFO: u16 = 1 << 3;

/// Rx flag: the packet's checksum was validated.
pub const NETRXF_DATA_VALIDATED: u16 = 1 << 0;
/// Rx flag: the protocol checksum is blank (offloaded).
pub const NETRXF_CSUM_BLANK: u16 = 1 << 1;
/// Rx flag: the packet continues in the next response.
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
/// Rx flag: a `NetifExtraInfo` slot follows.
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;
/// Rx flag: the packet has a GSO prefix (deprecated).
pub const NETRXF_GSO_PREFIX: u16 = 1 << 4;

/// Response status: packet dropped.
pub const NETIF_RSP_DROPPED: i16 = -2;
/// Response status: error.
pub const NETIF_RSP_ERROR: i16 = -1;
/// Response status: done.
pub const NETIF_RSP_OKAY: i16 = 0;
/// Response status: no response (the slot of an extra-info request).
pub const NETIF_RSP_NULL: i16 = 1;

/// Extra-info type: invalid.
pub const XEN_NETIF_EXTRA_TYPE_NONE: u8 = 0;
/// Extra-info type: segmentation offload parameters.
pub const XEN_NETIF_EXTRA_TYPE_GSO: u8 = 1;
/// Extra-info type: add a multicast address to the filter.
pub const XEN_NETIF_EXTRA_TYPE_MCAST_ADD: u8 = 2;
/// Extra-info type: remove a multicast address from the filter.
pub const XEN_NETIF_EXTRA_TYPE_MCAST_DEL: u8 = 3;
/// Extra-info type: packet hash.
pub const XEN_NETIF_EXTRA_TYPE_HASH: u8 = 4;
/// One past the last extra-info type.
pub const XEN_NETIF_EXTRA_TYPE_MAX: u8 = 5;
/// Extra-info flag: another extra-info slot follows.
pub const XEN_NETIF_EXTRA_FLAG_MORE: u8 = 1 << 0;
/// GSO type: none.
pub const XEN_NETIF_GSO_TYPE_NONE: u8 = 0;
/// GSO type: TCP over IPv4.
pub const XEN_NETIF_GSO_TYPE_TCPV4: u8 = 1;
/// GSO type: TCP over IPv6.
pub const XEN_NETIF_GSO_TYPE_TCPV6: u8 = 2;

/// Frontend key: grant reference of the tx ring page.
pub const NETIF_KEY_TX_RING_REF: &str = "tx-ring-ref";
/// Frontend key: grant reference of the rx ring page.
pub const NETIF_KEY_RX_RING_REF: &str = "rx-ring-ref";
/// Frontend key: event channel port of both rings.
pub const NETIF_KEY_EVENT_CHANNEL: &str = "event-channel";
/// Frontend key: tx event channel port (split event channels).
pub const NETIF_KEY_EVENT_CHANNEL_TX: &str = "event-channel-tx";
/// Frontend key: rx event channel port (split event channels).
pub const NETIF_KEY_EVENT_CHANNEL_RX: &str = "event-channel-rx";
/// Frontend key: the frontend wants rx by grant copy (boolean).
pub const NETIF_KEY_REQUEST_RX_COPY: &str = "request-rx-copy";
/// Frontend key: the frontend kicks the backend on new rx requests (boolean).
pub const NETIF_KEY_FEATURE_RX_NOTIFY: &str = "feature-rx-notify";
/// Backend key: rx by grant copy is offered (boolean).
pub const NETIF_KEY_FEATURE_RX_COPY: &str = "feature-rx-copy";
/// Backend key: separate tx and rx event channels are offered (boolean).
pub const NETIF_KEY_FEATURE_SPLIT_EVENT_CHANNELS: &str = "feature-split-event-channels";
/// Both ends: packets may span several slots (boolean).
pub const NETIF_KEY_FEATURE_SG: &str = "feature-sg";
/// Both ends: TCPv4 segmentation offload (boolean).
pub const NETIF_KEY_FEATURE_GSO_TCPV4: &str = "feature-gso-tcpv4";
/// Both ends: TCPv6 segmentation offload (boolean).
pub const NETIF_KEY_FEATURE_GSO_TCPV6: &str = "feature-gso-tcpv6";
/// Both ends: IPv4 checksum offload is off (boolean; missing means on).
pub const NETIF_KEY_FEATURE_NO_CSUM_OFFLOAD: &str = "feature-no-csum-offload";
/// Both ends: IPv6 checksum offload is on (boolean; missing means off).
pub const NETIF_KEY_FEATURE_IPV6_CSUM_OFFLOAD: &str = "feature-ipv6-csum-offload";
/// Backend key: most queues offered.
pub const NETIF_KEY_MULTI_QUEUE_MAX_QUEUES: &str = "multi-queue-max-queues";
/// Frontend key: queues used.
pub const NETIF_KEY_MULTI_QUEUE_NUM_QUEUES: &str = "multi-queue-num-queues";
/// Both ends (toolstack): the interface's MAC address, `xx:xx:xx:xx:xx:xx`.
pub const NETIF_KEY_MAC: &str = "mac";
/// Both ends (toolstack): the interface number.
pub const NETIF_KEY_HANDLE: &str = "handle";

/// A packet (or packet fragment) to transmit (`struct netif_tx_request`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifTxRequest {
    /// Grant of the frame holding the data.
    pub gref: GrantRef,
    /// Offset of the data in the frame.
    pub offset: u16,
    /// `NETTXF_*`.
    pub flags: u16,
    /// Echoed in the response.
    pub id: u16,
    /// First slot of a packet: the whole packet's size; later slots: this fragment's.
    pub size: u16,
}
const _: () = assert!(size_of::<NetifTxRequest>() == 12);
const _: () = assert!(offset_of!(NetifTxRequest, gref) == 0);
const _: () = assert!(offset_of!(NetifTxRequest, offset) == 4);
const _: () = assert!(offset_of!(NetifTxRequest, flags) == 6);
const _: () = assert!(offset_of!(NetifTxRequest, id) == 8);
const _: () = assert!(offset_of!(NetifTxRequest, size) == 10);

impl NetifTxRequest {
    /// Bytes of the request.
    pub const SIZE: usize = 12;

    /// The request's bytes as they sit on the ring.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.gref.to_le_bytes());
        b[4..6].copy_from_slice(&self.offset.to_le_bytes());
        b[6..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..10].copy_from_slice(&self.id.to_le_bytes());
        b[10..12].copy_from_slice(&self.size.to_le_bytes());
        b
    }

    /// The request held by `b`.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        NetifTxRequest {
            gref: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            offset: u16::from_le_bytes([b[4], b[5]]),
            flags: u16::from_le_bytes([b[6], b[7]]),
            id: u16::from_le_bytes([b[8], b[9]]),
            size: u16::from_le_bytes([b[10], b[11]]),
        }
    }

    /// Whether the data lies within one page, or `false` if `offset + size`
    /// passes its end (guest input: check before use).
    pub const fn fits_in_page(&self) -> bool {
        self.offset as u64 + self.size as u64 <= PAGE_SIZE
    }
}

/// The answer to one tx request (`struct netif_tx_response`); it occupies a
/// `NET_TX_SLOT_SIZE`-byte ring slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifTxResponse {
    /// The request's `id`.
    pub id: u16,
    /// `NETIF_RSP_*`.
    pub status: i16,
}
const _: () = assert!(size_of::<NetifTxResponse>() == 4);
const _: () = assert!(offset_of!(NetifTxResponse, id) == 0);
const _: () = assert!(offset_of!(NetifTxResponse, status) == 2);

impl NetifTxResponse {
    /// Bytes of the response.
    pub const SIZE: usize = 4;

    /// The response's bytes as they sit on the ring.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let [a, b] = self.id.to_le_bytes();
        let [c, d] = self.status.to_le_bytes();
        [a, b, c, d]
    }

    /// The response held by `b`.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        NetifTxResponse {
            id: u16::from_le_bytes([b[0], b[1]]),
            status: i16::from_le_bytes([b[2], b[3]]),
        }
    }
}

/// An empty buffer offered for a received packet (`struct netif_rx_request`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifRxRequest {
    /// Echoed in the response.
    pub id: u16,
    /// Padding.
    pub pad: u16,
    /// Grant of the buffer frame.
    pub gref: GrantRef,
}
const _: () = assert!(size_of::<NetifRxRequest>() == 8);
const _: () = assert!(offset_of!(NetifRxRequest, id) == 0);
const _: () = assert!(offset_of!(NetifRxRequest, pad) == 2);
const _: () = assert!(offset_of!(NetifRxRequest, gref) == 4);

impl NetifRxRequest {
    /// Bytes of the request.
    pub const SIZE: usize = 8;

    /// The request's bytes as they sit on the ring.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..2].copy_from_slice(&self.id.to_le_bytes());
        b[2..4].copy_from_slice(&self.pad.to_le_bytes());
        b[4..8].copy_from_slice(&self.gref.to_le_bytes());
        b
    }

    /// The request held by `b`.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        NetifRxRequest {
            id: u16::from_le_bytes([b[0], b[1]]),
            pad: u16::from_le_bytes([b[2], b[3]]),
            gref: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A received packet (or fragment) placed in an offered buffer
/// (`struct netif_rx_response`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifRxResponse {
    /// The request's `id`.
    pub id: u16,
    /// Offset of the data in the buffer frame.
    pub offset: u16,
    /// `NETRXF_*`.
    pub flags: u16,
    /// Bytes received if not negative, else `NETIF_RSP_*`.
    pub status: i16,
}
const _: () = assert!(size_of::<NetifRxResponse>() == 8);
const _: () = assert!(offset_of!(NetifRxResponse, id) == 0);
const _: () = assert!(offset_of!(NetifRxResponse, offset) == 2);
const _: () = assert!(offset_of!(NetifRxResponse, flags) == 4);
const _: () = assert!(offset_of!(NetifRxResponse, status) == 6);

impl NetifRxResponse {
    /// Bytes of the response.
    pub const SIZE: usize = 8;

    /// The response's bytes as they sit on the ring.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..2].copy_from_slice(&self.id.to_le_bytes());
        b[2..4].copy_from_slice(&self.offset.to_le_bytes());
        b[4..6].copy_from_slice(&self.flags.to_le_bytes());
        b[6..8].copy_from_slice(&self.status.to_le_bytes());
        b
    }

    /// The response held by `b`.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        NetifRxResponse {
            id: u16::from_le_bytes([b[0], b[1]]),
            offset: u16::from_le_bytes([b[2], b[3]]),
            flags: u16::from_le_bytes([b[4], b[5]]),
            status: i16::from_le_bytes([b[6], b[7]]),
        }
    }
}

/// An extra-info slot following a tx request or rx response flagged
/// `*_EXTRA_INFO` (`struct netif_extra_info`); the C union is kept as bytes.
#[repr(C, align(2))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifExtraInfo {
    /// `XEN_NETIF_EXTRA_TYPE_*`.
    pub type_: u8,
    /// `XEN_NETIF_EXTRA_FLAG_*`.
    pub flags: u8,
    /// The type-specific union.
    pub u: [u8; 6],
}
const _: () = assert!(size_of::<NetifExtraInfo>() == 8);
const _: () = assert!(align_of::<NetifExtraInfo>() == 2);
const _: () = assert!(offset_of!(NetifExtraInfo, flags) == 1);
const _: () = assert!(offset_of!(NetifExtraInfo, u) == 2);

impl NetifExtraInfo {
    /// Bytes of the slot's used part.
    pub const SIZE: usize = 8;

    /// GSO: largest segment payload (`u.gso.size`).
    pub const fn gso_size(&self) -> u16 {
        u16::from_le_bytes([self.u[0], self.u[1]])
    }

    /// GSO: `XEN_NETIF_GSO_TYPE_*` (`u.gso.type`).
    pub const fn gso_type(&self) -> u8 {
        self.u[2]
    }

    /// GSO: feature bits (`u.gso.features`).
    pub const fn gso_features(&self) -> u16 {
        u16::from_le_bytes([self.u[4], self.u[5]])
    }

    /// Multicast add/del: the address (`u.mcast.addr`).
    pub const fn mcast_addr(&self) -> [u8; 6] {
        self.u
    }

    /// The slot's bytes.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0] = self.type_;
        b[1] = self.flags;
        b[2..8].copy_from_slice(&self.u);
        b
    }

    /// The extra info held by `b`.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        NetifExtraInfo {
            type_: b[0],
            flags: b[1],
            u: [b[2], b[3], b[4], b[5], b[6], b[7]],
        }
    }
}

/// Bytes of one tx ring slot (the request/response union).
pub const NET_TX_SLOT_SIZE: usize = max(NetifTxRequest::SIZE, NetifTxResponse::SIZE);
/// Bytes of one rx ring slot (the request/response union).
pub const NET_RX_SLOT_SIZE: usize = max(NetifRxRequest::SIZE, NetifRxResponse::SIZE);
/// Slots of a one-page tx ring.
pub const NET_TX_RING_SIZE: usize = ring_size(PAGE_SIZE as usize, NET_TX_SLOT_SIZE);
/// Slots of a one-page rx ring.
pub const NET_RX_RING_SIZE: usize = ring_size(PAGE_SIZE as usize, NET_RX_SLOT_SIZE);
const _: () = assert!(NET_TX_SLOT_SIZE == 12);
const _: () = assert!(NET_RX_SLOT_SIZE == 8);
const _: () = assert!(NET_TX_RING_SIZE == 256);
const _: () = assert!(NET_RX_RING_SIZE == 256);
const _: () = assert!(NetifExtraInfo::SIZE <= NET_TX_SLOT_SIZE);
const _: () = assert!(NetifExtraInfo::SIZE <= NET_RX_SLOT_SIZE);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_netif_h() {
        assert_eq!(XEN_NETIF_NR_SLOTS_MIN, 18);
        assert_eq!(XEN_NETIF_MAX_TX_SIZE, 0xffff);
        assert_eq!(
            [
                NETTXF_CSUM_BLANK,
                NETTXF_DATA_VALIDATED,
                NETTXF_MORE_DATA,
                NETTXF_EXTRA_INFO
            ],
            [1, 2, 4, 8]
        );
        assert_eq!(
            [
                NETRXF_DATA_VALIDATED,
                NETRXF_CSUM_BLANK,
                NETRXF_MORE_DATA,
                NETRXF_EXTRA_INFO,
                NETRXF_GSO_PREFIX
            ],
            [1, 2, 4, 8, 16]
        );
        assert_eq!(
            [
                NETIF_RSP_DROPPED,
                NETIF_RSP_ERROR,
                NETIF_RSP_OKAY,
                NETIF_RSP_NULL
            ],
            [-2, -1, 0, 1]
        );
        assert_eq!(
            [
                XEN_NETIF_EXTRA_TYPE_NONE,
                XEN_NETIF_EXTRA_TYPE_GSO,
                XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
                XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
                XEN_NETIF_EXTRA_TYPE_HASH,
                XEN_NETIF_EXTRA_TYPE_MAX
            ],
            [0, 1, 2, 3, 4, 5]
        );
        assert_eq!(XEN_NETIF_EXTRA_FLAG_MORE, 1);
        assert_eq!(
            [
                XEN_NETIF_GSO_TYPE_NONE,
                XEN_NETIF_GSO_TYPE_TCPV4,
                XEN_NETIF_GSO_TYPE_TCPV6
            ],
            [0, 1, 2]
        );
    }

    #[test]
    fn xenstore_keys() {
        let keys = [
            (NETIF_KEY_TX_RING_REF, "tx-ring-ref"),
            (NETIF_KEY_RX_RING_REF, "rx-ring-ref"),
            (NETIF_KEY_EVENT_CHANNEL, "event-channel"),
            (NETIF_KEY_EVENT_CHANNEL_TX, "event-channel-tx"),
            (NETIF_KEY_EVENT_CHANNEL_RX, "event-channel-rx"),
            (NETIF_KEY_REQUEST_RX_COPY, "request-rx-copy"),
            (NETIF_KEY_FEATURE_RX_NOTIFY, "feature-rx-notify"),
            (NETIF_KEY_FEATURE_RX_COPY, "feature-rx-copy"),
            (
                NETIF_KEY_FEATURE_SPLIT_EVENT_CHANNELS,
                "feature-split-event-channels",
            ),
            (NETIF_KEY_FEATURE_SG, "feature-sg"),
            (NETIF_KEY_FEATURE_GSO_TCPV4, "feature-gso-tcpv4"),
            (NETIF_KEY_FEATURE_GSO_TCPV6, "feature-gso-tcpv6"),
            (NETIF_KEY_FEATURE_NO_CSUM_OFFLOAD, "feature-no-csum-offload"),
            (
                NETIF_KEY_FEATURE_IPV6_CSUM_OFFLOAD,
                "feature-ipv6-csum-offload",
            ),
            (NETIF_KEY_MULTI_QUEUE_MAX_QUEUES, "multi-queue-max-queues"),
            (NETIF_KEY_MULTI_QUEUE_NUM_QUEUES, "multi-queue-num-queues"),
            (NETIF_KEY_MAC, "mac"),
            (NETIF_KEY_HANDLE, "handle"),
        ];
        for (k, v) in keys {
            assert_eq!(k, v);
        }
    }

    #[test]
    fn layouts_match_netif_h() {
        assert_eq!(size_of::<NetifTxRequest>(), 12);
        assert_eq!(offset_of!(NetifTxRequest, offset), 4);
        assert_eq!(offset_of!(NetifTxRequest, flags), 6);
        assert_eq!(offset_of!(NetifTxRequest, id), 8);
        assert_eq!(offset_of!(NetifTxRequest, size), 10);
        assert_eq!(size_of::<NetifTxResponse>(), 4);
        assert_eq!(offset_of!(NetifTxResponse, status), 2);
        assert_eq!(size_of::<NetifRxRequest>(), 8);
        assert_eq!(offset_of!(NetifRxRequest, gref), 4);
        assert_eq!(size_of::<NetifRxResponse>(), 8);
        assert_eq!(offset_of!(NetifRxResponse, status), 6);
        assert_eq!(size_of::<NetifExtraInfo>(), 8);
        assert_eq!(align_of::<NetifExtraInfo>(), 2);
        assert_eq!(NET_TX_SLOT_SIZE, 12);
        assert_eq!(NET_RX_SLOT_SIZE, 8);
        assert_eq!(NET_TX_RING_SIZE, 256);
        assert_eq!(NET_RX_RING_SIZE, 256);
    }

    #[test]
    fn entries_round_trip_through_bytes() {
        let t = NetifTxRequest {
            gref: 0x0102_0304,
            offset: 0x10,
            flags: NETTXF_MORE_DATA | NETTXF_CSUM_BLANK,
            id: 0xbeef,
            size: 1514,
        };
        let b = t.to_bytes();
        assert_eq!(b, [4, 3, 2, 1, 0x10, 0, 5, 0, 0xef, 0xbe, 0xea, 0x05]);
        assert_eq!(NetifTxRequest::from_bytes(&b), t);

        let r = NetifTxResponse {
            id: 3,
            status: NETIF_RSP_DROPPED,
        };
        assert_eq!(r.to_bytes(), [3, 0, 0xfe, 0xff]);
        assert_eq!(NetifTxResponse::from_bytes(&r.to_bytes()), r);

        let q = NetifRxRequest {
            id: 7,
            pad: 0,
            gref: 0x55,
        };
        assert_eq!(q.to_bytes(), [7, 0, 0, 0, 0x55, 0, 0, 0]);
        assert_eq!(NetifRxRequest::from_bytes(&q.to_bytes()), q);

        let s = NetifRxResponse {
            id: 7,
            offset: 0,
            flags: NETRXF_DATA_VALIDATED,
            status: 60,
        };
        assert_eq!(s.to_bytes(), [7, 0, 0, 0, 1, 0, 60, 0]);
        assert_eq!(NetifRxResponse::from_bytes(&s.to_bytes()), s);
    }

    #[test]
    fn extra_info_fields_and_page_bounds() {
        let e = NetifExtraInfo::from_bytes(&[
            XEN_NETIF_EXTRA_TYPE_GSO,
            XEN_NETIF_EXTRA_FLAG_MORE,
            0xb4,
            0x05,
            XEN_NETIF_GSO_TYPE_TCPV4,
            0,
            0x01,
            0x00,
        ]);
        assert_eq!(e.type_, XEN_NETIF_EXTRA_TYPE_GSO);
        assert_eq!(e.gso_size(), 1460);
        assert_eq!(e.gso_type(), XEN_NETIF_GSO_TYPE_TCPV4);
        assert_eq!(e.gso_features(), 1);
        assert_eq!(NetifExtraInfo::from_bytes(&e.to_bytes()), e);
        assert_eq!(e.mcast_addr(), [0xb4, 0x05, 1, 0, 1, 0]);

        let req = |offset, size| NetifTxRequest {
            offset,
            size,
            ..Default::default()
        };
        assert!(req(0, 4096).fits_in_page());
        assert!(req(4000, 96).fits_in_page());
        assert!(!req(4000, 97).fits_in_page());
        assert!(!req(u16::MAX, u16::MAX).fits_in_page());
    }
}
