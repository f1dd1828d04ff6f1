//! A xenstore client's messages: requests encoded as xs_wire expects, and replies and watch events framed and decoded from the response byte stream.
// Everything that comes back is hostile input: a header naming a payload longer than
// XENSTORE_PAYLOAD_MAX is refused (the stream cannot be trusted after it), and allocations
// are fallible.

use alloc::vec::Vec;
use core::mem::size_of;

use hypercall_abi::xenstore::{XENSTORE_PAYLOAD_MAX, XsdSockmsg, XsdSockmsgType};

/// Bytes of a message header.
pub const HEADER_LEN: usize = size_of::<XsdSockmsg>();

/// A request this client sends. Paths are relative (to the domain's home,
/// /local/domain/<id>) or absolute; none may contain a NUL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// XS_READ `path`.
    Read(&'a [u8]),
    /// XS_WRITE `path` = `value` (the value carries no terminating NUL).
    Write(&'a [u8], &'a [u8]),
    /// XS_DIRECTORY `path`.
    Directory(&'a [u8]),
    /// XS_WATCH `path` with `token`.
    Watch(&'a [u8], &'a [u8]),
    /// XS_UNWATCH `path` with `token`.
    Unwatch(&'a [u8], &'a [u8]),
    /// XS_RM `path`.
    Rm(&'a [u8]),
}

/// Why a request could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A path or token contains a NUL byte.
    Nul,
    /// The payload would exceed XENSTORE_PAYLOAD_MAX bytes.
    TooLong(usize),
    /// No memory for the message.
    NoMemory,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::Nul => write!(f, "a path or token contains a NUL byte"),
            EncodeError::TooLong(n) => write!(
                f,
                "payload of {n} bytes is longer than {XENSTORE_PAYLOAD_MAX}"
            ),
            EncodeError::NoMemory => write!(f, "no memory for the message"),
        }
    }
}

impl Request<'_> {
    /// The message type.
    pub fn msg_type(&self) -> XsdSockmsgType {
        match self {
            Request::Read(_) => XsdSockmsgType::Read,
            Request::Write(..) => XsdSockmsgType::Write,
            Request::Directory(_) => XsdSockmsgType::Directory,
            Request::Watch(..) => XsdSockmsgType::Watch,
            Request::Unwatch(..) => XsdSockmsgType::Unwatch,
            Request::Rm(_) => XsdSockmsgType::Rm,
        }
    }

    /// The payload's parts and whether each is NUL-terminated: every string is, except a
    /// written value.
    fn parts(&self) -> [(&[u8], bool); 2] {
        match *self {
            Request::Read(p) | Request::Directory(p) | Request::Rm(p) => [(p, true), (&[], false)],
            Request::Write(p, v) => [(p, true), (v, false)],
            Request::Watch(p, t) | Request::Unwatch(p, t) => [(p, true), (t, true)],
        }
    }

    /// The whole message (header and payload) with `req_id` and `tx_id` (0: no transaction).
    pub fn encode(&self, req_id: u32, tx_id: u32) -> Result<Vec<u8>, EncodeError> {
        let parts = self.parts();
        for (part, terminated) in parts {
            if terminated && part.contains(&0) {
                return Err(EncodeError::Nul);
            }
        }
        let len: usize = parts.iter().map(|(p, t)| p.len() + usize::from(*t)).sum();
        let mut out = message_buffer(self.msg_type() as u32, req_id, tx_id, len)?;
        for (part, terminated) in parts {
            out.extend_from_slice(part);
            if terminated {
                out.push(0);
            }
        }
        Ok(out)
    }
}

/// A message buffer holding the header for a payload of `len` bytes, with room for them.
fn message_buffer(ty: u32, req_id: u32, tx_id: u32, len: usize) -> Result<Vec<u8>, EncodeError> {
    if len > XENSTORE_PAYLOAD_MAX {
        return Err(EncodeError::TooLong(len));
    }
    let mut out = Vec::new();
    out.try_reserve_exact(HEADER_LEN + len)
        .map_err(|_| EncodeError::NoMemory)?;
    for word in [ty, req_id, tx_id, len as u32] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    Ok(out)
}

