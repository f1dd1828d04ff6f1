//! One client connection: its request framing buffer, queued replies and watch events, its
// watches and open transactions.

use super::config::Config;
use super::message::{self, HEADER_LEN};
use super::ops::Caller;
use super::transaction::Transaction;
use super::watch::Watch;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use hypercall_abi::domid::DomId;
use hypercall_abi::errno::Errno;
use hypercall_abi::xenstore::{XENSTORE_PAYLOAD_MAX, XsdSockmsg, XsdSockmsgType};

/// Identifies a connection; never reused while the daemon lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// Where a domain's ring is, as INTRODUCE gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingInfo {
    /// The ring page's frame.
    pub mfn: u64,
    /// The domain's unbound event channel port.
    pub port: u32,
}

#[derive(Debug)]
struct Outgoing {
    bytes: Vec<u8>,
    is_reply: bool,
}

/// A connection's state.
#[derive(Debug)]
pub struct Connection {
    /// The client's domain.
    pub domid: DomId,
    /// `SET_TARGET`'s target.
    pub target: Option<DomId>,
    /// The ring, for a domain's connection (`None`: Dom0's in-process client).
    pub ring: Option<RingInfo>,
    input: Vec<u8>,
    output: VecDeque<Outgoing>,
    out_offset: usize,
    replies_queued: usize,
    event_bytes: usize,
    /// Watch events dropped because the client left too many unread.
    pub dropped_events: u64,
    /// The registered watches.
    pub watches: Vec<Watch>,
    /// Open transactions by id.
    pub transactions: BTreeMap<u32, Transaction>,
    next_tx: u32,
    /// Set by a protocol violation; the daemon then ignores the connection.
    pub broken: bool,
}

/// A complete request taken from the input.
pub struct Request {
    /// Its header.
    pub header: XsdSockmsg,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Connection {
    /// A new connection of `domid`.
    pub fn new(domid: DomId, ring: Option<RingInfo>) -> Connection {
        Connection {
            domid,
            target: None,
            ring,
            input: Vec::new(),
            output: VecDeque::new(),
            out_offset: 0,
            replies_queued: 0,
            event_bytes: 0,
            dropped_events: 0,
            watches: Vec::new(),
            transactions: BTreeMap::new(),
            next_tx: 1,
            broken: false,
        }
    }

    /// The caller identity for operations.
    pub fn caller(&self) -> Caller {
        Caller {
            domid: self.domid,
            target: self.target,
        }
    }

    /// Whether the daemon reads no more requests until the glue takes replies.
    pub fn input_blocked(&self, cfg: &Config) -> bool {
        self.broken || self.replies_queued >= cfg.max_outstanding_replies
    }

    /// Takes bytes of a request from `bytes` (at most up to the end of one message); returns
    /// how many it took and the message if it completed. A payload length above
    /// `XENSTORE_PAYLOAD_MAX` (or a buffer that cannot be allocated) is EINVAL/ENOMEM, and the
    /// caller breaks the connection.
    pub fn take_input(&mut self, bytes: &[u8]) -> Result<(usize, Option<Request>), Errno> {
        let want = if self.input.len() < HEADER_LEN {
            HEADER_LEN - self.input.len()
        } else {
            HEADER_LEN + self.payload_len() - self.input.len()
        };
        let n = want.min(bytes.len());
        self.input.extend_from_slice(&bytes[..n]);
        if self.input.len() == HEADER_LEN && n > 0 {
            let len = self.payload_len();
            if len > XENSTORE_PAYLOAD_MAX {
                return Err(Errno::Inval);
            }
            self.input.try_reserve(len).map_err(|_| Errno::NoMem)?;
        }
        if self.input.len() >= HEADER_LEN && self.input.len() == HEADER_LEN + self.payload_len() {
            let header = self.header();
            let payload = self.input.split_off(HEADER_LEN);
            self.input.clear();
            return Ok((n, Some(Request { header, payload })));
        }
        Ok((n, None))
    }

    fn header(&self) -> XsdSockmsg {
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&self.input[..HEADER_LEN]);
        message::decode_header(&h)
    }

    fn payload_len(&self) -> usize {
        self.header().len as usize
    }

    /// Queues a reply (an oversized payload becomes E2BIG).
    pub fn queue_reply(&mut self, ty: XsdSockmsgType, req_id: u32, tx_id: u32, payload: &[u8]) {
        if self.broken {
            return;
        }
        let bytes = if payload.len() > XENSTORE_PAYLOAD_MAX {
            message::encode(XsdSockmsgType::Error, req_id, tx_id, b"E2BIG\0")
        } else {
            message::encode(ty, req_id, tx_id, payload)
        };
        self.replies_queued += 1;
        self.output.push_back(Outgoing {
            bytes,
            is_reply: true,
        });
    }

    /// Queues an error reply with the errno's name.
    pub fn queue_error(&mut self, req_id: u32, tx_id: u32, e: Errno) {
        let mut p = Vec::from(e.name().as_bytes());
        p.push(0);
        self.queue_reply(XsdSockmsgType::Error, req_id, tx_id, &p);
    }

    /// Queues a watch event, or drops it if too many event bytes wait already.
    pub fn queue_event(&mut self, cfg: &Config, payload: &[u8]) {
        if self.broken {
            return;
        }
        let bytes = message::encode(XsdSockmsgType::WatchEvent, 0, 0, payload);
        if self.event_bytes + bytes.len() > cfg.max_queued_event_bytes {
            self.dropped_events += 1;
            return;
        }
        self.event_bytes += bytes.len();
        self.output.push_back(Outgoing {
            bytes,
            is_reply: false,
        });
    }

    /// The unsent bytes of the oldest queued message.
    pub fn next_output(&self) -> Option<&[u8]> {
        self.output.front().map(|o| &o.bytes[self.out_offset..])
    }

    /// Marks `n` bytes of output as sent (across messages).
    pub fn consume_output(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.output.front() else {
                return;
            };
            let left = front.bytes.len() - self.out_offset;
            if n < left {
                self.out_offset += n;
                return;
            }
            n -= left;
            self.pop_front();
        }
    }

    fn pop_front(&mut self) -> Option<Outgoing> {
        let o = self.output.pop_front()?;
        self.out_offset = 0;
        if o.is_reply {
            self.replies_queued -= 1;
        } else {
            self.event_bytes -= o.bytes.len();
        }
        Some(o)
    }

    /// Takes the oldest whole queued message (Dom0's in-process client reads this way).
    pub fn pop_message(&mut self) -> Option<Vec<u8>> {
        self.pop_front().map(|o| o.bytes)
    }

    /// Breaks the connection: it is ignored from now on.
    pub fn break_connection(&mut self) {
        self.broken = true;
        self.input = Vec::new();
        self.output.clear();
        self.out_offset = 0;
        self.replies_queued = 0;
        self.event_bytes = 0;
        self.watches.clear();
        self.transactions.clear();
    }

    /// A fresh transaction id: non-zero and not in use.
    pub fn new_transaction_id(&mut self) -> u32 {
        loop {
            let id = self.next_tx;
            self.next_tx = self.next_tx.wrapping_add(1);
            if id != 0 && !self.transactions.contains_key(&id) {
                return id;
            }
        }
    }
}
