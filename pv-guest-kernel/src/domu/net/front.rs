//! Netfront's runtime: every vif under device/vif connected to its backend (xenbus handshake, rings and buffers granted, an event channel) and offered to the stack as a `NetLink`.
// The handshake follows dom0-tools' xenbus_handshake: the backend's state is watched (one
// watch per vif, token `net:be:<handle>`) and device/vif itself is watched for vifs coming and
// going (network-attach, -detach). On InitWait we check the backend copies on rx, read our MAC,
// take two ring pages and TX_BUFFERS + RX_BUFFERS buffer pages from the net page pool, grant
// them all to the backend, allocate an unbound port, publish the keys and go Initialised; on
// Connected we post the rx buffers. Closing (either end) revokes what the backend no longer
// uses; a ring grant it still maps is kept and revoked once it lets go.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::grant_table::GrantRef;
use hypercall_abi::xenbus::XenbusState;

use dom0_tools::net_pages::{GrantedPage, PageAccess};
use dom0_tools::netfront::{Netfront, SendError};
use dom0_tools::vif::{FrontendRings, check_backend};
use dom0_tools::xenbus_handshake::{Action, Role, next};
use dom0_tools::xl::network::parse_mac;
use dom0_tools::xs_connection::WatchEvent;

use super::device::NetLink;
use crate::arch::x86_64::grant_front::{end_access, grant};
use crate::arch::x86_64::page_pool::SharedPage;
use crate::arch::x86_64::{shared_events, toolstack_calls};
use crate::console::{Escaped, kprintln};
use crate::domu::xenbus::Xenbus;

/// Tx buffer pages per vif.
pub const TX_BUFFERS: usize = 16;
/// Rx buffer pages per vif (more than a TCP window of full segments).
pub const RX_BUFFERS: usize = 32;
/// Received frames queued for the stack at most (older ones are dropped).
const RXQ_MAX: usize = 64;
/// Where the toolstack puts our vifs (relative to our home).
const VIF_DIR: &str = "device/vif";
/// Token of the device/vif watch.
const DIR_TOKEN: &str = "net:vifs";
/// Token prefix of a backend state watch.
const STATE_TOKEN: &str = "net:be:";
/// Most vifs handled.
const MAX_VIFS: usize = 8;

/// The buffer pages, by index.
struct Buffers(Vec<SharedPage>);

impl PageAccess for Buffers {
    fn read(&self, page: usize, offset: usize, buf: &mut [u8]) {
        if let Some(p) = self.0.get(page) {
            p.read(offset, buf);
        }
    }

    fn write(&mut self, page: usize, offset: usize, data: &[u8]) {
        if let Some(p) = self.0.get_mut(page) {
            p.write(offset, data);
        }
    }
}

/// A page granted to the backend (revoked at teardown).
struct Granted {
    page: SharedPage,
    gref: GrantRef,
}

/// Takes a pool page and grants it to `backend`.
fn granted_page(backend: DomId, readonly: bool) -> Result<Granted, String> {
    let page = SharedPage::alloc().map_err(|e| format!("no page for the rings: {e:?}"))?;
    match grant(backend, page.mfn(), readonly) {
        Ok(gref) => Ok(Granted { page, gref }),
        Err(e) => {
            page.free();
            Err(format!("granting a page: {e:?}"))
        }
    }
}

/// Revokes each grant; pages whose grant the backend still uses are returned.
fn revoke(granted: Vec<Granted>) -> Vec<Granted> {
    let mut kept = Vec::new();
    for g in granted {
        if end_access(g.gref) {
            g.page.free();
        } else {
            kept.push(g);
        }
    }
    kept
}

/// A connected vif: the engine, its pages and port, and frames received but not yet taken.
pub struct Conn {
    engine: Netfront,
    tx_ring: SharedPage,
    rx_ring: SharedPage,
    ring_grefs: [GrantRef; 2],
    buffers: Buffers,
    buffer_grefs: Vec<GrantRef>,
    /// Our end of the event channel.
    pub port: EvtchnPort,
    rxq: VecDeque<Vec<u8>>,
    /// Frames dropped because the stack did not take them in time.
    pub rx_dropped: u64,
    /// The backend said Connected (rx buffers posted).
    pub up: bool,
}

impl Conn {
    /// Rings, buffers, grants and port for a backend in domain `backend`; the keys to publish.
    fn set_up(backend: DomId) -> Result<(Conn, FrontendRings), String> {
        let mut taken: Vec<Granted> = Vec::new();
        let r = Self::take_all(backend, &mut taken);
        if r.is_err() {
            // Nothing was published: the backend has none of these.
            let _ = revoke(taken);
        }
        r
    }

