//! Netback: Dom0's end of one vif, taking the guest's packets off its tx ring and copying frames into the buffers it posts on its rx ring, with batched GNTTABOP_copy.
// io/netif.h, as Linux's netback reads it. Tx ring (guest -> Dom0): a packet is a chain of
// requests; the first one's `size` is the whole packet's, each later one's its own fragment's,
// and NETTXF_more_data links them; NETTXF_extra_info on the first one puts `netif_extra_info`
// slots right after it (chained with XEN_NETIF_EXTRA_FLAG_MORE). Every slot gets a response in
// ring order: data slots OKAY or ERROR, extra slots NULL. Rx ring (Dom0 -> guest): the guest
// posts requests naming granted empty pages; a frame goes into as many of them as it needs
// (one unless the frontend offered feature-sg), each response carrying the bytes put there
// and NETRXF_more_data on all but the last.
//
// The guest is hostile. Its requests are copied out of the ring once and checked: a packet
// whose sizes do not add up, runs past a page or is shorter than an Ethernet header, asks for
// more than XEN_NETIF_NR_SLOTS_MIN slots or carries an extra we do not offer (GSO) or do not
// know gets ERROR responses and goes nowhere; a grant the copy refuses (per-operation status)
// does the same for its packet. What cannot be answered sensibly is fatal and the engine stops
// (the caller disconnects the vif): ring indexes outside what the ring can hold, a chain that
// runs past the requests the guest published. Data is only ever copied by the hypervisor
// between the guest's grants and Dom0's staging pages; no guest page is mapped here.

use alloc::vec::Vec;

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::errno::Errno;
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTST_OKAY, GnttabCopy, GnttabCopyPtr,
};
use hypercall_abi::netif::{
    NET_RX_SLOT_SIZE, NET_TX_RING_SIZE, NET_TX_SLOT_SIZE, NETIF_RSP_ERROR, NETIF_RSP_NULL,
    NETIF_RSP_OKAY, NETRXF_MORE_DATA, NETTXF_EXTRA_INFO, NETTXF_MORE_DATA, NetifExtraInfo,
    NetifRxRequest, NetifRxResponse, NetifTxRequest, NetifTxResponse, XEN_NETIF_EXTRA_FLAG_MORE,
    XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
    XEN_NETIF_MAX_TX_SIZE, XEN_NETIF_NR_SLOTS_MIN,
};

use crate::grant_copier::GrantCopier;
use crate::net_pages::{PAGE, PageAccess, StagingPage};
use crate::shared_ring::{BackRing, Corrupt, RingGeometry, SharedRingMemory};

/// Bytes of an Ethernet header: the shortest frame either ring carries.
pub const ETH_HLEN: usize = 14;
/// Data slots one tx packet may use (XEN_NETIF_NR_SLOTS_MIN, what a backend must accept).
pub const MAX_TX_SLOTS: usize = XEN_NETIF_NR_SLOTS_MIN;
/// Staging pages a netback needs: room for the largest packet (65535 bytes).
pub const STAGING_PAGES: usize = (XEN_NETIF_MAX_TX_SIZE as usize).div_ceil(PAGE);
/// Largest frame handled (XEN_NETIF_MAX_TX_SIZE).
pub const MAX_FRAME: usize = XEN_NETIF_MAX_TX_SIZE as usize;
/// Tx requests one `poll_tx` takes at most before it returns (a busy guest cannot hold Dom0).
pub const TX_BUDGET: u32 = NET_TX_RING_SIZE as u32;
/// Extra-info slots a packet may carry (one of each type at most).
const MAX_EXTRAS: usize = 4;

/// The tx ring: one page of 12-byte slots.
pub const TX_GEOMETRY: RingGeometry = match RingGeometry::new(PAGE, NET_TX_SLOT_SIZE) {
    Some(g) => g,
    None => panic!("a tx slot fits a page"),
};
/// The rx ring: one page of 8-byte slots.
pub const RX_GEOMETRY: RingGeometry = match RingGeometry::new(PAGE, NET_RX_SLOT_SIZE) {
    Some(g) => g,
    None => panic!("an rx slot fits a page"),
};

/// Which ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ring {
    /// Guest to Dom0.
    Tx,
    /// Dom0 to guest.
    Rx,
}

/// Why the engine stopped serving the vif (the caller disconnects it) or could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetbackError {
    /// A ring's indexes are outside what it can hold.
    Corrupt(Ring, Corrupt),
    /// A tx packet's chain runs past the requests the guest published.
    Truncated,
    /// The copy hypercall refused a whole batch.
    Copy(Errno),
    /// Fewer than `STAGING_PAGES` staging pages were given.
    TooFewStagingPages,
    /// No memory for the engine's buffers.
    NoMemory,
    /// An earlier error stopped the engine.
    Stopped,
}

/// What the engine did, for `xl network-list`-like views and tests. Tx is the guest's
/// sending (its tx ring), rx its receiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetbackCounters {
    /// Packets taken off the tx ring and handed on.
    pub tx_packets: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Tx packets answered ERROR (malformed, refused extras, failed copies).
    pub tx_errors: u64,
    /// Frames copied into the guest's rx buffers.
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Frames dropped because the guest had not posted enough rx buffers.
    pub rx_dropped: u64,
    /// Frames dropped as too short, too long, or needing several slots of a guest without
    /// feature-sg.
    pub rx_oversize: u64,
    /// Frames whose copy into the guest failed (answered ERROR).
    pub rx_errors: u64,
    /// GNTTABOP_copy batches issued.
    pub copy_batches: u64,
    /// Times the guest had to be notified (responses pushed past its event index).
    pub notifications: u64,
    /// Times responses were pushed without needing a notification (suppressed).
    pub suppressed: u64,
}

