//! Netfront: a guest's end of one vif, sending frames from a pool of granted pages and keeping the rx ring stocked with granted empty pages.
// io/netif.h without the optional features: one slot per frame each way (no feature-sg, so a
// frame is at most MTU 1500 + a 14-byte Ethernet header), no extras, rx by grant copy. The
// buffers are pages granted to the backend once, at connect time (the caller's job, as is
// revoking them at teardown); a request's id is the buffer's index in its pool, so a response
// names the buffer it frees. The backend is trusted less than fully: a response naming no
// buffer in flight, or claiming bytes past its page, is counted and ignored; ring indexes
// outside what the ring can hold stop the engine (the caller disconnects).

use alloc::vec::Vec;

use hypercall_abi::netif::{
    NETIF_RSP_NULL, NETIF_RSP_OKAY, NETRXF_MORE_DATA, NetifRxRequest, NetifRxResponse,
    NetifTxRequest, NetifTxResponse,
};

use crate::net_pages::{GrantedPage, PAGE, PageAccess};
use crate::netback::{ETH_HLEN, RX_GEOMETRY, Ring, TX_GEOMETRY};
use crate::shared_ring::{Corrupt, FrontRing, SharedRingMemory};

/// The largest frame sent or received: MTU 1500 and the Ethernet header.
pub const MAX_FRAME: usize = 1500 + ETH_HLEN;

/// Why the engine could not start, or stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetfrontError {
    /// No buffers, or more than a ring's worth, in a pool.
    BadPool,
    /// No memory for the engine's buffers.
    NoMemory,
    /// A ring's indexes are outside what it can hold.
    Corrupt(Ring, Corrupt),
    /// An earlier error stopped the engine.
    Stopped,
}

/// Why a frame was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Shorter than an Ethernet header or longer than `MAX_FRAME`.
    BadLength(usize),
    /// Every tx buffer is in flight: poll and try again.
    Busy,
    /// The engine is stopped.
    Stopped,
}

/// What the engine did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetfrontCounters {
    /// Frames put on the tx ring.
    pub tx_packets: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Tx responses other than OKAY.
    pub tx_errors: u64,
    /// Frames refused because no tx buffer was free.
    pub tx_busy: u64,
    /// Frames received.
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Rx responses with an error status, or a frame in several slots (never asked for).
    pub rx_errors: u64,
    /// Responses naming no buffer in flight or bytes past their page.
    pub bad_responses: u64,
    /// Rx buffers posted.
    pub rx_posted: u64,
    /// Times the backend had to be notified of new requests.
    pub notifications: u64,
}

/// The outcome of a `poll`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontPoll {
    /// Send the backend an event (new rx buffers it asked to hear about).
    pub notify: bool,
    /// Frames received.
    pub frames: u32,
}

/// One buffer pool: the granted pages and which are lent to the backend.
struct Pool {
    pages: Vec<GrantedPage>,
    busy: Vec<bool>,
}

impl Pool {
    fn new(pages: Vec<GrantedPage>) -> Result<Self, NetfrontError> {
        if pages.is_empty() || pages.len() > TX_GEOMETRY.size().min(RX_GEOMETRY.size()) as usize {
            return Err(NetfrontError::BadPool);
        }
        let mut busy = Vec::new();
        busy.try_reserve_exact(pages.len())
            .map_err(|_| NetfrontError::NoMemory)?;
        busy.resize(pages.len(), false);
        Ok(Pool { pages, busy })
    }

    /// The first free buffer's index, now busy.
    fn lend(&mut self) -> Option<u16> {
        let i = self.busy.iter().position(|b| !b)?;
        self.busy[i] = true;
        Some(i as u16)
    }

    /// Frees buffer `id`; whether it was lent.
    fn give_back(&mut self, id: u16) -> bool {
        match self.busy.get_mut(id as usize) {
            Some(b) if *b => {
                *b = false;
                true
            }
            _ => false,
        }
    }
}

/// One vif's frontend engine. Every call is given the ring pages and the buffers' access.
pub struct Netfront {
    tx: FrontRing,
    rx: FrontRing,
    tx_pool: Pool,
    rx_pool: Pool,
    counters: NetfrontCounters,
    /// Inside a multi-slot rx frame (which is dropped to its end).
    skipping: bool,
    stopped: bool,
    scratch: Vec<u8>,
}

