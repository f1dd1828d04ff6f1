//! The xenstore wire protocol: ring page, message header and message types (io/xs_wire.h).

use crate::errno::Errno;
use core::mem::{offset_of, size_of};

/// Bytes in each xenstore ring.
pub const XENSTORE_RING_SIZE: usize = 1024;
/// Largest payload of one message.
pub const XENSTORE_PAYLOAD_MAX: usize = 4096;
/// Longest absolute path.
pub const XENSTORE_ABS_PATH_MAX: usize = 3072;
/// Longest relative path.
pub const XENSTORE_REL_PATH_MAX: usize = 2048;
/// `server_features` bit: the ring can be reconnected.
pub const XENSTORE_SERVER_FEATURE_RECONNECTION: u32 = 1;
/// `server_features` bit: the `error` field is valid.
pub const XENSTORE_SERVER_FEATURE_ERROR: u32 = 2;
/// `connection`: steady state.
pub const XENSTORE_CONNECTED: u32 = 0;
/// `connection`: the guest asked for a reconnect.
pub const XENSTORE_RECONNECT: u32 = 1;
/// `error`: none.
pub const XENSTORE_ERROR_NONE: u32 = 0;
/// `error`: communication problem.
pub const XENSTORE_ERROR_COMM: u32 = 1;
/// `error`: bad ring index.
pub const XENSTORE_ERROR_RINGIDX: u32 = 2;
/// `error`: protocol violation (payload too long).
pub const XENSTORE_ERROR_PROTO: u32 = 3;

/// The xenstore ring page (`struct xenstore_domain_interface`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenstoreDomainInterface {
    /// Requests to the daemon.
    pub req: [u8; XENSTORE_RING_SIZE],
    /// Replies and watch events from the daemon.
    pub rsp: [u8; XENSTORE_RING_SIZE],
    /// Request consumer index (daemon).
    pub req_cons: u32,
    /// Request producer index (guest).
    pub req_prod: u32,
    /// Response consumer index (guest).
    pub rsp_cons: u32,
    /// Response producer index (daemon).
    pub rsp_prod: u32,
    /// `XENSTORE_SERVER_FEATURE_*` bits offered by the daemon.
    pub server_features: u32,
    /// `XENSTORE_CONNECTED` / `XENSTORE_RECONNECT`.
    pub connection: u32,
    /// `XENSTORE_ERROR_*`.
    pub error: u32,
    /// Event channel for the daemon to signal (0: use the one from INTRODUCE).
    pub evtchn_port: u32,
}
const _: () = assert!(size_of::<XenstoreDomainInterface>() == 2080);
const _: () = assert!(offset_of!(XenstoreDomainInterface, req) == 0);
const _: () = assert!(offset_of!(XenstoreDomainInterface, rsp) == 1024);
const _: () = assert!(offset_of!(XenstoreDomainInterface, req_cons) == 2048);
const _: () = assert!(offset_of!(XenstoreDomainInterface, req_prod) == 2052);
const _: () = assert!(offset_of!(XenstoreDomainInterface, rsp_cons) == 2056);
const _: () = assert!(offset_of!(XenstoreDomainInterface, rsp_prod) == 2060);
const _: () = assert!(offset_of!(XenstoreDomainInterface, server_features) == 2064);
const _: () = assert!(offset_of!(XenstoreDomainInterface, connection) == 2068);
const _: () = assert!(offset_of!(XenstoreDomainInterface, error) == 2072);
const _: () = assert!(offset_of!(XenstoreDomainInterface, evtchn_port) == 2076);

impl Default for XenstoreDomainInterface {
    fn default() -> Self {
        XenstoreDomainInterface {
            req: [0; XENSTORE_RING_SIZE],
            rsp: [0; XENSTORE_RING_SIZE],
            req_cons: 0,
            req_prod: 0,
            rsp_cons: 0,
            rsp_prod: 0,
            server_features: 0,
            connection: XENSTORE_CONNECTED,
            error: XENSTORE_ERROR_NONE,
            evtchn_port: 0,
        }
    }
}

/// Byte offset in a xenstore ring of free-running index `idx`.
pub const fn mask_xenstore_idx(idx: u32) -> usize {
    idx as usize & (XENSTORE_RING_SIZE - 1)
}

/// Header of every xenstore message (`struct xsd_sockmsg`); `len` payload bytes follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XsdSockmsg {
    /// `XsdSockmsgType`.
    pub type_: u32,
    /// Request id, echoed in the reply.
    pub req_id: u32,
    /// Transaction id (0: none).
    pub tx_id: u32,
    /// Payload length in bytes (at most `XENSTORE_PAYLOAD_MAX`).
    pub len: u32,
}
const _: () = assert!(size_of::<XsdSockmsg>() == 16);
const _: () = assert!(offset_of!(XsdSockmsg, type_) == 0);
const _: () = assert!(offset_of!(XsdSockmsg, req_id) == 4);
const _: () = assert!(offset_of!(XsdSockmsg, tx_id) == 8);
const _: () = assert!(offset_of!(XsdSockmsg, len) == 12);