/// The outcome of a `poll_tx` or `deliver_rx` call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Poll {
    /// Send the guest an event (responses it asked to hear about).
    pub notify: bool,
    /// Tx: requests are left because the budget ran out; poll again soon.
    pub more: bool,
    /// Packets or frames that went through.
    pub done: u32,
}

/// One tx response waiting for its batch's copy, and whether it answers a data slot.
#[derive(Clone, Copy, Debug)]
struct PendingTx {
    rsp: NetifTxResponse,
    data: bool,
}

/// A packet (tx) or frame (rx) of a batch.
#[derive(Clone, Copy, Debug)]
struct BatchItem {
    /// Its responses in the batch's response list.
    rsps: (usize, usize),
    /// Its copy operations.
    ops: (usize, usize),
    /// Where it starts in the staging area, and its length.
    at: usize,
    len: usize,
    /// Already known bad (tx): answered ERROR whatever the copy says.
    bad: bool,
}

/// One vif's backend engine. It owns no memory of the guest: every call is given the ring
/// page it works on, the copier and the staging pages' access.
pub struct Netback {
    frontend: DomId,
    frontend_sg: bool,
    tx: BackRing,
    rx: BackRing,
    staging: Vec<StagingPage>,
    counters: NetbackCounters,
    stopped: bool,
    // Per-batch scratch, allocated once.
    ops: Vec<GnttabCopy>,
    items: Vec<BatchItem>,
    tx_rsps: Vec<PendingTx>,
    rx_rsps: Vec<NetifRxResponse>,
    frags: Vec<NetifTxRequest>,
    frame: Vec<u8>,
}

fn reserve<T>(v: &mut Vec<T>, n: usize) -> Result<(), NetbackError> {
    v.try_reserve_exact(n).map_err(|_| NetbackError::NoMemory)
}

impl Netback {
    /// The backend of `frontend`'s vif over freshly initialised rings, staging through
    /// `staging` (at least `STAGING_PAGES` Dom0 pages). `frontend_sg`: the frontend wrote
    /// feature-sg=1, so a frame may span several of its rx buffers.
    pub fn new(
        frontend: DomId,
        frontend_sg: bool,
        staging: Vec<StagingPage>,
    ) -> Result<Self, NetbackError> {
        if staging.len() < STAGING_PAGES {
            return Err(NetbackError::TooFewStagingPages);
        }
        let ring = NET_TX_RING_SIZE;
        let mut nb = Netback {
            frontend,
            frontend_sg,
            tx: BackRing::new(TX_GEOMETRY),
            rx: BackRing::new(RX_GEOMETRY),
            staging,
            counters: NetbackCounters::default(),
            stopped: false,
            ops: Vec::new(),
            items: Vec::new(),
            tx_rsps: Vec::new(),
            rx_rsps: Vec::new(),
            frags: Vec::new(),
            frame: Vec::new(),
        };
        // A batch holds at most a ring of requests; a slot's data crosses at most one staging
        // page boundary, so it needs at most two copy operations.
        reserve(&mut nb.ops, 2 * ring)?;
        reserve(&mut nb.items, ring)?;
        reserve(&mut nb.tx_rsps, ring)?;
        reserve(&mut nb.rx_rsps, ring)?;
        reserve(&mut nb.frags, ring)?;
        reserve(&mut nb.frame, MAX_FRAME)?;
        nb.frame.resize(MAX_FRAME, 0);
        Ok(nb)
    }

    /// What the engine did so far.
    pub const fn counters(&self) -> &NetbackCounters {
        &self.counters
    }

    /// Whether an error stopped the engine.
    pub const fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn count_push(&mut self, notify: bool) {
        if notify {
            self.counters.notifications += 1;
        } else {
            self.counters.suppressed += 1;
        }
    }