    fn take_all(backend: DomId, taken: &mut Vec<Granted>) -> Result<(Conn, FrontendRings), String> {
        let total = 2 + TX_BUFFERS + RX_BUFFERS;
        taken
            .try_reserve_exact(total)
            .map_err(|_| String::from("out of memory"))?;
        for i in 0..total {
            // Tx buffers are only read by the backend.
            let readonly = (2..2 + TX_BUFFERS).contains(&i);
            taken.push(granted_page(backend, readonly)?);
        }
        let port = toolstack_calls::evtchn_alloc_unbound(DOMID_SELF, backend)
            .map_err(|e| format!("allocating an event channel failed ({e})"))?;
        let mut it = core::mem::take(taken).into_iter();
        let (Some(tx), Some(rx)) = (it.next(), it.next()) else {
            return Err(String::from("ring pages missing"));
        };
        let rest: Vec<Granted> = it.collect();
        let mut pages = Vec::new();
        let mut grefs = Vec::new();
        let mut tx_pool = Vec::new();
        let mut rx_pool = Vec::new();
        for (i, g) in rest.into_iter().enumerate() {
            let gp = GrantedPage {
                page: i,
                gref: g.gref,
            };
            if i < TX_BUFFERS {
                tx_pool.push(gp);
            } else {
                rx_pool.push(gp);
            }
            grefs.push(g.gref);
            pages.push(g.page);
        }
        let (mut tx_ring, mut rx_ring) = (tx.page, rx.page);
        let engine = match Netfront::new(&mut tx_ring, &mut rx_ring, tx_pool, rx_pool) {
            Ok(e) => e,
            Err(e) => {
                let _ = toolstack_calls::evtchn_close(port);
                // Put everything back in `taken` for the caller to revoke.
                taken.push(Granted {
                    page: tx_ring,
                    gref: tx.gref,
                });
                taken.push(Granted {
                    page: rx_ring,
                    gref: rx.gref,
                });
                for (page, gref) in pages.into_iter().zip(grefs) {
                    taken.push(Granted { page, gref });
                }
                return Err(format!("netfront engine: {e:?}"));
            }
        };
        let keys = FrontendRings {
            tx_ring_ref: tx.gref,
            rx_ring_ref: rx.gref,
            event_channel: port,
            sg: false,
        };
        Ok((
            Conn {
                engine,
                tx_ring,
                rx_ring,
                ring_grefs: [tx.gref, rx.gref],
                buffers: Buffers(pages),
                buffer_grefs: grefs,
                port,
                rxq: VecDeque::new(),
                rx_dropped: 0,
                up: false,
            },
            keys,
        ))
    }

    /// Posts the rx buffers (the backend is connected).
    fn start(&mut self) {
        self.up = true;
        if self.engine.fill_rx(&mut self.rx_ring) {
            let _ = toolstack_calls::evtchn_send(self.port);
        }
    }

    /// Takes the backend's responses: received frames queued, buffers reposted.
    pub fn poll(&mut self) {
        shared_events::take_pending(self.port);
        if !self.up {
            return;
        }
        let Conn {
            engine,
            tx_ring,
            rx_ring,
            buffers,
            rxq,
            rx_dropped,
            ..
        } = self;
        let mut on_frame = |f: &[u8]| {
            if rxq.len() >= RXQ_MAX {
                rxq.pop_front();
                *rx_dropped += 1;
            }
            let mut v = Vec::new();
            if v.try_reserve_exact(f.len()).is_ok() {
                v.extend_from_slice(f);
                rxq.push_back(v);
            } else {
                *rx_dropped += 1;
            }
        };
        match engine.poll(tx_ring, rx_ring, buffers, &mut on_frame) {
            Ok(p) => {
                if p.notify {
                    let _ = toolstack_calls::evtchn_send(self.port);
                }
            }
            Err(e) => {
                if !engine.is_stopped() {
                    kprintln!("netfront: {:?}", e);
                }
            }
        }
    }

    /// Sends one frame (polling once for free buffers if none is); whether it went.
    pub fn send(&mut self, frame: &[u8]) -> bool {
        if !self.up {
            return false;
        }
        for attempt in 0..2 {
            match self
                .engine
                .send(&mut self.tx_ring, &mut self.buffers, frame)
            {
                Ok(notify) => {
                    if notify {
                        let _ = toolstack_calls::evtchn_send(self.port);
                    }
                    return true;
                }
                Err(SendError::Busy) if attempt == 0 => self.poll(),
                Err(_) => return false,
            }
        }
        false
    }