/// Any message (header and `payload`) as raw bytes: for the daemon's replies and for tests.
pub fn encode_message(
    ty: u32,
    req_id: u32,
    tx_id: u32,
    payload: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    let mut out = message_buffer(ty, req_id, tx_id, payload.len())?;
    out.extend_from_slice(payload);
    Ok(out)
}

/// A whole message as it came off the ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMessage {
    /// Its header.
    pub header: XsdSockmsg,
    /// Its `header.len` payload bytes.
    pub payload: Vec<u8>,
}

/// Why the byte stream could not be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A header named a payload longer than XENSTORE_PAYLOAD_MAX (the framer starts over
    /// at the next byte, but the stream is most likely out of step for good).
    TooLong(u32),
    /// No memory for the payload (the message is skipped).
    NoMemory,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::TooLong(n) => write!(
                f,
                "message header names a {n}-byte payload (most is {XENSTORE_PAYLOAD_MAX})"
            ),
            FrameError::NoMemory => write!(f, "no memory for a message payload"),
        }
    }
}

/// Assembles messages from the response byte stream, one byte at a time.
#[derive(Debug, Default)]
pub struct Framer {
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// The header once complete, with the payload read so far.
    body: Option<(XsdSockmsg, Vec<u8>)>,
    /// Payload bytes still to skip (after an allocation failure).
    skip: usize,
}

impl Framer {
    /// A framer at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the framer is between messages (no partial message held).
    pub fn idle(&self) -> bool {
        self.header_len == 0 && self.body.is_none() && self.skip == 0
    }

    /// Takes the next byte of the stream: a message when it completes one.
    pub fn push(&mut self, byte: u8) -> Option<Result<RawMessage, FrameError>> {
        if self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        if let Some((header, payload)) = &mut self.body {
            payload.push(byte);
            if payload.len() < header.len as usize {
                return None;
            }
            let (header, payload) = self.body.take()?;
            return Some(Ok(RawMessage { header, payload }));
        }
        self.header[self.header_len] = byte;
        self.header_len += 1;
        if self.header_len < HEADER_LEN {
            return None;
        }
        self.header_len = 0;
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&self.header[i * 4..i * 4 + 4]);
            u32::from_le_bytes(w)
        };
        let header = XsdSockmsg {
            type_: word(0),
            req_id: word(1),
            tx_id: word(2),
            len: word(3),
        };
        let len = header.len as usize;
        if len > XENSTORE_PAYLOAD_MAX {
            return Some(Err(FrameError::TooLong(header.len)));
        }
        let mut payload = Vec::new();
        if payload.try_reserve_exact(len).is_err() {
            self.skip = len;
            return Some(Err(FrameError::NoMemory));
        }
        if len == 0 {
            return Some(Ok(RawMessage { header, payload }));
        }
        self.body = Some((header, payload));
        None
    }
}

/// A decoded message from the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The answer to request `req_id` of type `ty`, its payload as sent (a read's value,
    /// a directory's NUL-terminated names, "OK\0" for writes and watches).
    Ok {
        /// The request's type, echoed.
        ty: XsdSockmsgType,
        /// The request's id, echoed.
        req_id: u32,
        /// The payload.
        payload: Vec<u8>,
    },
    /// XS_ERROR for request `req_id`: the errno name, such as `ENOENT`.
    Error {
        /// The request's id, echoed.
        req_id: u32,
        /// The error's name (the payload up to its NUL).
        name: Vec<u8>,
    },
    /// XS_WATCH_EVENT: the watched node `path` that changed, and the watch's `token`.
    WatchEvent {
        /// The changed node's path.
        path: Vec<u8>,
        /// The token given to XS_WATCH.
        token: Vec<u8>,
    },
}

/// Why a framed message could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The header's type is none xs_wire defines.
    UnknownType(u32),
    /// A watch event's payload is not "path\0token\0".
    BadWatchEvent,
    /// No memory to split the payload.
    NoMemory,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::UnknownType(t) => write!(f, "unknown message type {t}"),
            DecodeError::BadWatchEvent => write!(f, "watch event payload is not path NUL token"),
            DecodeError::NoMemory => write!(f, "no memory to decode a message"),
        }
    }
}

