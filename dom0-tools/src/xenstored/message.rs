//! Wire messages: the 16-byte `xsd_sockmsg` header and the NUL-separated payload arguments.

use alloc::vec::Vec;
use hypercall_abi::errno::Errno;
use hypercall_abi::xenstore::{XsdSockmsg, XsdSockmsgType};

/// Bytes in a message header.
pub const HEADER_LEN: usize = 16;

/// Decodes a header (native little-endian, as both ends of the ring share the CPU).
pub fn decode_header(b: &[u8; HEADER_LEN]) -> XsdSockmsg {
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    XsdSockmsg {
        type_: word(0),
        req_id: word(4),
        tx_id: word(8),
        len: word(12),
    }
}

/// A whole message: header then `payload` (whose length the caller bounded).
pub fn encode(ty: XsdSockmsgType, req_id: u32, tx_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
    for w in [ty as u32, req_id, tx_id, payload.len() as u32] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// The single argument of a request whose payload must be one string ending in its only NUL.
pub fn one_arg(payload: &[u8]) -> Result<&[u8], Errno> {
    match payload.split_last() {
        Some((0, s)) if !s.contains(&0) => Ok(s),
        _ => Err(Errno::Inval),
    }
}

/// The NUL-terminated strings of a payload (an unterminated last string counts too).
pub fn args(payload: &[u8]) -> Vec<&[u8]> {
    let body = payload.strip_suffix(&[0]).unwrap_or(payload);
    if payload.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == 0).collect()
}

/// Splits `path\0rest`: the first string and the bytes after its NUL (WRITE, SET_PERMS).
pub fn first_and_rest(payload: &[u8]) -> Result<(&[u8], &[u8]), Errno> {
    let i = payload.iter().position(|&b| b == 0).ok_or(Errno::Inval)?;
    Ok((&payload[..i], &payload[i + 1..]))
}

/// Parses an unsigned decimal number that fits `u64`.
pub fn parse_u64(s: &[u8]) -> Result<u64, Errno> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return Err(Errno::Inval);
    }
    s.iter().try_fold(0u64, |v, d| {
        v.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(Errno::Inval)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_args() {
        let m = encode(XsdSockmsgType::Read, 7, 9, b"ab\0");
        let h = decode_header(m[..16].try_into().unwrap());
        assert_eq!((h.type_, h.req_id, h.tx_id, h.len), (2, 7, 9, 3));
        assert_eq!(one_arg(b"ab\0"), Ok(&b"ab"[..]));
        for bad in [&b""[..], b"ab", b"a\0b\0", b"\0\0"] {
            assert_eq!(one_arg(bad), Err(Errno::Inval));
        }
        assert_eq!(args(b"a\0b\0"), [&b"a"[..], b"b"]);
        assert_eq!(args(b"a\0b"), [&b"a"[..], b"b"]);
        assert!(args(b"").is_empty());
        assert_eq!(first_and_rest(b"p\0v\0x"), Ok((&b"p"[..], &b"v\0x"[..])));
        assert_eq!(first_and_rest(b"p"), Err(Errno::Inval));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), Err(Errno::Inval));
        assert_eq!(parse_u64(b"-1"), Err(Errno::Inval));
    }
}