    /// The next received frame.
    pub fn take_frame(&mut self) -> Option<Vec<u8>> {
        if self.rxq.is_empty() {
            self.poll();
        }
        self.rxq.pop_front()
    }

    /// The engine's counters.
    pub fn counters(&self) -> dom0_tools::netfront::NetfrontCounters {
        *self.engine.counters()
    }

    /// Closes the port and revokes every grant; the ring pages the backend still maps are
    /// returned for a later revoke.
    fn tear_down(self) -> Vec<Granted> {
        let _ = toolstack_calls::evtchn_close(self.port);
        let mut all = Vec::new();
        all.push(Granted {
            page: self.tx_ring,
            gref: self.ring_grefs[0],
        });
        all.push(Granted {
            page: self.rx_ring,
            gref: self.ring_grefs[1],
        });
        for (page, gref) in self.buffers.0.into_iter().zip(self.buffer_grefs) {
            all.push(Granted { page, gref });
        }
        revoke(all)
    }
}

/// A vif's connection, shared between its handshake and the stack's link.
pub type ConnCell = Rc<RefCell<Option<Conn>>>;

/// The stack's link over a vif's connection.
pub struct FrontLink(pub ConnCell);

impl NetLink for FrontLink {
    fn send(&mut self, frame: &[u8]) -> bool {
        self.0.borrow_mut().as_mut().is_some_and(|c| c.send(frame))
    }

    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.0.borrow_mut().as_mut()?.take_frame()?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Some(n)
    }
}

/// One vif of ours.
pub struct Vif {
    /// Its handle (devid).
    pub handle: u32,
    /// The backend's directory.
    pub backend: String,
    /// The backend's domain.
    pub backend_id: DomId,
    /// Our MAC.
    pub mac: [u8; 6],
    /// Our xenbus state.
    pub state: XenbusState,
    /// The connection, while there is one.
    pub conn: ConnCell,
    /// The backend's `ip` node, if the toolstack wrote one.
    pub ip: Option<String>,
    /// Pages granted to the backend that it still used at teardown.
    leftover: Vec<Granted>,
}

impl Vif {
    fn front(&self, key: &str) -> String {
        format!("{VIF_DIR}/{}/{key}", self.handle)
    }

    fn set_state(&mut self, xb: &mut Xenbus, s: XenbusState) {
        self.state = s;
        let path = self.front("state");
        if let Err(e) = xb.write(&path, s.as_str().as_bytes()) {
            kprintln!("netfront: vif {}: writing state: {}", self.handle, e);
        }
    }

    fn backend_state(&self, xb: &mut Xenbus) -> XenbusState {
        xb.read(&format!("{}/state", self.backend))
            .ok()
            .and_then(|v| core::str::from_utf8(&v).ok()?.parse().ok())
            .unwrap_or(XenbusState::Unknown)
    }

    /// Follows the backend until neither end moves.
    fn step(&mut self, xb: &mut Xenbus) {
        self.retry_leftover();
        for _ in 0..4 {
            let theirs = self.backend_state(xb);
            let Some(step) = next(Role::Frontend, self.state, theirs) else {
                return;
            };
            match step.action {
                Action::SetUpRing => {
                    if let Err(e) = self.set_up(xb) {
                        kprintln!("netfront: vif {}: {}", self.handle, e);
                        self.set_state(xb, XenbusState::Closed);
                        return;
                    }
                }
                Action::TearDown => self.tear_down(),
                _ => {}
            }
            self.set_state(xb, step.next);
            if step.next == XenbusState::Connected {
                if let Some(c) = self.conn.borrow_mut().as_mut() {
                    c.start();
                }
                kprintln!(
                    "netfront: vif {} connected (mac {})",
                    self.handle,
                    dom0_tools::vif::mac_text(&self.mac)
                );
            }
            if step.next == XenbusState::Closed {
                self.retry_leftover();
            }
        }
    }