/// The bytes of `bytes` up to (not including) the first NUL.
fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

fn copy(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut v = Vec::new();
    v.try_reserve_exact(bytes.len())
        .map_err(|_| DecodeError::NoMemory)?;
    v.extend_from_slice(bytes);
    Ok(v)
}

impl RawMessage {
    /// The message's meaning.
    pub fn decode(self) -> Result<Reply, DecodeError> {
        let raw_type = self.header.type_;
        let ty =
            XsdSockmsgType::try_from(raw_type).map_err(|_| DecodeError::UnknownType(raw_type))?;
        match ty {
            XsdSockmsgType::Error => Ok(Reply::Error {
                req_id: self.header.req_id,
                name: copy(until_nul(&self.payload))?,
            }),
            XsdSockmsgType::WatchEvent => {
                let mut fields = self.payload.split(|&b| b == 0);
                let path = fields.next().ok_or(DecodeError::BadWatchEvent)?;
                // The path must be NUL-terminated; the token's NUL is optional.
                let token = fields.next().ok_or(DecodeError::BadWatchEvent)?;
                if path.is_empty() {
                    return Err(DecodeError::BadWatchEvent);
                }
                Ok(Reply::WatchEvent {
                    path: copy(path)?,
                    token: copy(token)?,
                })
            }
            ty => Ok(Reply::Ok {
                ty,
                req_id: self.header.req_id,
                payload: self.payload,
            }),
        }
    }
}

