//! A smoltcp `phy::Device` over any `NetLink`, a link that sends and receives whole Ethernet frames (netfront, or an in-memory wire).

use alloc::vec;

use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

/// The largest Ethernet frame (MTU 1500 and the 14-byte header; no FCS), as netfront sends.
pub const MAX_FRAME: usize = 1514;

/// Something that moves whole Ethernet frames.
pub trait NetLink {
    /// Sends one frame; `false` if it could not go now (no buffer), and it is dropped.
    fn send(&mut self, frame: &[u8]) -> bool;
    /// Copies the next received frame into `buf` (at least `MAX_FRAME` bytes) and returns its
    /// length, or `None` if none is waiting.
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize>;
}

/// Frames counted by the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Frames handed to the link.
    pub sent: u64,
    /// Frames the link refused.
    pub send_failed: u64,
    /// Frames received.
    pub received: u64,
}

/// smoltcp's device for `L`.
pub struct LinkDevice<L: NetLink> {
    link: L,
    rx: [u8; MAX_FRAME],
    counters: LinkCounters,
}

impl<L: NetLink> LinkDevice<L> {
    /// A device over `link`.
    pub const fn new(link: L) -> Self {
        LinkDevice {
            link,
            rx: [0; MAX_FRAME],
            counters: LinkCounters {
                sent: 0,
                send_failed: 0,
                received: 0,
            },
        }
    }

    /// Frames so far.
    pub const fn counters(&self) -> LinkCounters {
        self.counters
    }
}

/// A received frame, lent to smoltcp.
pub struct LinkRx<'a> {
    frame: &'a [u8],
}

impl RxToken for LinkRx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }
}

/// The right to send one frame.
pub struct LinkTx<'a, L: NetLink> {
    link: &'a mut L,
    counters: &'a mut LinkCounters,
}

impl<L: NetLink> TxToken for LinkTx<'_, L> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut small = [0u8; MAX_FRAME];
        // smoltcp keeps to the MTU we advertise; a longer frame is built (so `f` runs) but
        // not sent.
        let mut big = vec![];
        let buf = if len <= MAX_FRAME {
            &mut small[..len]
        } else {
            big.resize(len, 0);
            &mut big[..]
        };
        let r = f(buf);
        if len <= MAX_FRAME && self.link.send(buf) {
            self.counters.sent += 1;
        } else {
            self.counters.send_failed += 1;
        }
        r
    }
}

impl<L: NetLink> Device for LinkDevice<L> {
    type RxToken<'a>
        = LinkRx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = LinkTx<'a, L>
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let LinkDevice { link, rx, counters } = self;
        let n = link.recv(rx)?.min(MAX_FRAME);
        counters.received += 1;
        Some((LinkRx { frame: &rx[..n] }, LinkTx { link, counters }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        Some(LinkTx {
            link: &mut self.link,
            counters: &mut self.counters,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        // One frame at a time: netfront has no scatter-gather.
        caps.max_burst_size = Some(1);
        caps
    }
}