    fn set_up(&mut self, xb: &mut Xenbus) -> Result<(), String> {
        let backend = self.backend.clone();
        let mut read = |k: &str| {
            xb.read(&format!("{backend}/{k}"))
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
        };
        let features = read(hypercall_abi::netif::NETIF_KEY_FEATURE_RX_COPY);
        check_backend(&|k| {
            (k == hypercall_abi::netif::NETIF_KEY_FEATURE_RX_COPY)
                .then(|| features.clone())
                .flatten()
        })?;
        self.ip = read("ip");
        let mac_text = xb
            .read(&self.front("mac"))
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| String::from("no mac"))?;
        self.mac = parse_mac(&mac_text)
            .ok_or_else(|| format!("mac \"{}\" is not a MAC", Escaped(mac_text.as_bytes())))?;
        let (conn, keys) = Conn::set_up(self.backend_id)?;
        for (k, v) in keys.keys() {
            if let Err(e) = xb.write(&self.front(k), v.as_bytes()) {
                let _ = conn.tear_down();
                return Err(format!("writing {k}: {e}"));
            }
        }
        *self.conn.borrow_mut() = Some(conn);
        Ok(())
    }

    fn tear_down(&mut self) {
        if let Some(c) = self.conn.borrow_mut().take() {
            let kept = c.tear_down();
            self.leftover.extend(kept);
            kprintln!("netfront: vif {} disconnected", self.handle);
        }
    }

    fn retry_leftover(&mut self) {
        if !self.leftover.is_empty() {
            self.leftover = revoke(core::mem::take(&mut self.leftover));
        }
    }
}

/// Every vif of ours.
#[derive(Default)]
pub struct Frontends {
    /// The vifs, by handle order of discovery.
    pub vifs: Vec<Vif>,
}

impl Frontends {
    /// Watches device/vif (the watch fires once at once: the vifs there now are found then).
    pub fn start(&mut self, xb: &mut Xenbus) {
        if let Err(e) = xb.watch(VIF_DIR, DIR_TOKEN) {
            kprintln!("netfront: watching {}: {}", VIF_DIR, e);
        }
    }

    /// Handles a watch event if it is ours.
    pub fn handle_event(&mut self, xb: &mut Xenbus, event: &WatchEvent) -> bool {
        let token = event.token.as_slice();
        if token == DIR_TOKEN.as_bytes() {
            self.scan(xb);
            true
        } else if let Some(h) = token.strip_prefix(STATE_TOKEN.as_bytes()) {
            let handle = core::str::from_utf8(h).ok().and_then(|h| h.parse().ok());
            if let Some(v) = self.vifs.iter_mut().find(|v| Some(v.handle) == handle) {
                v.step(xb);
            }
            true
        } else {
            false
        }
    }

    /// Finds vifs that came and forgets those whose directory went.
    fn scan(&mut self, xb: &mut Xenbus) {
        let names = match xb.directory(VIF_DIR) {
            Ok(n) => n,
            Err(e) if e.is_enoent() => Vec::new(),
            Err(e) => {
                kprintln!("netfront: listing {}: {}", VIF_DIR, e);
                return;
            }
        };
        let handles: Vec<u32> = dom0_tools::xs_client::directory_names(&names)
            .filter_map(|n| core::str::from_utf8(n).ok()?.parse().ok())
            .collect();
        let mut i = 0;
        while i < self.vifs.len() {
            if handles.contains(&self.vifs[i].handle) {
                i += 1;
            } else {
                let mut gone = self.vifs.remove(i);
                gone.tear_down();
                kprintln!("netfront: vif {} removed", gone.handle);
            }
        }
        for h in handles {
            if self.vifs.iter().any(|v| v.handle == h) || self.vifs.len() >= MAX_VIFS {
                continue;
            }
            match Self::discover(xb, h) {
                Ok(mut v) => {
                    let token = format!("{STATE_TOKEN}{h}");
                    if let Err(e) = xb.watch(&format!("{}/state", v.backend), &token) {
                        kprintln!("netfront: vif {}: watching the backend: {}", h, e);
                    }
                    v.step(xb);
                    self.vifs.push(v);
                }
                Err(e) => kprintln!("netfront: vif {}: {}", h, e),
            }
        }
    }

    fn discover(xb: &mut Xenbus, handle: u32) -> Result<Vif, String> {
        let mut read = |k: &str| {
            xb.read(&format!("{VIF_DIR}/{handle}/{k}"))
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
        };
        let backend = read("backend").ok_or_else(|| String::from("no backend node"))?;
        let backend_id = read("backend-id")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| String::from("no backend-id node"))?;
        Ok(Vif {
            handle,
            backend,
            backend_id,
            mac: [0; 6],
            state: XenbusState::Initialising,
            conn: Rc::new(RefCell::new(None)),
            ip: None,
            leftover: Vec::new(),
        })
    }

    /// The ports of the connected vifs.
    pub fn ports(&self) -> impl Iterator<Item = EvtchnPort> + '_ {
        self.vifs
            .iter()
            .filter_map(|v| v.conn.borrow().as_ref().map(|c| c.port))
    }

    /// Takes every vif's responses (frames queue up for the stack).
    pub fn poll(&mut self) {
        for v in &self.vifs {
            if let Some(c) = v.conn.borrow_mut().as_mut() {
                c.poll();
            }
        }
    }
}