/// The names of a directory reply's payload (each NUL-terminated; empty names skipped).
pub fn directory_names(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    payload.split(|&b| b == 0).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(framer: &mut Framer, bytes: &[u8]) -> Vec<Result<RawMessage, FrameError>> {
        bytes.iter().filter_map(|&b| framer.push(b)).collect()
    }

    #[test]
    fn requests_encode_as_xs_wire_expects() {
        let read = Request::Read(b"control/shutdown").encode(7, 0).unwrap();
        assert_eq!(
            &read[..16],
            &[2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0]
        );
        assert_eq!(&read[16..], b"control/shutdown\0");
        let write = Request::Write(b"control/shutdown", b"")
            .encode(8, 3)
            .unwrap();
        assert_eq!(
            &write[..16],
            &[11, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 17, 0, 0, 0]
        );
        assert_eq!(&write[16..], b"control/shutdown\0");
        let write = Request::Write(b"a", b"1").encode(1, 0).unwrap();
        assert_eq!(&write[16..], b"a\x001");
        let watch = Request::Watch(b"memory/target", b"balloon")
            .encode(9, 0)
            .unwrap();
        assert_eq!(watch[0], XsdSockmsgType::Watch as u8);
        assert_eq!(&watch[16..], b"memory/target\0balloon\0");
        assert_eq!(watch[12], 22);
        let dir = Request::Directory(b"/local").encode(1, 0).unwrap();
        assert_eq!((dir[0], &dir[16..]), (1, &b"/local\0"[..]));
        let unwatch = Request::Unwatch(b"p", b"t").encode(1, 0).unwrap();
        assert_eq!((unwatch[0], &unwatch[16..]), (5, &b"p\0t\0"[..]));
        let rm = Request::Rm(b"p").encode(1, 0).unwrap();
        assert_eq!((rm[0], &rm[16..]), (13, &b"p\0"[..]));
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(Request::Read(b"a\0b").encode(1, 0), Err(EncodeError::Nul));
        assert_eq!(
            Request::Watch(b"a", b"t\0").encode(1, 0),
            Err(EncodeError::Nul)
        );
        // A written value may hold any bytes.
        assert!(Request::Write(b"a", b"\0\0").encode(1, 0).is_ok());
        let long = vec![b'x'; XENSTORE_PAYLOAD_MAX];
        assert_eq!(
            Request::Read(&long).encode(1, 0),
            Err(EncodeError::TooLong(XENSTORE_PAYLOAD_MAX + 1))
        );
        let just_fits = vec![b'x'; XENSTORE_PAYLOAD_MAX - 2];
        assert!(Request::Write(b"a", &just_fits).encode(1, 0).is_ok());
    }

    #[test]
    fn the_framer_assembles_messages_split_anywhere() {
        let mut stream = encode_message(XsdSockmsgType::Read as u32, 5, 0, b"poweroff").unwrap();
        stream.extend(encode_message(XsdSockmsgType::Write as u32, 6, 0, b"OK\0").unwrap());
        stream.extend(encode_message(XsdSockmsgType::Rm as u32, 9, 0, b"").unwrap());
        for split in 0..stream.len() {
            let mut framer = Framer::new();
            let mut got = frame_all(&mut framer, &stream[..split]);
            got.extend(frame_all(&mut framer, &stream[split..]));
            assert!(framer.idle());
            let got: Vec<RawMessage> = got.into_iter().map(Result::unwrap).collect();
            assert_eq!(got.len(), 3, "split at {split}");
            assert_eq!(got[0].header.req_id, 5);
            assert_eq!(got[0].payload, b"poweroff");
            assert_eq!(got[1].header.type_, XsdSockmsgType::Write as u32);
            assert_eq!(got[2].payload, b"");
        }
    }

    #[test]
    fn replies_decode() {
        let mut framer = Framer::new();
        let mut msg = |ty: XsdSockmsgType, id, payload: &[u8]| {
            let bytes = encode_message(ty as u32, id, 0, payload).unwrap();
            let mut got = frame_all(&mut framer, &bytes);
            assert_eq!(got.len(), 1);
            got.pop().unwrap().unwrap().decode()
        };
        assert_eq!(
            msg(XsdSockmsgType::Read, 4, b"2048"),
            Ok(Reply::Ok {
                ty: XsdSockmsgType::Read,
                req_id: 4,
                payload: b"2048".to_vec()
            })
        );
        assert_eq!(
            msg(XsdSockmsgType::Error, 5, b"ENOENT\0"),
            Ok(Reply::Error {
                req_id: 5,
                name: b"ENOENT".to_vec()
            })
        );
        assert_eq!(
            msg(
                XsdSockmsgType::WatchEvent,
                0,
                b"control/shutdown\0shutdown\0"
            ),
            Ok(Reply::WatchEvent {
                path: b"control/shutdown".to_vec(),
                token: b"shutdown".to_vec()
            })
        );
        assert_eq!(
            msg(XsdSockmsgType::WatchEvent, 0, b"nopath"),
            Err(DecodeError::BadWatchEvent)
        );
        assert_eq!(
            msg(XsdSockmsgType::WatchEvent, 0, b"\0tok\0"),
            Err(DecodeError::BadWatchEvent)
        );
        let bytes = encode_message(20, 1, 0, b"").unwrap();
        let got = frame_all(&mut framer, &bytes).pop().unwrap().unwrap();
        assert_eq!(got.decode(), Err(DecodeError::UnknownType(20)));
        let names: Vec<&[u8]> = directory_names(b"0\x001\x00").collect();
        assert_eq!(names, [&b"0"[..], &b"1"[..]]);
    }

    #[test]
    fn an_oversized_header_is_refused() {
        let mut framer = Framer::new();
        let mut bytes = Vec::new();
        for w in [2u32, 1, 0, XENSTORE_PAYLOAD_MAX as u32 + 1] {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        let got = frame_all(&mut framer, &bytes);
        assert_eq!(
            got,
            [Err(FrameError::TooLong(XENSTORE_PAYLOAD_MAX as u32 + 1))]
        );
        assert!(framer.idle(), "starts over after the bad header");
        let max = vec![b'v'; XENSTORE_PAYLOAD_MAX];
        let ok = encode_message(2, 2, 0, &max).unwrap();
        let got = frame_all(&mut framer, &ok);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().payload.len(), XENSTORE_PAYLOAD_MAX);
    }
}
