//! What Dom0 tells the two ping-pong DomUs: their role and grant reference (command line), then their peer and port, and when to let go (console lines).

use core::fmt;

use hypercall_abi::domid::{DOMID_FIRST_RESERVED, DomId};
use hypercall_abi::event_channel::{EVTCHN_2L_NR_CHANNELS, EvtchnPort};
use hypercall_abi::grant_table::GrantRef;

/// The DomU's part in the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Owns the port Dom0 allocated and grants a page to its peer.
    Granter,
    /// Binds to the granter's port and maps, copies and unmaps the granted page.
    Mapper,
}

impl Role {
    /// The command-line word naming this role.
    pub fn word(self) -> &'static str {
        match self {
            Role::Granter => "role=granter",
            Role::Mapper => "role=mapper",
        }
    }
}

/// What the command line says: `role=granter|mapper gref=N` (other words are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PongConfig {
    /// The part this DomU plays.
    pub role: Role,
    /// The granter's grant reference for the shared page (the next one is the held page's).
    pub gref: GrantRef,
}

/// Grant references a DomU may be told to use: it and the next within the first grant frame
/// (512 v1 entries), and not the 8 the toolstack keeps for itself.
pub const GREFS: core::ops::Range<GrantRef> = 8..511;

/// A decimal number of at most 10 digits, nothing else.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// The value of `key=` among the space-separated words of `text` (the first one).
fn value<'t>(text: &'t [u8], key: &[u8]) -> Option<&'t [u8]> {
    text.split(|b| b.is_ascii_whitespace())
        .find_map(|w| w.strip_prefix(key).and_then(|rest| rest.strip_prefix(b"=")))
}

impl PongConfig {
    /// Parses a command line; `None` unless the role and a usable reference are both there.
    pub fn parse(cmdline: &[u8]) -> Option<PongConfig> {
        let role = match value(cmdline, b"role")? {
            b"granter" => Role::Granter,
            b"mapper" => Role::Mapper,
            _ => return None,
        };
        let gref = GrantRef::try_from(number(value(cmdline, b"gref")?)?).ok()?;
        GREFS.contains(&gref).then_some(PongConfig { role, gref })
    }
}

/// Writes the command-line words for `role` and `gref` (after the mode word).
pub struct CmdlineWords {
    /// The role.
    pub role: Role,
    /// The grant reference.
    pub gref: GrantRef,
}

impl fmt::Display for CmdlineWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} gref={}", self.role.word(), self.gref)
    }
}

/// The line Dom0 sends on a DomU's console once both exist: its peer's id and the port of the
/// granter's that connects them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerLink {
    /// The other DomU.
    pub peer: DomId,
    /// The granter's port (the mapper binds to it; the granter sends on it).
    pub port: EvtchnPort,
}

/// The first word of the link line.
const LINK_WORD: &str = "pingpong";

impl PeerLink {
    /// Parses a line `pingpong peer=N port=P` (without its newline).
    pub fn parse(line: &[u8]) -> Option<PeerLink> {
        let first = line
            .split(|b| b.is_ascii_whitespace())
            .find(|w| !w.is_empty())?;
        if first != LINK_WORD.as_bytes() {
            return None;
        }
        let peer = DomId::try_from(number(value(line, b"peer")?)?).ok()?;
        let port = EvtchnPort::try_from(number(value(line, b"port")?)?).ok()?;
        let usable = peer < DOMID_FIRST_RESERVED && port != 0 && port < EVTCHN_2L_NR_CHANNELS;
        usable.then_some(PeerLink { peer, port })
    }
}

impl fmt::Display for PeerLink {
    /// The line as Dom0 sends it, newline included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} peer={} port={}", LINK_WORD, self.peer, self.port)
    }
}

/// The line Dom0 sends the mapper once it has seen the granter outlive its destruction: let go
/// of the held page.
pub const RELEASE_LINE: &str = "release\n";

/// Whether `line` (without its newline) is [`RELEASE_LINE`].
pub fn is_release(line: &[u8]) -> bool {
    line.trim_ascii() == RELEASE_LINE.trim_end().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_role_and_gref_among_other_words() {
        let got = PongConfig::parse(b"domu=pong role=mapper gref=8 acpi=off");
        assert_eq!(
            got,
            Some(PongConfig {
                role: Role::Mapper,
                gref: 8
            })
        );
        let words = CmdlineWords {
            role: Role::Granter,
            gref: 300,
        }
        .to_string();
        assert_eq!(words, "role=granter gref=300");
        assert_eq!(
            PongConfig::parse(format!("domu=pong {words}").as_bytes()),
            Some(PongConfig {
                role: Role::Granter,
                gref: 300
            })
        );
    }

    #[test]
    fn refuses_a_missing_or_unusable_role_or_gref() {
        assert_eq!(PongConfig::parse(b"domu=pong gref=8"), None);
        assert_eq!(PongConfig::parse(b"role=both gref=8"), None);
        assert_eq!(PongConfig::parse(b"role=mapper"), None);
        assert_eq!(PongConfig::parse(b"role=mapper gref=7"), None);
        assert_eq!(PongConfig::parse(b"role=mapper gref=511"), None);
        assert_eq!(PongConfig::parse(b"role=mapper gref=512"), None);
        assert_eq!(PongConfig::parse(b"role=mapper gref=-1"), None);
        assert_eq!(PongConfig::parse(b"role=mapper gref=99999999999"), None);
        assert_eq!(PongConfig::parse(b"role=mapper gref="), None);
    }

    #[test]
    fn the_link_line_round_trips() {
        let link = PeerLink { peer: 2, port: 5 };
        let line = link.to_string();
        assert_eq!(line, "pingpong peer=2 port=5\n");
        assert_eq!(PeerLink::parse(line.trim_end().as_bytes()), Some(link));
    }

    #[test]
    fn the_release_line_is_recognised() {
        assert!(is_release(RELEASE_LINE.trim_end().as_bytes()));
        assert!(is_release(b"release\r"));
        assert!(!is_release(b"pingpong peer=2 port=5"));
        assert!(!is_release(b"releases"));
    }

    #[test]
    fn refuses_other_lines_and_unusable_values() {
        assert_eq!(PeerLink::parse(b"stop"), None);
        assert_eq!(PeerLink::parse(b"peer=2 port=5"), None);
        assert_eq!(PeerLink::parse(b"pingpong peer=2"), None);
        assert_eq!(PeerLink::parse(b"pingpong peer=2 port=0"), None);
        assert_eq!(PeerLink::parse(b"pingpong peer=2 port=4096"), None);
        assert_eq!(PeerLink::parse(b"pingpong peer=32752 port=5"), None);
        assert_eq!(PeerLink::parse(b"pingpong peer=70000 port=5"), None);
        assert_eq!(PeerLink::parse(b"pingpong peer=x port=5"), None);
    }
}