impl Netfront {
    /// Initialises both rings and an engine sending from `tx_buffers` and receiving into
    /// `rx_buffers` (each 1 to 256 pages granted to the backend). Post the rx buffers with
    /// `fill_rx` once the backend is connected.
    pub fn new(
        tx_ring: &mut dyn SharedRingMemory,
        rx_ring: &mut dyn SharedRingMemory,
        tx_buffers: Vec<GrantedPage>,
        rx_buffers: Vec<GrantedPage>,
    ) -> Result<Self, NetfrontError> {
        let tx_pool = Pool::new(tx_buffers)?;
        let rx_pool = Pool::new(rx_buffers)?;
        let mut scratch = Vec::new();
        scratch
            .try_reserve_exact(PAGE)
            .map_err(|_| NetfrontError::NoMemory)?;
        scratch.resize(PAGE, 0);
        Ok(Netfront {
            tx: FrontRing::init(tx_ring, TX_GEOMETRY),
            rx: FrontRing::init(rx_ring, RX_GEOMETRY),
            tx_pool,
            rx_pool,
            counters: NetfrontCounters::default(),
            skipping: false,
            stopped: false,
            scratch,
        })
    }

    /// What the engine did so far.
    pub const fn counters(&self) -> &NetfrontCounters {
        &self.counters
    }

    /// Whether an error stopped the engine.
    pub const fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Tx buffers free for `send`.
    pub fn tx_free(&self) -> usize {
        self.tx_pool.busy.iter().filter(|b| !**b).count()
    }

    /// Rx buffers posted to the backend.
    pub fn rx_outstanding(&self) -> usize {
        self.rx_pool.busy.iter().filter(|b| **b).count()
    }

    fn count_notify(&mut self, notify: bool) -> bool {
        if notify {
            self.counters.notifications += 1;
        }
        notify
    }

    /// Posts every rx buffer not posted yet; whether to notify the backend.
    pub fn fill_rx(&mut self, rx_ring: &mut dyn SharedRingMemory) -> bool {
        if self.stopped {
            return false;
        }
        let mut posted = false;
        while !self.rx.is_full() {
            let Some(id) = self.rx_pool.lend() else {
                break;
            };
            let req = NetifRxRequest {
                id,
                pad: 0,
                gref: self.rx_pool.pages[id as usize].gref,
            };
            // The ring has a free slot (checked above) and the request fits one.
            let _ = self.rx.write_request(rx_ring, &req.to_bytes());
            self.counters.rx_posted += 1;
            posted = true;
        }
        if !posted {
            return false;
        }
        let notify = self.rx.push_requests(rx_ring);
        self.count_notify(notify)
    }

    /// Sends one frame (14 to `MAX_FRAME` bytes) from a free tx buffer; whether to notify
    /// the backend.
    pub fn send(
        &mut self,
        tx_ring: &mut dyn SharedRingMemory,
        pages: &mut dyn PageAccess,
        frame: &[u8],
    ) -> Result<bool, SendError> {
        if self.stopped {
            return Err(SendError::Stopped);
        }
        if !(ETH_HLEN..=MAX_FRAME).contains(&frame.len()) {
            return Err(SendError::BadLength(frame.len()));
        }
        if self.tx.is_full() {
            self.counters.tx_busy += 1;
            return Err(SendError::Busy);
        }
        let Some(id) = self.tx_pool.lend() else {
            self.counters.tx_busy += 1;
            return Err(SendError::Busy);
        };
        let buf = self.tx_pool.pages[id as usize];
        pages.write(buf.page, 0, frame);
        let req = NetifTxRequest {
            gref: buf.gref,
            offset: 0,
            flags: 0,
            id,
            size: frame.len() as u16,
        };
        // The ring has a free slot (checked above) and the request fits one.
        let _ = self.tx.write_request(tx_ring, &req.to_bytes());
        self.counters.tx_packets += 1;
        self.counters.tx_bytes += frame.len() as u64;
        let notify = self.tx.push_requests(tx_ring);
        Ok(self.count_notify(notify))
    }