/// A xenstore message type (`enum xsd_sockmsg_type`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XsdSockmsgType {
    /// Daemon control (formerly XS_DEBUG).
    Control = 0,
    /// List a node's children.
    Directory = 1,
    /// Read a node.
    Read = 2,
    /// Read a node's permissions.
    GetPerms = 3,
    /// Add a watch.
    Watch = 4,
    /// Remove a watch.
    Unwatch = 5,
    /// Start a transaction.
    TransactionStart = 6,
    /// End a transaction ("T" commit / "F" abort).
    TransactionEnd = 7,
    /// Introduce a new domain to the daemon.
    Introduce = 8,
    /// Forget a domain.
    Release = 9,
    /// A domain's home path.
    GetDomainPath = 10,
    /// Write a node.
    Write = 11,
    /// Create a node.
    Mkdir = 12,
    /// Remove a node.
    Rm = 13,
    /// Set a node's permissions.
    SetPerms = 14,
    /// A watch fired (daemon to client).
    WatchEvent = 15,
    /// Error reply; the payload is the errno name.
    Error = 16,
    /// Whether a domain was introduced.
    IsDomainIntroduced = 17,
    /// Resume a domain's connection.
    Resume = 18,
    /// Make one domain the target of another.
    SetTarget = 19,
    /// Remove all watches of the connection.
    ResetWatches = 21,
    /// Part of a large directory listing.
    DirectoryPart = 22,
}

impl XsdSockmsgType {
    /// The message type's name without the `XS_` prefix, such as `"READ"`.
    pub const fn name(self) -> &'static str {
        match self {
            XsdSockmsgType::Control => "CONTROL",
            XsdSockmsgType::Directory => "DIRECTORY",
            XsdSockmsgType::Read => "READ",
            XsdSockmsgType::GetPerms => "GET_PERMS",
            XsdSockmsgType::Watch => "WATCH",
            XsdSockmsgType::Unwatch => "UNWATCH",
            XsdSockmsgType::TransactionStart => "TRANSACTION_START",
            XsdSockmsgType::TransactionEnd => "TRANSACTION_END",
            XsdSockmsgType::Introduce => "INTRODUCE",
            XsdSockmsgType::Release => "RELEASE",
            XsdSockmsgType::GetDomainPath => "GET_DOMAIN_PATH",
            XsdSockmsgType::Write => "WRITE",
            XsdSockmsgType::Mkdir => "MKDIR",
            XsdSockmsgType::Rm => "RM",
            XsdSockmsgType::SetPerms => "SET_PERMS",
            XsdSockmsgType::WatchEvent => "WATCH_EVENT",
            XsdSockmsgType::Error => "ERROR",
            XsdSockmsgType::IsDomainIntroduced => "IS_DOMAIN_INTRODUCED",
            XsdSockmsgType::Resume => "RESUME",
            XsdSockmsgType::SetTarget => "SET_TARGET",
            XsdSockmsgType::ResetWatches => "RESET_WATCHES",
            XsdSockmsgType::DirectoryPart => "DIRECTORY_PART",
        }
    }
}

impl TryFrom<u32> for XsdSockmsgType {
    type Error = Errno;

