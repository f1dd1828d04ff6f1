//! A xenstore client's connection over the ring page: synchronous requests matched to their replies, watch events queued as they arrive, for any transport (a DomU's page and event channel, or a test's).
// The daemon is hostile input: a corrupt ring, an unframeable stream or a reply that never
// comes end the request with an error (never a panic, never an unbounded wait or queue).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::console_ring::{Corrupt, RingMemory};
use crate::xs_client::{DecodeError, EncodeError, FrameError, Framer, Reply, Request};
use crate::xs_ring;

/// Watch events kept until handled; later ones are dropped (and counted).
pub const MAX_QUEUED_EVENTS: usize = 32;
/// Bytes read from the ring at a time.
const READ_CHUNK: usize = 256;

/// What the connection needs from its surroundings.
pub trait XsTransport {
    /// The ring page.
    fn page(&mut self) -> &mut dyn RingMemory;
    /// Tells the daemon that requests were written or reply space freed.
    fn notify(&mut self);
    /// Clears the daemon's signal (its event channel's pending bit); whether it was set.
    fn take_signal(&mut self) -> bool;
    /// Waits until the daemon signals or system time reaches `deadline` (ns); `Err` with the
    /// hypercall's result if waiting failed.
    fn wait(&mut self, deadline: u64) -> Result<(), i64>;
    /// System time now (ns), if there is a clock.
    fn now(&mut self) -> Option<u64>;
}

/// A watch that fired: the node that changed and the watch's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The changed node's path, as the daemon sent it.
    pub path: Vec<u8>,
    /// The token the watch was registered with.
    pub token: Vec<u8>,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XsError {
    /// The daemon answered XS_ERROR with this errno name (such as `ENOENT`).
    Store(Vec<u8>),
    /// No reply within the connection's timeout.
    Timeout,
    /// The request could not be encoded.
    Encode(EncodeError),
    /// The ring's indexes are corrupt.
    Corrupt(Corrupt),
    /// The reply stream could not be framed.
    Frame(FrameError),
    /// A reply could not be decoded.
    Decode(DecodeError),
    /// There is no clock to measure the timeout with.
    NoClock,
    /// Waiting for the daemon failed with this hypercall result.
    Wait(i64),
}

impl XsError {
    /// Whether the daemon said the node does not exist.
    pub fn is_enoent(&self) -> bool {
        matches!(self, XsError::Store(name) if name == b"ENOENT")
    }
}

impl fmt::Display for XsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XsError::Store(name) => {
                f.write_str("xenstored says ")?;
                for &b in name {
                    if b.is_ascii_graphic() {
                        write!(f, "{}", char::from(b))?;
                    } else {
                        write!(f, "\\x{b:02x}")?;
                    }
                }
                Ok(())
            }
            XsError::Timeout => write!(f, "no reply from xenstored in time"),
            XsError::Encode(e) => write!(f, "{e}"),
            XsError::Corrupt(c) => {
                write!(f, "xenstore ring corrupt (cons {} prod {})", c.cons, c.prod)
            }
            XsError::Frame(e) => write!(f, "{e}"),
            XsError::Decode(e) => write!(f, "{e}"),
            XsError::NoClock => write!(f, "no system time to wait with"),
            XsError::Wait(e) => write!(f, "waiting for xenstored failed ({e})"),
        }
    }
}

/// What one read from the ring brought.
struct Pumped {
    /// The reply to the request waited for, if it came.
    reply: Option<Result<Vec<u8>, XsError>>,
    /// Whether any byte was read.
    read_any: bool,
}

/// The client's side of the connection.
#[derive(Debug)]
pub struct XsConnection {
    framer: Framer,
    next_req_id: u32,
    timeout_ns: u64,
    events: VecDeque<WatchEvent>,
    /// Watch events dropped because the queue was full.
    pub dropped_events: u64,
}

impl XsConnection {
    /// A connection whose requests wait at most `timeout_ns` for their replies.
    pub fn new(timeout_ns: u64) -> Self {
        XsConnection {
            framer: Framer::new(),
            next_req_id: 1,
            timeout_ns,
            events: VecDeque::new(),
            dropped_events: 0,
        }
    }