    /// Takes the backend's responses: frees sent buffers, hands received frames to `on_frame`
    /// and posts their buffers again; re-arms both response events before returning.
    pub fn poll(
        &mut self,
        tx_ring: &mut dyn SharedRingMemory,
        rx_ring: &mut dyn SharedRingMemory,
        pages: &mut dyn PageAccess,
        on_frame: &mut dyn FnMut(&[u8]),
    ) -> Result<FrontPoll, NetfrontError> {
        if self.stopped {
            return Err(NetfrontError::Stopped);
        }
        let r = self.poll_inner(tx_ring, rx_ring, pages, on_frame);
        if r.is_err() {
            self.stopped = true;
        }
        r
    }

    fn poll_inner(
        &mut self,
        tx_ring: &mut dyn SharedRingMemory,
        rx_ring: &mut dyn SharedRingMemory,
        pages: &mut dyn PageAccess,
        on_frame: &mut dyn FnMut(&[u8]),
    ) -> Result<FrontPoll, NetfrontError> {
        let tx_corrupt = |c| NetfrontError::Corrupt(Ring::Tx, c);
        let rx_corrupt = |c| NetfrontError::Corrupt(Ring::Rx, c);
        let mut poll = FrontPoll::default();
        loop {
            let mut b = [0u8; NetifTxResponse::SIZE];
            while self
                .tx
                .take_response(tx_ring, &mut b)
                .map_err(tx_corrupt)?
                .is_some()
            {
                self.tx_done(NetifTxResponse::from_bytes(&b));
            }
            let mut b = [0u8; NetifRxResponse::SIZE];
            while self
                .rx
                .take_response(rx_ring, &mut b)
                .map_err(rx_corrupt)?
                .is_some()
            {
                if self.rx_done(NetifRxResponse::from_bytes(&b), pages, on_frame) {
                    poll.frames += 1;
                }
            }
            poll.notify |= self.fill_rx(rx_ring);
            let more_tx = self
                .tx
                .final_check_for_responses(tx_ring)
                .map_err(tx_corrupt)?;
            let more_rx = self
                .rx
                .final_check_for_responses(rx_ring)
                .map_err(rx_corrupt)?;
            if !more_tx && !more_rx {
                return Ok(poll);
            }
        }
    }

    fn tx_done(&mut self, rsp: NetifTxResponse) {
        if rsp.status == NETIF_RSP_NULL {
            return;
        }
        if !self.tx_pool.give_back(rsp.id) {
            self.counters.bad_responses += 1;
            return;
        }
        if rsp.status != NETIF_RSP_OKAY {
            self.counters.tx_errors += 1;
        }
    }