    /// An unknown type (including the removed 20) is refused (EINVAL); xenstored itself
    /// answers a message of such a type ENOSYS, as Xen 4.17's does.
    fn try_from(ty: u32) -> Result<Self, Errno> {
        Ok(match ty {
            0 => XsdSockmsgType::Control,
            1 => XsdSockmsgType::Directory,
            2 => XsdSockmsgType::Read,
            3 => XsdSockmsgType::GetPerms,
            4 => XsdSockmsgType::Watch,
            5 => XsdSockmsgType::Unwatch,
            6 => XsdSockmsgType::TransactionStart,
            7 => XsdSockmsgType::TransactionEnd,
            8 => XsdSockmsgType::Introduce,
            9 => XsdSockmsgType::Release,
            10 => XsdSockmsgType::GetDomainPath,
            11 => XsdSockmsgType::Write,
            12 => XsdSockmsgType::Mkdir,
            13 => XsdSockmsgType::Rm,
            14 => XsdSockmsgType::SetPerms,
            15 => XsdSockmsgType::WatchEvent,
            16 => XsdSockmsgType::Error,
            17 => XsdSockmsgType::IsDomainIntroduced,
            18 => XsdSockmsgType::Resume,
            19 => XsdSockmsgType::SetTarget,
            21 => XsdSockmsgType::ResetWatches,
            22 => XsdSockmsgType::DirectoryPart,
            _ => return Err(Errno::Inval),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_xs_wire_h() {
        assert_eq!(XENSTORE_RING_SIZE, 1024);
        assert_eq!(XENSTORE_PAYLOAD_MAX, 4096);
        assert_eq!(XENSTORE_ABS_PATH_MAX, 3072);
        assert_eq!(XENSTORE_REL_PATH_MAX, 2048);
        assert_eq!(XENSTORE_SERVER_FEATURE_RECONNECTION, 1);
        assert_eq!(XENSTORE_SERVER_FEATURE_ERROR, 2);
        assert_eq!(XENSTORE_CONNECTED, 0);
        assert_eq!(XENSTORE_RECONNECT, 1);
        assert_eq!(XENSTORE_ERROR_NONE, 0);
        assert_eq!(XENSTORE_ERROR_COMM, 1);
        assert_eq!(XENSTORE_ERROR_RINGIDX, 2);
        assert_eq!(XENSTORE_ERROR_PROTO, 3);
    }

    #[test]
    fn layouts_match_xs_wire_h() {
        assert_eq!(size_of::<XenstoreDomainInterface>(), 2080);
        assert_eq!(offset_of!(XenstoreDomainInterface, rsp), 1024);
        assert_eq!(offset_of!(XenstoreDomainInterface, req_cons), 2048);
        assert_eq!(offset_of!(XenstoreDomainInterface, req_prod), 2052);
        assert_eq!(offset_of!(XenstoreDomainInterface, rsp_cons), 2056);
        assert_eq!(offset_of!(XenstoreDomainInterface, rsp_prod), 2060);
        assert_eq!(offset_of!(XenstoreDomainInterface, server_features), 2064);
        assert_eq!(offset_of!(XenstoreDomainInterface, connection), 2068);
        assert_eq!(offset_of!(XenstoreDomainInterface, error), 2072);
        assert_eq!(offset_of!(XenstoreDomainInterface, evtchn_port), 2076);
        assert_eq!(size_of::<XsdSockmsg>(), 16);
        assert_eq!(offset_of!(XsdSockmsg, req_id), 4);
        assert_eq!(offset_of!(XsdSockmsg, tx_id), 8);
        assert_eq!(offset_of!(XsdSockmsg, len), 12);
    }

    #[test]
    fn types_match_xs_wire_h_and_decode() {
        let table = [
            (XsdSockmsgType::Control, 0, "CONTROL"),
            (XsdSockmsgType::Directory, 1, "DIRECTORY"),
            (XsdSockmsgType::Read, 2, "READ"),
            (XsdSockmsgType::GetPerms, 3, "GET_PERMS"),
            (XsdSockmsgType::Watch, 4, "WATCH"),
            (XsdSockmsgType::Unwatch, 5, "UNWATCH"),
            (XsdSockmsgType::TransactionStart, 6, "TRANSACTION_START"),
            (XsdSockmsgType::TransactionEnd, 7, "TRANSACTION_END"),
            (XsdSockmsgType::Introduce, 8, "INTRODUCE"),
            (XsdSockmsgType::Release, 9, "RELEASE"),
            (XsdSockmsgType::GetDomainPath, 10, "GET_DOMAIN_PATH"),
            (XsdSockmsgType::Write, 11, "WRITE"),
            (XsdSockmsgType::Mkdir, 12, "MKDIR"),
            (XsdSockmsgType::Rm, 13, "RM"),
            (XsdSockmsgType::SetPerms, 14, "SET_PERMS"),
            (XsdSockmsgType::WatchEvent, 15, "WATCH_EVENT"),
            (XsdSockmsgType::Error, 16, "ERROR"),
            (
                XsdSockmsgType::IsDomainIntroduced,
                17,
                "IS_DOMAIN_INTRODUCED",
            ),
            (XsdSockmsgType::Resume, 18, "RESUME"),
            (XsdSockmsgType::SetTarget, 19, "SET_TARGET"),
            (XsdSockmsgType::ResetWatches, 21, "RESET_WATCHES"),
            (XsdSockmsgType::DirectoryPart, 22, "DIRECTORY_PART"),
        ];
        for (t, v, name) in table {
            assert_eq!(t as u32, v);
            assert_eq!(XsdSockmsgType::try_from(v), Ok(t));
            assert_eq!(t.name(), name);
        }
        for v in [20, 23, 0xffff, u32::MAX] {
            assert_eq!(XsdSockmsgType::try_from(v), Err(Errno::Inval), "{v}");
        }
    }

    #[test]
    fn ring_mask_and_default() {
        assert_eq!(mask_xenstore_idx(1024), 0);
        assert_eq!(mask_xenstore_idx(1025), 1);
        let i = XenstoreDomainInterface::default();
        assert_eq!(i.connection, XENSTORE_CONNECTED);
        assert!(i.req.iter().chain(&i.rsp).all(|&b| b == 0));
    }
}