    /// XS_READ: the node's value.
    pub fn read(&mut self, t: &mut dyn XsTransport, path: &str) -> Result<Vec<u8>, XsError> {
        self.request(t, Request::Read(path.as_bytes()))
    }

    /// XS_WRITE: sets the node's value (creating it).
    pub fn write(
        &mut self,
        t: &mut dyn XsTransport,
        path: &str,
        value: &[u8],
    ) -> Result<(), XsError> {
        self.request(t, Request::Write(path.as_bytes(), value))
            .map(|_| ())
    }

    /// XS_DIRECTORY: the payload of NUL-terminated child names (see
    /// [`crate::xs_client::directory_names`]).
    pub fn directory(&mut self, t: &mut dyn XsTransport, path: &str) -> Result<Vec<u8>, XsError> {
        self.request(t, Request::Directory(path.as_bytes()))
    }

    /// XS_WATCH: from now on, changes at or under `path` come as events with `token` (the
    /// daemon fires the watch once right away).
    pub fn watch(
        &mut self,
        t: &mut dyn XsTransport,
        path: &str,
        token: &str,
    ) -> Result<(), XsError> {
        self.request(t, Request::Watch(path.as_bytes(), token.as_bytes()))
            .map(|_| ())
    }

    /// The oldest watch event not handled yet.
    pub fn take_event(&mut self) -> Option<WatchEvent> {
        self.events.pop_front()
    }

    /// Takes what the daemon wrote, without waiting: watch events are queued, replies
    /// nobody waits for (to requests that timed out) dropped.
    pub fn poll(&mut self, t: &mut dyn XsTransport) -> Result<(), XsError> {
        t.take_signal();
        while self.pump(t, None)?.read_any {}
        Ok(())
    }

    /// Sends `req` and waits for its reply (queueing watch events meanwhile).
    pub fn request(
        &mut self,
        t: &mut dyn XsTransport,
        req: Request<'_>,
    ) -> Result<Vec<u8>, XsError> {
        let req_id = self.next_req_id;
        self.next_req_id = self.next_req_id.wrapping_add(1).max(1);
        let bytes = req.encode(req_id, 0).map_err(XsError::Encode)?;
        let deadline = t
            .now()
            .ok_or(XsError::NoClock)?
            .saturating_add(self.timeout_ns);
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            t.take_signal();
            let n = xs_ring::write_request(t.page(), rest).map_err(XsError::Corrupt)?;
            rest = &rest[n..];
            t.notify();
            if n == 0 {
                // The ring is full: the daemon may be waiting for reply space.
                if let Some(reply) = self.pump(t, Some(req_id))?.reply {
                    return reply;
                }
                wait(t, deadline)?;
            }
        }
        loop {
            t.take_signal();
            let pumped = self.pump(t, Some(req_id))?;
            if let Some(reply) = pumped.reply {
                return reply;
            }
            if !pumped.read_any {
                wait(t, deadline)?;
            }
        }
    }

    /// Reads one chunk from the ring and frames it.
    fn pump(&mut self, t: &mut dyn XsTransport, want: Option<u32>) -> Result<Pumped, XsError> {
        let mut buf = [0u8; READ_CHUNK];
        let n = xs_ring::read_response(t.page(), &mut buf).map_err(XsError::Corrupt)?;
        if n > 0 {
            t.notify();
        }
        let mut reply = None;
        for &b in &buf[..n] {
            let Some(message) = self.framer.push(b) else {
                continue;
            };
            let message = message.map_err(XsError::Frame)?;
            match message.decode().map_err(XsError::Decode)? {
                Reply::WatchEvent { path, token } => {
                    if self.events.len() >= MAX_QUEUED_EVENTS || self.events.try_reserve(1).is_err()
                    {
                        self.dropped_events += 1;
                    } else {
                        self.events.push_back(WatchEvent { path, token });
                    }
                }
                Reply::Ok {
                    req_id, payload, ..
                } if Some(req_id) == want => reply = Some(Ok(payload)),
                Reply::Error { req_id, name } if Some(req_id) == want => {
                    reply = Some(Err(XsError::Store(name)))
                }
                Reply::Ok { .. } | Reply::Error { .. } => {}
            }
        }
        Ok(Pumped {
            reply,
            read_any: n > 0,
        })
    }
}