    /// Handles one rx response; whether it delivered a frame.
    fn rx_done(
        &mut self,
        rsp: NetifRxResponse,
        pages: &mut dyn PageAccess,
        on_frame: &mut dyn FnMut(&[u8]),
    ) -> bool {
        if !self.rx_pool.give_back(rsp.id) {
            self.counters.bad_responses += 1;
            return false;
        }
        let more = rsp.flags & NETRXF_MORE_DATA != 0;
        let skip = self.skipping;
        self.skipping = more;
        if skip || more {
            // Part of a frame spread over several buffers: never asked for (no feature-sg).
            if !skip {
                self.counters.rx_errors += 1;
            }
            return false;
        }
        if rsp.status < 0 {
            self.counters.rx_errors += 1;
            return false;
        }
        let (offset, len) = (rsp.offset as usize, rsp.status as usize);
        if offset + len > PAGE || len < ETH_HLEN {
            self.counters.bad_responses += 1;
            return false;
        }
        let page = self.rx_pool.pages[rsp.id as usize].page;
        let buf = &mut self.scratch[..len];
        pages.read(page, offset, buf);
        on_frame(buf);
        self.counters.rx_packets += 1;
        self.counters.rx_bytes += len as u64;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{BROADCAST, Bridge, Forward, Mac, PortId};
    use crate::console_ring::RingMemory;
    use crate::net_fakes::{RingPage, Shared};
    use crate::netback::{Netback, STAGING_PAGES};
    use crate::shared_ring::BackRing;
    use hypercall_abi::domid::DomId;
    use hypercall_abi::netif::{NETIF_RSP_ERROR, NetifRxResponse, NetifTxResponse};

    /// One guest with its vif: netfront in the guest, netback in Dom0, the rings between.
    struct Vif {
        domid: DomId,
        mac: Mac,
        front: Netfront,
        back: Netback,
        tx_ring: RingPage,
        rx_ring: RingPage,
        received: Vec<Vec<u8>>,
        notified_backend: u32,
    }

    impl Vif {
        fn new(world: &Shared, domid: DomId, tx_bufs: usize, rx_bufs: usize) -> Self {
            let mut tx_ring = RingPage::new();
            let mut rx_ring = RingPage::new();
            let front = Netfront::new(
                &mut tx_ring,
                &mut rx_ring,
                world.granted_pool(domid, tx_bufs),
                world.granted_pool(domid, rx_bufs),
            )
            .unwrap();
            let back = Netback::new(domid, false, world.staging_pool(STAGING_PAGES)).unwrap();
            let mut vif = Vif {
                domid,
                mac: [0x00, 0x16, 0x3e, 0, 0, domid as u8],
                front,
                back,
                tx_ring,
                rx_ring,
                received: Vec::new(),
                notified_backend: 0,
            };
            assert!(vif.front.fill_rx(&mut vif.rx_ring));
            vif
        }

        fn frame(&self, dst: Mac, payload: &[u8]) -> Vec<u8> {
            let mut f = Vec::new();
            f.extend_from_slice(&dst);
            f.extend_from_slice(&self.mac);
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend_from_slice(payload);
            f
        }

        fn send(&mut self, world: &Shared, frame: &[u8]) -> Result<(), SendError> {
            let mut pages = world.clone();
            if self.front.send(&mut self.tx_ring, &mut pages, frame)? {
                self.notified_backend += 1;
            }
            Ok(())
        }

        fn port(&self) -> PortId {
            self.domid as PortId
        }
    }

    /// Runs Dom0 (every netback, the bridge) and every guest's netfront until nothing moves.
    fn pump(world: &Shared, vifs: &mut [Vif], bridge: &mut Bridge) {
        for _ in 0..100 {
            let mut moved = false;
            let mut out: Vec<(PortId, Vec<u8>)> = Vec::new();
            for v in vifs.iter_mut() {
                let (mut copier, mut pages) = (world.clone(), world.clone());
                let port = v.port();
                v.back
                    .poll_tx(&mut v.tx_ring, &mut copier, &mut pages, &mut |f| {
                        out.push((port, f.to_vec()))
                    })
                    .unwrap();
            }
            for (port, frame) in &out {
                moved = true;
                let targets: Vec<PortId> = match bridge.forward(*port, frame) {
                    Forward::Port(p) => vec![p],
                    Forward::Flood => bridge.flood_ports(*port).collect(),
                    Forward::Drop(_) => vec![],
                };
                for t in targets {
                    let v = vifs.iter_mut().find(|v| v.port() == t).unwrap();
                    let (mut copier, mut pages) = (world.clone(), world.clone());
                    v.back
                        .deliver_rx(&mut v.rx_ring, &mut copier, &mut pages, &[frame])
                        .unwrap();
                }
            }
            for v in vifs.iter_mut() {
                let mut pages = world.clone();
                let mut got = Vec::new();
                let p = v
                    .front
                    .poll(&mut v.tx_ring, &mut v.rx_ring, &mut pages, &mut |f| {
                        got.push(f.to_vec())
                    })
                    .unwrap();
                moved |= p.frames > 0;
                v.received.extend(got);
            }
            if !moved {
                return;
            }
        }
        panic!("the network never settled");
    }

    fn setup(n: u16) -> (Shared, Vec<Vif>, Bridge) {
        let world = Shared::new();
        let mut bridge = Bridge::default();
        let vifs: Vec<Vif> = (1..=n).map(|d| Vif::new(&world, d, 8, 16)).collect();
        for v in &vifs {
            bridge.add_port(v.port()).unwrap();
        }
        (world, vifs, bridge)
    }

    #[test]
    fn frames_cross_from_one_guest_through_the_bridge_to_another() {
        let (world, mut vifs, mut bridge) = setup(3);
        // A broadcast from guest 1 reaches 2 and 3, not 1.
        let hello = vifs[0].frame(BROADCAST, b"who has 10.0.0.2?");
        vifs[0].send(&world, &hello).unwrap();
        pump(&world, &mut vifs, &mut bridge);
        assert_eq!(vifs[1].received, core::slice::from_ref(&hello));
        assert_eq!(vifs[2].received, core::slice::from_ref(&hello));
        assert!(vifs[0].received.is_empty());
        // Guest 2 answers guest 1 by its (now learnt) address: only guest 1 gets it.
        let a_mac = vifs[0].mac;
        let reply = vifs[1].frame(a_mac, &[0x5a; 1500]);
        assert_eq!(reply.len(), MAX_FRAME);
        vifs[1].send(&world, &reply).unwrap();
        pump(&world, &mut vifs, &mut bridge);
        assert_eq!(vifs[0].received, [reply]);
        assert_eq!(vifs[2].received.len(), 1);
        assert_eq!(bridge.counters().unicast, 1);
        for v in &vifs {
            // Every buffer came back: all rx buffers posted again, all tx ones free.
            assert_eq!(v.front.rx_outstanding(), 16);
            assert_eq!(v.front.tx_free(), 8);
            assert_eq!(v.front.counters().tx_errors, 0);
        }
        assert_eq!(vifs[0].back.counters().tx_packets, 1);
        assert_eq!(vifs[2].back.counters().rx_packets, 1);
    }

    #[test]
    fn a_burst_larger_than_the_pools_arrives_whole_and_in_order() {
        let (world, mut vifs, mut bridge) = setup(2);
        // Teach the bridge where guest 2 is.
        let b_mac = vifs[1].mac;
        let hi = vifs[1].frame(BROADCAST, b"hi");
        vifs[1].send(&world, &hi).unwrap();
        pump(&world, &mut vifs, &mut bridge);
        let mut sent = Vec::new();
        let mut busy = 0;
        for i in 0..100u32 {
            let f = vifs[0].frame(b_mac, &i.to_le_bytes().repeat(1 + i as usize * 3));
            loop {
                match vifs[0].send(&world, &f) {
                    Ok(()) => break,
                    Err(SendError::Busy) => {
                        busy += 1;
                        pump(&world, &mut vifs, &mut bridge);
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            // A pump moves at most the 8 frames of the tx pool, fewer than guest 2's 16 rx
            // buffers: nothing is dropped.
            sent.push(f);
        }
        pump(&world, &mut vifs, &mut bridge);
        assert!(busy > 0);
        assert_eq!(vifs[1].received, sent);
        assert_eq!(vifs[0].front.counters().tx_packets, 100);
        assert_eq!(vifs[1].back.counters().rx_dropped, 0);
        assert!(vifs[0].notified_backend > 0);
    }

    #[test]
    fn with_no_rx_buffers_posted_frames_are_dropped_and_counted() {
        let (world, mut vifs, mut bridge) = setup(2);
        let b_mac = vifs[1].mac;
        // 20 frames at once for 16 rx buffers, delivered before guest 2 can repost any.
        for i in 0..20u8 {
            let f = vifs[0].frame(b_mac, &[i; 46]);
            if vifs[0].send(&world, &f) == Err(SendError::Busy) {
                let v = &mut vifs[0];
                let (mut copier, mut pages) = (world.clone(), world.clone());
                let mut out = Vec::new();
                v.back
                    .poll_tx(&mut v.tx_ring, &mut copier, &mut pages, &mut |f| {
                        out.push(f.to_vec())
                    })
                    .unwrap();
                let mut pages = world.clone();
                v.front
                    .poll(&mut v.tx_ring, &mut v.rx_ring, &mut pages, &mut |_| {})
                    .unwrap();
                let w = &mut vifs[1];
                for f in &out {
                    assert_eq!(bridge.forward(1, f), Forward::Flood);
                    let (mut copier, mut pages) = (world.clone(), world.clone());
                    w.back
                        .deliver_rx(&mut w.rx_ring, &mut copier, &mut pages, &[f])
                        .unwrap();
                }
                vifs[0].send(&world, &f).unwrap();
            }
        }
        pump(&world, &mut vifs, &mut bridge);
        assert_eq!(vifs[1].received.len(), 16);
        assert_eq!(vifs[1].back.counters().rx_dropped, 4);
    }

    #[test]
    fn send_checks_lengths() {
        let (world, mut vifs, _) = setup(1);
        assert_eq!(
            vifs[0].send(&world, &[0; 13]),
            Err(SendError::BadLength(13))
        );
        assert_eq!(
            vifs[0].send(&world, &[0; MAX_FRAME + 1]),
            Err(SendError::BadLength(MAX_FRAME + 1))
        );
        assert_eq!(vifs[0].front.counters().tx_packets, 0);
    }

    #[test]
    fn pools_must_fit_the_rings() {
        let world = Shared::new();
        let (mut t, mut r) = (RingPage::new(), RingPage::new());
        let new = |t: &mut RingPage, r: &mut RingPage, n, m| {
            Netfront::new(t, r, world.granted_pool(1, n), world.granted_pool(1, m)).err()
        };
        assert_eq!(new(&mut t, &mut r, 0, 1), Some(NetfrontError::BadPool));
        assert_eq!(new(&mut t, &mut r, 1, 257), Some(NetfrontError::BadPool));
        assert_eq!(new(&mut t, &mut r, 256, 256), None);
    }

    #[test]
    fn a_misbehaving_backend_is_counted_or_disconnected() {
        let world = Shared::new();
        let (mut t, mut r) = (RingPage::new(), RingPage::new());
        let mut front = Netfront::new(
            &mut t,
            &mut r,
            world.granted_pool(1, 2),
            world.granted_pool(1, 4),
        )
        .unwrap();
        front.fill_rx(&mut r);
        let mut pages = world.clone();
        front.send(&mut t, &mut pages, &[1; 60]).unwrap();
        // Play the backend by hand.
        let mut tx_back = BackRing::new(TX_GEOMETRY);
        let mut rx_back = BackRing::new(RX_GEOMETRY);
        let mut b = [0u8; 12];
        tx_back.take_request(&mut t, &mut b).unwrap().unwrap();
        let rsp = |id, status| NetifTxResponse { id, status }.to_bytes();
        tx_back
            .write_response(&mut t, &rsp(0, NETIF_RSP_ERROR))
            .unwrap();
        tx_back.push_responses(&mut t);
        for _ in 0..4 {
            rx_back.take_request(&mut r, &mut b).unwrap().unwrap();
        }
        let rx = |id, offset, flags, status| {
            NetifRxResponse {
                id,
                offset,
                flags,
                status,
            }
            .to_bytes()
        };
        // Past the page; a buffer lent to nobody; a multi-slot frame; a good one.
        rx_back
            .write_response(&mut r, &rx(0, 4000, 0, 200))
            .unwrap();
        rx_back.write_response(&mut r, &rx(9, 0, 0, 60)).unwrap();
        rx_back
            .write_response(&mut r, &rx(1, 0, NETRXF_MORE_DATA, 4096))
            .unwrap();
        rx_back.write_response(&mut r, &rx(2, 0, 0, 60)).unwrap();
        rx_back.push_responses(&mut r);
        let mut got = 0;
        let p = front
            .poll(&mut t, &mut r, &mut pages, &mut |_| got += 1)
            .unwrap();
        // The last one ended the multi-slot frame: dropped too.
        assert_eq!((p.frames, got), (0, 0));
        let c = *front.counters();
        assert_eq!((c.tx_errors, c.bad_responses, c.rx_errors), (1, 2, 1));
        assert_eq!(front.tx_free(), 2);
        // Garbage indexes stop the engine.
        t.write_u32(8, 77);
        assert!(matches!(
            front.poll(&mut t, &mut r, &mut pages, &mut |_| {}),
            Err(NetfrontError::Corrupt(Ring::Tx, _))
        ));
        assert_eq!(
            front.send(&mut t, &mut pages, &[0; 60]),
            Err(SendError::Stopped)
        );
    }
}
