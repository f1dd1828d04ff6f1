//! The xenbus device state machine both ends of a split driver publish in xenstore (io/xenbus.h).

use crate::errno::Errno;
use core::fmt;
use core::str::FromStr;

/// Key of a device directory holding its `XenbusState` as decimal text.
pub const XENBUS_KEY_STATE: &str = "state";
/// Frontend key: path of the backend's directory.
pub const XENBUS_KEY_BACKEND: &str = "backend";
/// Frontend key: domain id of the backend.
pub const XENBUS_KEY_BACKEND_ID: &str = "backend-id";
/// Backend key: path of the frontend's directory.
pub const XENBUS_KEY_FRONTEND: &str = "frontend";
/// Backend key: domain id of the frontend.
pub const XENBUS_KEY_FRONTEND_ID: &str = "frontend-id";
/// Backend key: the device is still wanted (`1`), or is being unplugged (`0`).
pub const XENBUS_KEY_ONLINE: &str = "online";

/// The state of one end of a split device (`enum xenbus_state`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum XenbusState {
    /// No state (also: the node is missing).
    Unknown = 0,
    /// Setting up.
    Initialising = 1,
    /// Set up, waiting for the peer or hotplug scripts.
    InitWait = 2,
    /// Set up, waiting for the peer to connect.
    Initialised = 3,
    /// In service.
    Connected = 4,
    /// Shutting down (error or unplug).
    Closing = 5,
    /// Shut down.
    Closed = 6,
    /// Being reconfigured.
    Reconfiguring = 7,
    /// Reconfigured.
    Reconfigured = 8,
}

impl XenbusState {
    /// Every state, in numeric order.
    pub const ALL: [XenbusState; 9] = [
        XenbusState::Unknown,
        XenbusState::Initialising,
        XenbusState::InitWait,
        XenbusState::Initialised,
        XenbusState::Connected,
        XenbusState::Closing,
        XenbusState::Closed,
        XenbusState::Reconfiguring,
        XenbusState::Reconfigured,
    ];

    /// The decimal text xenstore holds for the state, such as `"4"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            XenbusState::Unknown => "0",
            XenbusState::Initialising => "1",
            XenbusState::InitWait => "2",
            XenbusState::Initialised => "3",
            XenbusState::Connected => "4",
            XenbusState::Closing => "5",
            XenbusState::Closed => "6",
            XenbusState::Reconfiguring => "7",
            XenbusState::Reconfigured => "8",
        }
    }

    /// The state's name without the `XenbusState` prefix, such as `"Connected"`.
    pub const fn name(self) -> &'static str {
        match self {
            XenbusState::Unknown => "Unknown",
            XenbusState::Initialising => "Initialising",
            XenbusState::InitWait => "InitWait",
            XenbusState::Initialised => "Initialised",
            XenbusState::Connected => "Connected",
            XenbusState::Closing => "Closing",
            XenbusState::Closed => "Closed",
            XenbusState::Reconfiguring => "Reconfiguring",
            XenbusState::Reconfigured => "Reconfigured",
        }
    }
}

impl TryFrom<u32> for XenbusState {
    type Error = Errno;

    /// A number above 8 is refused (EINVAL).
    fn try_from(v: u32) -> Result<Self, Errno> {
        match XenbusState::ALL.get(v as usize) {
            Some(&s) => Ok(s),
            None => Err(Errno::Inval),
        }
    }
}

impl FromStr for XenbusState {
    type Err = Errno;

    /// Parses the decimal text of a `state` node: ASCII digits only (leading
    /// zeros allowed), at most 10 of them; anything else is EINVAL.
    fn from_str(s: &str) -> Result<Self, Errno> {
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Errno::Inval);
        }
        let v: u64 = s.bytes().fold(0, |acc, b| acc * 10 + u64::from(b - b'0'));
        let v = u32::try_from(v).map_err(|_| Errno::Inval)?;
        XenbusState::try_from(v)
    }
}

/// Writes the decimal text xenstore holds (`as_str`), such as `4`.
impl fmt::Display for XenbusState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn values_match_xenbus_h() {
        let table = [
            (XenbusState::Unknown, 0, "Unknown"),
            (XenbusState::Initialising, 1, "Initialising"),
            (XenbusState::InitWait, 2, "InitWait"),
            (XenbusState::Initialised, 3, "Initialised"),
            (XenbusState::Connected, 4, "Connected"),
            (XenbusState::Closing, 5, "Closing"),
            (XenbusState::Closed, 6, "Closed"),
            (XenbusState::Reconfiguring, 7, "Reconfiguring"),
            (XenbusState::Reconfigured, 8, "Reconfigured"),
        ];
        for (s, v, name) in table {
            assert_eq!(s as u32, v);
            assert_eq!(XenbusState::try_from(v), Ok(s));
            assert_eq!(s.name(), name);
            assert_eq!(XenbusState::ALL[v as usize], s);
        }
        for v in [9, 10, 0xffff, u32::MAX] {
            assert_eq!(XenbusState::try_from(v), Err(Errno::Inval), "{v}");
        }
    }

    #[test]
    fn decimal_text_round_trips() {
        for s in XenbusState::ALL {
            assert_eq!(s.as_str().parse::<XenbusState>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(s.as_str(), (s as u32).to_string());
        }
        assert_eq!("04".parse(), Ok(XenbusState::Connected));
        assert_eq!("0000000006".parse(), Ok(XenbusState::Closed));
    }

    #[test]
    fn hostile_text_is_refused() {
        for bad in [
            "",
            "9",
            "-1",
            "+4",
            " 4",
            "4 ",
            "4\n",
            "4\0",
            "x",
            "Connected",
            "4294967296",
            "4294967300",
            "99999999999999999999",
            "00000000004",
            "٤",
        ] {
            assert_eq!(bad.parse::<XenbusState>(), Err(Errno::Inval), "{bad:?}");
        }
    }

    #[test]
    fn xenstore_keys() {
        assert_eq!(XENBUS_KEY_STATE, "state");
        assert_eq!(XENBUS_KEY_BACKEND, "backend");
        assert_eq!(XENBUS_KEY_BACKEND_ID, "backend-id");
        assert_eq!(XENBUS_KEY_FRONTEND, "frontend");
        assert_eq!(XENBUS_KEY_FRONTEND_ID, "frontend-id");
        assert_eq!(XENBUS_KEY_ONLINE, "online");
        assert!(XenbusState::Connected > XenbusState::InitWait);
    }
}