/// Waits for the daemon's signal until `deadline`; `Timeout` once it has passed.
fn wait(t: &mut dyn XsTransport, deadline: u64) -> Result<(), XsError> {
    if t.take_signal() {
        return Ok(());
    }
    if t.now().ok_or(XsError::NoClock)? >= deadline {
        return Err(XsError::Timeout);
    }
    t.wait(deadline).map_err(XsError::Wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xs_client::{RawMessage, encode_message};
    use hypercall_abi::xenstore::XsdSockmsgType;

    use crate::mem_page::Page;

    /// A tiny xenstored behind the page: it runs whenever the client waits.
    struct FakeDaemon {
        page: Page,
        framer: Framer,
        nodes: Vec<(Vec<u8>, Vec<u8>)>,
        outbox: Vec<u8>,
        /// Bytes to put out before the next reply (a watch event racing the reply, say).
        before_reply: Vec<u8>,
        answering: bool,
        clock: u64,
        signal: bool,
        waits: u32,
        requests: Vec<RawMessage>,
    }

    impl FakeDaemon {
        fn new() -> Self {
            FakeDaemon {
                page: Page(vec![0; 4096]),
                framer: Framer::new(),
                nodes: Vec::new(),
                outbox: Vec::new(),
                before_reply: Vec::new(),
                answering: true,
                clock: 1000,
                signal: false,
                waits: 0,
                requests: Vec::new(),
            }
        }

        fn answer(&mut self, msg: RawMessage) {
            let ty = XsdSockmsgType::try_from(msg.header.type_).unwrap();
            let id = msg.header.req_id;
            let mut parts = msg.payload.split(|&b| b == 0);
            let path = parts.next().unwrap_or_default().to_vec();
            let reply = |ty: XsdSockmsgType, payload: &[u8]| {
                encode_message(ty as u32, id, 0, payload).unwrap()
            };
            let out = match ty {
                XsdSockmsgType::Read => match self.nodes.iter().find(|(p, _)| *p == path) {
                    Some((_, v)) => reply(ty, v),
                    None => reply(XsdSockmsgType::Error, b"ENOENT\0"),
                },
                XsdSockmsgType::Write => {
                    let value = msg.payload[path.len() + 1..].to_vec();
                    self.nodes.retain(|(p, _)| *p != path);
                    self.nodes.push((path, value));
                    reply(ty, b"OK\0")
                }
                XsdSockmsgType::Watch => {
                    let token = parts.next().unwrap().to_vec();
                    let mut out = reply(ty, b"OK\0");
                    let mut event = path.clone();
                    event.push(0);
                    event.extend(&token);
                    event.push(0);
                    out.extend(encode_message(15, 0, 0, &event).unwrap());
                    out
                }
                XsdSockmsgType::Directory => reply(ty, b"a\0b\0"),
                _ => reply(XsdSockmsgType::Error, b"EINVAL\0"),
            };
            self.outbox.append(&mut self.before_reply);
            self.outbox.extend(out);
            self.requests.push(msg);
        }

        /// One round of the daemon: takes requests, puts out what fits.
        fn run(&mut self) {
            let mut buf = [0u8; 300];
            loop {
                let n = xs_ring::read_request(&mut self.page, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                for &b in &buf[..n] {
                    if let Some(msg) = self.framer.push(b)
                        && self.answering
                    {
                        self.answer(msg.unwrap());
                    }
                }
            }
            let n = xs_ring::write_response(&mut self.page, &self.outbox).unwrap();
            self.outbox.drain(..n);
            self.signal = true;
        }
    }

    impl XsTransport for FakeDaemon {
        fn page(&mut self) -> &mut dyn RingMemory {
            &mut self.page
        }
        fn notify(&mut self) {}
        fn take_signal(&mut self) -> bool {
            core::mem::take(&mut self.signal)
        }
        fn wait(&mut self, deadline: u64) -> Result<(), i64> {
            self.waits += 1;
            self.clock += 1_000_000;
            if self.clock > deadline {
                return Ok(());
            }
            self.run();
            Ok(())
        }
        fn now(&mut self) -> Option<u64> {
            Some(self.clock)
        }
    }

    #[test]
    fn requests_get_their_replies() {
        let mut d = FakeDaemon::new();
        let mut c = XsConnection::new(1_000_000_000);
        assert_eq!(c.write(&mut d, "control/feature-poweroff", b"1"), Ok(()));
        assert_eq!(
            c.read(&mut d, "control/feature-poweroff"),
            Ok(b"1".to_vec())
        );
        let missing = c.read(&mut d, "memory/target").unwrap_err();
        assert!(missing.is_enoent(), "{missing:?}");
        assert_eq!(format!("{missing}"), "xenstored says ENOENT");
        assert_eq!(c.directory(&mut d, "control"), Ok(b"a\0b\0".to_vec()));
        let ids: Vec<u32> = d.requests.iter().map(|m| m.header.req_id).collect();
        assert_eq!(ids, [1, 2, 3, 4], "each request has its own id");
        assert!(c.take_event().is_none());
    }

    #[test]
    fn watch_events_are_queued_around_replies() {
        let mut d = FakeDaemon::new();
        let mut c = XsConnection::new(1_000_000_000);
        assert_eq!(c.watch(&mut d, "control/shutdown", "shutdown"), Ok(()));
        // The watch's first firing follows its reply; a later request drains it.
        d.nodes
            .push((b"control/shutdown".to_vec(), b"poweroff".to_vec()));
        d.before_reply = encode_message(15, 0, 0, b"memory/target\0balloon\0").unwrap();
        assert_eq!(c.read(&mut d, "control/shutdown"), Ok(b"poweroff".to_vec()));
        c.poll(&mut d).unwrap();
        let tokens: Vec<Vec<u8>> = core::iter::from_fn(|| c.take_event())
            .map(|e| e.token)
            .collect();
        assert_eq!(tokens, [b"shutdown".to_vec(), b"balloon".to_vec()]);
    }

    #[test]
    fn requests_and_replies_longer_than_the_ring_go_in_pieces() {
        let mut d = FakeDaemon::new();
        let mut c = XsConnection::new(1_000_000_000);
        let big = vec![b'v'; 3000];
        assert_eq!(c.write(&mut d, "big", &big), Ok(()));
        assert_eq!(c.read(&mut d, "big"), Ok(big));
        assert!(
            d.waits >= 3,
            "both rings filled and drained ({} waits)",
            d.waits
        );
    }

    #[test]
    fn a_silent_daemon_times_out_and_its_late_reply_is_dropped() {
        let mut d = FakeDaemon::new();
        let mut c = XsConnection::new(10_000_000);
        d.answering = false;
        assert_eq!(c.read(&mut d, "x"), Err(XsError::Timeout));
        assert!(d.waits <= 11, "bounded by the timeout ({} waits)", d.waits);
        // The late reply to request 1 comes before the reply to request 2.
        d.answering = true;
        d.outbox = encode_message(XsdSockmsgType::Read as u32, 1, 0, b"late").unwrap();
        d.nodes.push((b"y".to_vec(), b"on time".to_vec()));
        assert_eq!(c.read(&mut d, "y"), Ok(b"on time".to_vec()));
    }

    #[test]
    fn a_hostile_daemon_gets_errors_not_panics() {
        let mut d = FakeDaemon::new();
        let mut c = XsConnection::new(10_000_000);
        d.page.write_u32(2060, 5000);
        assert!(matches!(c.read(&mut d, "x"), Err(XsError::Corrupt(_))));
        let mut d = FakeDaemon::new();
        d.outbox = [15u32, 0, 0, 100_000]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(
            c.read(&mut d, "x"),
            Err(XsError::Frame(FrameError::TooLong(100_000)))
        );
        let mut d = FakeDaemon::new();
        let mut c = XsConnection::new(10_000_000);
        for _ in 0..MAX_QUEUED_EVENTS + 5 {
            d.outbox
                .extend(encode_message(15, 0, 0, b"p\0t\0").unwrap());
        }
        d.run();
        c.poll(&mut d).unwrap();
        assert_eq!(c.dropped_events, 5);
        assert_eq!(
            core::iter::from_fn(|| c.take_event()).count(),
            MAX_QUEUED_EVENTS
        );
    }
}