    /// Takes the guest's tx packets (at most `TX_BUDGET` requests), hands each good frame to
    /// `out` and answers every request. When the ring is empty it re-arms the request event
    /// so the guest's next packet raises an event.
    pub fn poll_tx(
        &mut self,
        ring: &mut dyn SharedRingMemory,
        copier: &mut dyn GrantCopier,
        pages: &mut dyn PageAccess,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<Poll, NetbackError> {
        if self.stopped {
            return Err(NetbackError::Stopped);
        }
        let r = self.poll_tx_inner(ring, copier, pages, out);
        if let Err(e) = r {
            if let NetbackError::Copy(_) = e {
                // The batch was answered ERROR: let the guest see it before we stop.
                self.tx.push_responses(ring);
            }
            self.stopped = true;
        }
        r
    }

    fn poll_tx_inner(
        &mut self,
        ring: &mut dyn SharedRingMemory,
        copier: &mut dyn GrantCopier,
        pages: &mut dyn PageAccess,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<Poll, NetbackError> {
        let corrupt = |c| NetbackError::Corrupt(Ring::Tx, c);
        let mut poll = Poll::default();
        let start = self.tx.req_cons();
        loop {
            let waiting = self.tx.unconsumed_requests(ring).map_err(corrupt)?;
            if waiting == 0 {
                if self.tx.final_check_for_requests(ring).map_err(corrupt)? {
                    continue;
                }
                break;
            }
            if self.tx.req_cons().wrapping_sub(start) >= TX_BUDGET {
                poll.more = true;
                break;
            }
            // One batch: whole packets while the staging area has room.
            let mut cursor = 0;
            while self.tx.req_cons().wrapping_sub(start) < TX_BUDGET
                && self.tx.unconsumed_requests(ring).map_err(corrupt)? > 0
            {
                let len = self.take_tx_packet(ring)?;
                if cursor + len > STAGING_PAGES * PAGE {
                    // Answer what is staged first; the new packet stays for the next batch.
                    let staged = self.items.len() - 1;
                    poll.done += self.flush_tx(ring, copier, pages, out, staged)?;
                    cursor = 0;
                }
                self.stage_tx_packet(cursor);
                cursor += len;
            }
            let all = self.items.len();
            poll.done += self.flush_tx(ring, copier, pages, out, all)?;
            let notify = self.tx.push_responses(ring);
            self.count_push(notify);
            poll.notify |= notify;
        }
        Ok(poll)
    }

    /// Takes one request off the tx ring.
    fn take_tx(&mut self, ring: &mut dyn SharedRingMemory) -> Result<[u8; 12], NetbackError> {
        let mut b = [0u8; NetifTxRequest::SIZE];
        match self.tx.take_request(ring, &mut b) {
            Ok(Some(_)) => Ok(b),
            Ok(None) => Err(NetbackError::Truncated),
            Err(c) => Err(NetbackError::Corrupt(Ring::Tx, c)),
        }
    }

    /// Takes one packet's slots, lists its responses (OKAY for now) and a batch item for it
    /// (not placed yet), its data fragments in `frags`; returns the bytes it needs staged.
    fn take_tx_packet(&mut self, ring: &mut dyn SharedRingMemory) -> Result<usize, NetbackError> {
        let first = NetifTxRequest::from_bytes(&self.take_tx(ring)?);
        let rsp_start = self.tx_rsps.len();
        let okay = |id| NetifTxResponse {
            id,
            status: NETIF_RSP_OKAY,
        };
        self.tx_rsps.push(PendingTx {
            rsp: okay(first.id),
            data: true,
        });
        let mut bad = false;
        if first.flags & NETTXF_EXTRA_INFO != 0 {
            let mut extras = 0;
            loop {
                let b = self.take_tx(ring)?;
                let mut e = [0u8; NetifExtraInfo::SIZE];
                e.copy_from_slice(&b[..NetifExtraInfo::SIZE]);
                let extra = NetifExtraInfo::from_bytes(&e);
                self.tx_rsps.push(PendingTx {
                    rsp: NetifTxResponse {
                        id: 0,
                        status: NETIF_RSP_NULL,
                    },
                    data: false,
                });
                extras += 1;
                match extra.type_ {
                    // Harmless hints: we filter no multicast and keep no hash.
                    XEN_NETIF_EXTRA_TYPE_MCAST_ADD
                    | XEN_NETIF_EXTRA_TYPE_MCAST_DEL
                    | XEN_NETIF_EXTRA_TYPE_HASH => {}
                    // Segmentation offload (XEN_NETIF_EXTRA_TYPE_GSO) is not offered; other
                    // types mean nothing.
                    _ => bad = true,
                }
                if extras > MAX_EXTRAS {
                    bad = true;
                }
                if extra.flags & XEN_NETIF_EXTRA_FLAG_MORE == 0 {
                    break;
                }
            }
        }
        self.frags.clear();
        let mut more = first.flags & NETTXF_MORE_DATA != 0;
        while more {
            let frag = NetifTxRequest::from_bytes(&self.take_tx(ring)?);
            more = frag.flags & NETTXF_MORE_DATA != 0;
            self.tx_rsps.push(PendingTx {
                rsp: okay(frag.id),
                data: true,
            });
            if self.frags.len() + 1 >= MAX_TX_SLOTS {
                bad = true;
            } else {
                self.frags.push(frag);
            }
        }
        let total = first.size as usize;
        let in_frags: usize = self.frags.iter().map(|f| f.size as usize).sum();
        let head = total.checked_sub(in_frags);
        bad |= match head {
            None => true,
            Some(head) => {
                total < ETH_HLEN
                    || first.offset as usize + head > PAGE
                    || self.frags.iter().any(|f| !f.fits_in_page())
            }
        };
        // The first slot's own part goes first: keep it with the fragments.
        self.frags.insert(
            0,
            NetifTxRequest {
                size: head.unwrap_or(0) as u16,
                ..first
            },
        );
        self.items.push(BatchItem {
            rsps: (rsp_start, self.tx_rsps.len()),
            ops: (0, 0),
            at: 0,
            len: if bad { 0 } else { total },
            bad,
        });
        Ok(if bad { 0 } else { total })
    }

    /// Lists the copy operations of the last item (its slots in `frags`) into staging at
    /// byte `at`, splitting a slot where it crosses a staging page.
    fn stage_tx_packet(&mut self, at: usize) {
        let op_start = self.ops.len();
        let Some(item) = self.items.last_mut() else {
            return;
        };
        item.at = at;
        if !item.bad {
            let mut pos = at;
            for f in &self.frags {
                let mut src = f.offset as usize;
                let mut left = f.size as usize;
                while left > 0 {
                    let room = PAGE - pos % PAGE;
                    let n = left.min(room);
                    self.ops.push(GnttabCopy {
                        source: GnttabCopyPtr {
                            u: f.gref as u64,
                            domid: self.frontend,
                            offset: src as u16,
                            pad: 0,
                        },
                        dest: GnttabCopyPtr {
                            u: self.staging[pos / PAGE].frame,
                            domid: DOMID_SELF,
                            offset: (pos % PAGE) as u16,
                            pad: 0,
                        },
                        len: n as u16,
                        flags: GNTCOPY_SOURCE_GREF,
                        status: 0,
                        pad: 0,
                    });
                    src += n;
                    pos += n;
                    left -= n;
                }
            }
        }
        item.ops = (op_start, self.ops.len());
    }

    /// Copies the batch, hands the good ones of its first `n` packets on and writes their
    /// responses (the packets after them wait, not staged yet); returns how many went through.
    fn flush_tx(
        &mut self,
        ring: &mut dyn SharedRingMemory,
        copier: &mut dyn GrantCopier,
        pages: &mut dyn PageAccess,
        out: &mut dyn FnMut(&[u8]),
        n: usize,
    ) -> Result<u32, NetbackError> {
        let copied = self.copy_batch(copier);
        let mut done = 0;
        for i in 0..n {
            let item = self.items[i];
            let ok = copied.is_ok()
                && !item.bad
                && self.ops[item.ops.0..item.ops.1]
                    .iter()
                    .all(|op| op.status == GNTST_OKAY);
            if ok {
                let frame = &mut self.frame[..item.len];
                read_staged(pages, &self.staging, item.at, frame);
                out(frame);
                self.counters.tx_packets += 1;
                self.counters.tx_bytes += item.len as u64;
                done += 1;
            } else {
                self.counters.tx_errors += 1;
                for p in &mut self.tx_rsps[item.rsps.0..item.rsps.1] {
                    if p.data {
                        p.rsp.status = NETIF_RSP_ERROR;
                    }
                }
            }
        }
        let end = self
            .items
            .get(n)
            .map_or(self.tx_rsps.len(), |waiting| waiting.rsps.0);
        for p in &self.tx_rsps[..end] {
            // Every response answers a request this batch consumed, so a slot is free.
            let _ = self.tx.write_response(ring, &p.rsp.to_bytes());
        }
        self.tx_rsps.drain(..end);
        self.items.drain(..n);
        for waiting in &mut self.items {
            waiting.rsps = (waiting.rsps.0 - end, waiting.rsps.1 - end);
        }
        self.ops.clear();
        copied.map(|()| done)
    }

    fn copy_batch(&mut self, copier: &mut dyn GrantCopier) -> Result<(), NetbackError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        self.counters.copy_batches += 1;
        copier.copy(&mut self.ops).map_err(NetbackError::Copy)
    }

    /// Copies `frames` into the rx buffers the guest posted, in order, and answers their
    /// requests. A frame the guest has no room for is dropped (counted), as is one too short,
    /// too long, or needing several buffers of a guest without feature-sg.
    pub fn deliver_rx(
        &mut self,
        ring: &mut dyn SharedRingMemory,
        copier: &mut dyn GrantCopier,
        pages: &mut dyn PageAccess,
        frames: &[&[u8]],
    ) -> Result<Poll, NetbackError> {
        if self.stopped {
            return Err(NetbackError::Stopped);
        }
        let r = self.deliver_rx_inner(ring, copier, pages, frames);
        if let Err(e) = r {
            if let NetbackError::Copy(_) = e {
                // The batch was answered ERROR: let the guest see it before we stop.
                self.rx.push_responses(ring);
            }
            self.stopped = true;
        }
        r
    }

    fn deliver_rx_inner(
        &mut self,
        ring: &mut dyn SharedRingMemory,
        copier: &mut dyn GrantCopier,
        pages: &mut dyn PageAccess,
        frames: &[&[u8]],
    ) -> Result<Poll, NetbackError> {
        let corrupt = |c| NetbackError::Corrupt(Ring::Rx, c);
        let mut poll = Poll::default();
        let mut used_pages = 0;
        let mut answered = 0;
        for frame in frames {
            let slots = frame.len().div_ceil(PAGE);
            if frame.len() < ETH_HLEN || frame.len() > MAX_FRAME || (slots > 1 && !self.frontend_sg)
            {
                self.counters.rx_oversize += 1;
                continue;
            }
            if (self.rx.unconsumed_requests(ring).map_err(corrupt)? as usize) < slots {
                self.counters.rx_dropped += 1;
                continue;
            }
            if used_pages + slots > self.staging.len() {
                poll.done += self.flush_rx(ring, copier)?;
                used_pages = 0;
            }
            let rsp_start = self.rx_rsps.len();
            let op_start = self.ops.len();
            for (k, chunk) in frame.chunks(PAGE).enumerate() {
                let staged = self.staging[used_pages + k];
                pages.write(staged.page, 0, chunk);
                let mut b = [0u8; NetifRxRequest::SIZE];
                match self.rx.take_request(ring, &mut b) {
                    Ok(Some(_)) => {}
                    // It counted the requests a moment ago: a smaller count now is garbage.
                    Ok(None) => {
                        return Err(NetbackError::Corrupt(
                            Ring::Rx,
                            Corrupt {
                                cons: self.rx.req_cons(),
                                prod: self.rx.req_cons(),
                            },
                        ));
                    }
                    Err(c) => return Err(corrupt(c)),
                }
                let req = NetifRxRequest::from_bytes(&b);
                self.ops.push(GnttabCopy {
                    source: GnttabCopyPtr {
                        u: staged.frame,
                        domid: DOMID_SELF,
                        offset: 0,
                        pad: 0,
                    },
                    dest: GnttabCopyPtr {
                        u: req.gref as u64,
                        domid: self.frontend,
                        offset: 0,
                        pad: 0,
                    },
                    len: chunk.len() as u16,
                    flags: GNTCOPY_DEST_GREF,
                    status: 0,
                    pad: 0,
                });
                let last = (k + 1) * PAGE >= frame.len();
                self.rx_rsps.push(NetifRxResponse {
                    id: req.id,
                    offset: 0,
                    flags: if last { 0 } else { NETRXF_MORE_DATA },
                    status: chunk.len() as i16,
                });
            }
            used_pages += slots;
            answered += 1;
            self.items.push(BatchItem {
                rsps: (rsp_start, self.rx_rsps.len()),
                ops: (op_start, self.ops.len()),
                at: 0,
                len: frame.len(),
                bad: false,
            });
        }
        poll.done += self.flush_rx(ring, copier)?;
        if answered > 0 {
            let notify = self.rx.push_responses(ring);
            self.count_push(notify);
            poll.notify = notify;
        }
        Ok(poll)
    }

    /// Copies the staged frames into the guest and writes their responses; returns how many
    /// frames went through.
    fn flush_rx(
        &mut self,
        ring: &mut dyn SharedRingMemory,
        copier: &mut dyn GrantCopier,
    ) -> Result<u32, NetbackError> {
        let copied = self.copy_batch(copier);
        let mut done = 0;
        for item in &self.items {
            let ok = copied.is_ok()
                && self.ops[item.ops.0..item.ops.1]
                    .iter()
                    .all(|op| op.status == GNTST_OKAY);
            if ok {
                self.counters.rx_packets += 1;
                self.counters.rx_bytes += item.len as u64;
                done += 1;
            } else {
                self.counters.rx_errors += 1;
                for r in &mut self.rx_rsps[item.rsps.0..item.rsps.1] {
                    r.status = NETIF_RSP_ERROR;
                }
            }
        }
        for r in &self.rx_rsps {
            // Every response answers a request this batch consumed, so a slot is free.
            let _ = self.rx.write_response(ring, &r.to_bytes());
        }
        self.rx_rsps.clear();
        self.items.clear();
        self.ops.clear();
        copied.map(|()| done)
    }
}

/// Reads `buf.len()` staged bytes starting at byte `at` of the staging area.
fn read_staged(pages: &dyn PageAccess, staging: &[StagingPage], at: usize, buf: &mut [u8]) {
    let mut pos = at;
    let mut done = 0;
    while done < buf.len() {
        let n = (buf.len() - done).min(PAGE - pos % PAGE);
        pages.read(
            staging[pos / PAGE].page,
            pos % PAGE,
            &mut buf[done..done + n],
        );
        pos += n;
        done += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console_ring::RingMemory;
    use crate::net_fakes::{RingPage, Shared};
    use crate::net_pages::GrantedPage;
    use crate::shared_ring::FrontRing;
    use hypercall_abi::grant_table::GrantRef;
    use hypercall_abi::netif::{
        NETIF_RSP_OKAY, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
        XEN_NETIF_EXTRA_TYPE_NONE,
    };

    const GUEST: DomId = 5;

    /// A netback and a hand-driven (possibly hostile) frontend over in-memory pages.
    struct Rig {
        world: Shared,
        nb: Netback,
        tx_ring: RingPage,
        rx_ring: RingPage,
        tx: FrontRing,
        rx: FrontRing,
        frames: Vec<Vec<u8>>,
    }

    impl Rig {
        fn new(sg: bool) -> Self {
            let world = Shared::new();
            let mut tx_ring = RingPage::new();
            let mut rx_ring = RingPage::new();
            let tx = FrontRing::init(&mut tx_ring, TX_GEOMETRY);
            let rx = FrontRing::init(&mut rx_ring, RX_GEOMETRY);
            let nb = Netback::new(GUEST, sg, world.staging_pool(STAGING_PAGES)).unwrap();
            Rig {
                world,
                nb,
                tx_ring,
                rx_ring,
                tx,
                rx,
                frames: Vec::new(),
            }
        }

        /// A granted guest page holding `data` at `offset`.
        fn guest_data(&self, offset: usize, data: &[u8]) -> GrantedPage {
            let g = self.world.granted(GUEST);
            self.world.fill(g.page, offset, data);
            g
        }

        fn request(&mut self, req: NetifTxRequest) {
            self.tx
                .write_request(&mut self.tx_ring, &req.to_bytes())
                .unwrap();
        }

        fn extra(&mut self, type_: u8, flags: u8) {
            let e = NetifExtraInfo {
                type_,
                flags,
                u: [0; 6],
            };
            let mut b = [0u8; NET_TX_SLOT_SIZE];
            b[..8].copy_from_slice(&e.to_bytes());
            self.tx.write_request(&mut self.tx_ring, &b).unwrap();
        }

        /// Pushes the requests written and polls the backend.
        fn poll(&mut self) -> Result<Poll, NetbackError> {
            self.tx.push_requests(&mut self.tx_ring);
            let mut frames = Vec::new();
            let mut world = self.world.clone();
            let mut pages = self.world.clone();
            let r = self
                .nb
                .poll_tx(&mut self.tx_ring, &mut world, &mut pages, &mut |f| {
                    frames.push(f.to_vec())
                });
            self.frames.extend(frames);
            r
        }

        fn tx_responses(&mut self) -> Vec<NetifTxResponse> {
            let mut out = Vec::new();
            let mut b = [0u8; 4];
            while self
                .tx
                .take_response(&mut self.tx_ring, &mut b)
                .unwrap()
                .is_some()
            {
                out.push(NetifTxResponse::from_bytes(&b));
            }
            out
        }

        fn post_rx(&mut self, id: u16, gref: GrantRef) {
            let req = NetifRxRequest { id, pad: 0, gref };
            self.rx
                .write_request(&mut self.rx_ring, &req.to_bytes())
                .unwrap();
            self.rx.push_requests(&mut self.rx_ring);
        }

        fn deliver(&mut self, frames: &[&[u8]]) -> Result<Poll, NetbackError> {
            let mut world = self.world.clone();
            let mut pages = self.world.clone();
            self.nb
                .deliver_rx(&mut self.rx_ring, &mut world, &mut pages, frames)
        }

        fn rx_responses(&mut self) -> Vec<NetifRxResponse> {
            let mut out = Vec::new();
            let mut b = [0u8; 8];
            while self
                .rx
                .take_response(&mut self.rx_ring, &mut b)
                .unwrap()
                .is_some()
            {
                out.push(NetifRxResponse::from_bytes(&b));
            }
            out
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
    }

    fn okay(id: u16) -> NetifTxResponse {
        NetifTxResponse {
            id,
            status: NETIF_RSP_OKAY,
        }
    }

    fn error(id: u16) -> NetifTxResponse {
        NetifTxResponse {
            id,
            status: NETIF_RSP_ERROR,
        }
    }

    fn null() -> NetifTxResponse {
        NetifTxResponse {
            id: 0,
            status: NETIF_RSP_NULL,
        }
    }

    fn tx(g: GrantedPage, offset: usize, flags: u16, id: u16, size: usize) -> NetifTxRequest {
        NetifTxRequest {
            gref: g.gref,
            offset: offset as u16,
            flags,
            id,
            size: size as u16,
        }
    }

    #[test]
    fn a_one_slot_packet_comes_out_whole_and_is_answered() {
        let mut r = Rig::new(false);
        let data = pattern(60, 1);
        let g = r.guest_data(100, &data);
        r.request(tx(g, 100, 0, 7, 60));
        let p = r.poll().unwrap();
        assert_eq!((p.done, p.notify, p.more), (1, true, false));
        assert_eq!(r.frames, [data]);
        assert_eq!(r.tx_responses(), [okay(7)]);
        let c = r.nb.counters();
        assert_eq!((c.tx_packets, c.tx_bytes, c.copy_batches), (1, 60, 1));
    }

    #[test]
    fn a_multi_slot_packet_is_put_back_together() {
        let mut r = Rig::new(false);
        let small = pattern(60, 1);
        let s = r.guest_data(0, &small);
        r.request(tx(s, 0, 0, 0, 60));
        let data = pattern(8000, 2);
        let a = r.guest_data(4000, &data[..96]);
        let b = r.guest_data(0, &data[96..4096]);
        let c = r.guest_data(10, &data[4096..]);
        r.request(tx(a, 4000, NETTXF_MORE_DATA, 1, 8000));
        r.request(tx(b, 0, NETTXF_MORE_DATA, 2, 4000));
        r.request(tx(c, 10, 0, 3, 8000 - 4096));
        r.poll().unwrap();
        assert_eq!(r.frames, [small, data]);
        assert_eq!(r.tx_responses(), [okay(0), okay(1), okay(2), okay(3)]);
        // Four slots, one copy batch; the slot crossing a staging page is split in two.
        assert_eq!(r.world.0.borrow().batches, [5]);
    }

    #[test]
    fn many_packets_share_batches_and_keep_their_order() {
        let mut r = Rig::new(false);
        let mut sent = Vec::new();
        for i in 0..40u16 {
            let data = pattern(3000 + i as usize, i as u8);
            let g = r.guest_data(1000, &data);
            r.request(tx(g, 1000, 0, i, data.len()));
            sent.push(data);
        }
        let p = r.poll().unwrap();
        assert_eq!(p.done, 40);
        assert_eq!(r.frames, sent);
        let rsps = r.tx_responses();
        assert_eq!(rsps, (0..40).map(okay).collect::<Vec<_>>());
        // 40 * ~3 KiB does not fit 64 KiB of staging: several batches, all in order.
        let batches = r.world.0.borrow().batches.clone();
        assert!(batches.len() >= 2, "{batches:?}");
        assert!(batches.iter().sum::<usize>() >= 40);
    }

    #[test]
    fn extra_info_slots_get_null_responses_and_gso_is_refused() {
        let mut r = Rig::new(false);
        let data = pattern(100, 3);
        let g = r.guest_data(0, &data);
        // A multicast hint is skipped.
        r.request(tx(g, 0, NETTXF_EXTRA_INFO, 1, 100));
        r.extra(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0);
        // GSO was not offered: the packet is refused, its extra slot still answered NULL.
        r.request(tx(g, 0, NETTXF_EXTRA_INFO | NETTXF_MORE_DATA, 2, 100));
        r.extra(XEN_NETIF_EXTRA_TYPE_GSO, 0);
        r.request(tx(g, 0, 0, 3, 50));
        // An extra of no known type, chained after a good one.
        r.request(tx(g, 0, NETTXF_EXTRA_INFO, 4, 100));
        r.extra(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE);
        r.extra(XEN_NETIF_EXTRA_TYPE_NONE, 0);
        r.request(tx(g, 0, 0, 5, 100));
        r.poll().unwrap();
        assert_eq!(r.frames, [data.clone(), data]);
        assert_eq!(
            r.tx_responses(),
            [
                okay(1),
                null(),
                error(2),
                null(),
                error(3),
                error(4),
                null(),
                null(),
                okay(5)
            ]
        );
        assert_eq!(r.nb.counters().tx_errors, 2);
    }

    #[test]
    fn malformed_packets_are_answered_error_and_the_next_one_still_goes() {
        let mut r = Rig::new(false);
        let data = pattern(200, 4);
        let g = r.guest_data(0, &data);
        // Fragments larger than the whole packet.
        r.request(tx(g, 0, NETTXF_MORE_DATA, 1, 100));
        r.request(tx(g, 0, 0, 2, 150));
        // Past the end of the page.
        r.request(tx(g, 4000, 0, 3, 200));
        // A first slot whose own part runs past its page.
        r.request(tx(g, 100, NETTXF_MORE_DATA, 4, 5000));
        r.request(tx(g, 0, 0, 5, 100));
        // Shorter than an Ethernet header.
        r.request(tx(g, 0, 0, 6, 13));
        // A fragment past its page.
        r.request(tx(g, 0, NETTXF_MORE_DATA, 7, 300));
        r.request(tx(g, 4000, 0, 8, 100));
        // A good one.
        r.request(tx(g, 0, 0, 9, 200));
        r.poll().unwrap();
        assert_eq!(r.frames, [data]);
        let ids: Vec<_> = r.tx_responses().iter().map(|x| (x.id, x.status)).collect();
        let mut want: Vec<_> = (1..9).map(|id| (id, NETIF_RSP_ERROR)).collect();
        want.push((9, NETIF_RSP_OKAY));
        assert_eq!(ids, want);
        assert_eq!(r.nb.counters().tx_errors, 5);
    }

    #[test]
    fn more_slots_than_a_packet_may_use_are_refused() {
        let mut r = Rig::new(false);
        let g = r.guest_data(0, &pattern(100, 5));
        for (slots, ok) in [(MAX_TX_SLOTS, true), (MAX_TX_SLOTS + 1, false)] {
            for i in 0..slots {
                let last = i + 1 == slots;
                let flags = if last { 0 } else { NETTXF_MORE_DATA };
                let size = if i == 0 { 20 * slots } else { 20 };
                r.request(tx(g, 0, flags, i as u16, size));
            }
            r.poll().unwrap();
            let rsps = r.tx_responses();
            assert_eq!(rsps.len(), slots);
            let status = if ok { NETIF_RSP_OKAY } else { NETIF_RSP_ERROR };
            assert!(rsps.iter().all(|x| x.status == status), "{rsps:?}");
        }
        assert_eq!(r.frames.len(), 1);
        assert_eq!(r.frames[0].len(), 20 * MAX_TX_SLOTS);
    }

    #[test]
    fn a_bad_grant_fails_only_its_packet() {
        let mut r = Rig::new(false);
        let data = pattern(64, 6);
        let g = r.guest_data(0, &data);
        let revoked = r.guest_data(0, &data);
        r.world.revoke(GUEST, revoked.gref);
        r.request(tx(revoked, 0, 0, 1, 64));
        r.request(tx(g, 0, 0, 2, 64));
        r.request(tx(g, 0, NETTXF_MORE_DATA, 3, 128));
        r.request(tx(revoked, 0, 0, 4, 64));
        r.poll().unwrap();
        assert_eq!(r.frames, [data]);
        assert_eq!(r.tx_responses(), [error(1), okay(2), error(3), error(4)]);
    }

    #[test]
    fn a_chain_past_the_published_requests_stops_the_engine() {
        let mut r = Rig::new(false);
        let g = r.guest_data(0, &pattern(64, 7));
        r.request(tx(g, 0, NETTXF_MORE_DATA, 1, 64));
        assert_eq!(r.poll(), Err(NetbackError::Truncated));
        assert!(r.nb.is_stopped());
        assert_eq!(r.poll(), Err(NetbackError::Stopped));
        assert_eq!(r.deliver(&[&[0; 60]]), Err(NetbackError::Stopped));
    }

    #[test]
    fn garbage_ring_indexes_stop_the_engine() {
        let mut r = Rig::new(false);
        // req_prod far ahead of anything the ring can hold.
        r.tx_ring.write_u32(0, 1000);
        let mut world = r.world.clone();
        let mut pages = r.world.clone();
        let e =
            r.nb.poll_tx(&mut r.tx_ring, &mut world, &mut pages, &mut |_| {})
                .unwrap_err();
        assert!(matches!(e, NetbackError::Corrupt(Ring::Tx, _)), "{e:?}");
        assert!(r.frames.is_empty());

        let mut r = Rig::new(false);
        r.rx_ring.write_u32(0, 0x8000_0000);
        let e = r.deliver(&[&pattern(60, 0)]).unwrap_err();
        assert!(matches!(e, NetbackError::Corrupt(Ring::Rx, _)), "{e:?}");
    }

    #[test]
    fn a_failed_copy_hypercall_stops_the_engine_after_answering() {
        let mut r = Rig::new(false);
        let g = r.guest_data(0, &pattern(64, 8));
        r.request(tx(g, 0, 0, 1, 64));
        r.world.0.borrow_mut().fail_next_batch = Some(Errno::Fault);
        assert_eq!(r.poll(), Err(NetbackError::Copy(Errno::Fault)));
        assert!(r.frames.is_empty());
        assert_eq!(r.tx_responses(), [error(1)]);
        assert!(r.nb.is_stopped());
    }

    #[test]
    fn the_request_event_is_rearmed_and_notifications_suppressed() {
        let mut r = Rig::new(false);
        let g = r.guest_data(0, &pattern(64, 9));
        r.poll().unwrap();
        // Idle: asks for an event at the next request (req_event = req_cons + 1).
        assert_eq!(r.tx_ring.read_u32(4), 1);
        r.request(tx(g, 0, 0, 1, 64));
        assert!(r.tx.push_requests(&mut r.tx_ring));
        // The frontend says it does not want to hear about responses yet (rsp_event far on).
        r.tx_ring.write_u32(12, 100);
        let p = r.poll().unwrap();
        assert!(!p.notify);
        assert_eq!(r.tx_ring.read_u32(4), 2);
        assert_eq!(r.nb.counters().suppressed, 1);
        assert_eq!(r.nb.counters().notifications, 0);
        assert_eq!(r.tx_responses(), [okay(1)]);
    }

    #[test]
    fn frames_go_into_posted_buffers_or_are_dropped() {
        let mut r = Rig::new(false);
        let frame = pattern(1514, 10);
        // Nothing posted: dropped and counted, nothing answered.
        let p = r.deliver(&[&frame]).unwrap();
        assert_eq!((p.done, p.notify), (0, false));
        assert_eq!(r.nb.counters().rx_dropped, 1);
        let a = r.world.granted(GUEST);
        let b = r.world.granted(GUEST);
        r.post_rx(11, a.gref);
        r.post_rx(12, b.gref);
        let small = pattern(60, 11);
        let p = r.deliver(&[&frame, &small, &small]).unwrap();
        assert_eq!((p.done, p.notify), (2, true));
        assert_eq!(r.world.bytes(a.page, 0, 1514), frame);
        assert_eq!(r.world.bytes(b.page, 0, 60), small);
        let rsps = r.rx_responses();
        assert_eq!(
            rsps,
            [
                NetifRxResponse {
                    id: 11,
                    offset: 0,
                    flags: 0,
                    status: 1514
                },
                NetifRxResponse {
                    id: 12,
                    offset: 0,
                    flags: 0,
                    status: 60
                }
            ]
        );
        let c = r.nb.counters();
        assert_eq!((c.rx_packets, c.rx_bytes, c.rx_dropped), (2, 1574, 2));
    }

    #[test]
    fn rx_validates_frames_and_grants() {
        let mut r = Rig::new(false);
        let a = r.world.granted(GUEST);
        r.post_rx(1, a.gref);
        r.post_rx(2, 0xdead);
        let big = pattern(5000, 12);
        let p = r
            .deliver(&[&[0; 13], &big, &pattern(70, 1), &pattern(80, 2)])
            .unwrap();
        assert_eq!(p.done, 1);
        assert_eq!(r.nb.counters().rx_oversize, 2);
        assert_eq!(r.nb.counters().rx_errors, 1);
        let rsps = r.rx_responses();
        assert_eq!(rsps[0].status, 70);
        assert_eq!((rsps[1].id, rsps[1].status), (2, NETIF_RSP_ERROR));
    }

    #[test]
    fn a_scatter_gather_frontend_gets_big_frames_in_pieces() {
        let mut r = Rig::new(true);
        let big = pattern(9000, 13);
        let pages: Vec<_> = (0..3).map(|_| r.world.granted(GUEST)).collect();
        for (i, g) in pages.iter().enumerate() {
            r.post_rx(i as u16, g.gref);
        }
        assert_eq!(r.deliver(&[&big]).unwrap().done, 1);
        let rsps = r.rx_responses();
        let got: Vec<_> = rsps.iter().map(|x| (x.id, x.flags, x.status)).collect();
        assert_eq!(
            got,
            [
                (0, NETRXF_MORE_DATA, 4096),
                (1, NETRXF_MORE_DATA, 4096),
                (2, 0, 808)
            ]
        );
        let mut joined = r.world.bytes(pages[0].page, 0, 4096);
        joined.extend(r.world.bytes(pages[1].page, 0, 4096));
        joined.extend(r.world.bytes(pages[2].page, 0, 808));
        assert_eq!(joined, big);
        // Two posted buffers are not enough for the next one: dropped whole.
        r.post_rx(5, pages[0].gref);
        r.post_rx(6, pages[1].gref);
        assert_eq!(r.deliver(&[&big]).unwrap().done, 0);
        assert_eq!(r.nb.counters().rx_dropped, 1);
    }

    #[test]
    fn too_few_staging_pages_are_refused() {
        let world = Shared::new();
        assert!(matches!(
            Netback::new(1, false, world.staging_pool(STAGING_PAGES - 1)),
            Err(NetbackError::TooFewStagingPages)
        ));
    }
}
