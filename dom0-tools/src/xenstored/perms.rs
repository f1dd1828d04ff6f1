//! Node permissions: the owner-first list of (domain, access) and its `r5`/`n0` string form.

use alloc::vec::Vec;
use core::fmt::Write;
use hypercall_abi::domid::DomId;
use hypercall_abi::errno::Errno;

/// What one entry grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `n`: nothing.
    None,
    /// `r`: read.
    Read,
    /// `w`: write.
    Write,
    /// `b`: read and write.
    Both,
}

impl Access {
    /// The letter of the string form.
    pub const fn letter(self) -> char {
        match self {
            Access::None => 'n',
            Access::Read => 'r',
            Access::Write => 'w',
            Access::Both => 'b',
        }
    }

    fn from_letter(b: u8) -> Option<Access> {
        Some(match b {
            b'n' => Access::None,
            b'r' => Access::Read,
            b'w' => Access::Write,
            b'b' => Access::Both,
            _ => return None,
        })
    }

    const fn rights(self) -> Rights {
        Rights {
            read: matches!(self, Access::Read | Access::Both),
            write: matches!(self, Access::Write | Access::Both),
            owner: false,
        }
    }
}

/// One entry: `domid` gets `access`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    /// The domain the entry names.
    pub domid: DomId,
    /// What it grants.
    pub access: Access,
}

impl Perm {
    /// An entry.
    pub const fn new(domid: DomId, access: Access) -> Perm {
        Perm { domid, access }
    }

    /// Parses one `<letter><domid>` string such as `r5`.
    pub fn parse(s: &[u8]) -> Result<Perm, Errno> {
        let (&letter, digits) = s.split_first().ok_or(Errno::Inval)?;
        let access = Access::from_letter(letter).ok_or(Errno::Inval)?;
        Ok(Perm::new(parse_domid(digits)?, access))
    }
}

/// Parses a decimal domain id (0..=65535).
pub fn parse_domid(digits: &[u8]) -> Result<DomId, Errno> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Errno::Inval);
    }
    let v = digits
        .iter()
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    DomId::try_from(v).map_err(|_| Errno::Inval)
}

/// What a domain may do with a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rights {
    /// May read the value, children and permissions.
    pub read: bool,
    /// May write, create below and remove.
    pub write: bool,
    /// Owns the node (may change its permissions).
    pub owner: bool,
}

impl Rights {
    /// Everything (the owner, Dom0).
    pub const ALL: Rights = Rights {
        read: true,
        write: true,
        owner: true,
    };
}

/// A node's permission list; the first entry names the owner and the access of every domain
/// not listed later. Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Perms(Vec<Perm>);

impl Perms {
    /// A list with only the owner entry.
    pub fn owned_by(domid: DomId, others: Access) -> Perms {
        Perms(alloc::vec![Perm::new(domid, others)])
    }

    /// A list from entries; EINVAL if empty.
    pub fn new(entries: Vec<Perm>) -> Result<Perms, Errno> {
        if entries.is_empty() {
            Err(Errno::Inval)
        } else {
            Ok(Perms(entries))
        }
    }

    /// Parses NUL-separated `<letter><domid>` strings (a trailing NUL is optional).
    pub fn parse(strings: &[u8]) -> Result<Perms, Errno> {
        let body = strings.strip_suffix(&[0]).unwrap_or(strings);
        if body.is_empty() {
            return Err(Errno::Inval);
        }
        let mut v = Vec::new();
        for s in body.split(|&b| b == 0) {
            v.push(Perm::parse(s)?);
        }
        Perms::new(v)
    }

    /// The entries, owner first.
    pub fn entries(&self) -> &[Perm] {
        &self.0
    }

    /// The owner.
    pub fn owner(&self) -> DomId {
        self.0[0].domid
    }

    /// Makes `domid` the owner, keeping the default access.
    pub fn set_owner(&mut self, domid: DomId) {
        self.0[0].domid = domid;
    }

    /// Drops every entry after the first that names `domid`; an owner `domid` becomes Dom0.
    pub fn forget_domain(&mut self, domid: DomId) {
        if self.0[0].domid == domid {
            self.0[0].domid = 0;
        }
        let owner = self.0[0];
        self.0.retain(|p| p.domid != domid);
        if self.0.first() != Some(&owner) {
            self.0.insert(0, owner);
        }
    }

    /// The string form: each entry followed by a NUL (`n0\0r5\0`).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = alloc::string::String::new();
        for p in &self.0 {
            // Writing to a String cannot fail.
            let _ = write!(s, "{}{}\0", p.access.letter(), p.domid);
        }
        s.into_bytes()
    }

    /// What an unprivileged `domid` (acting also for `target`, if any) may do: everything if
    /// it owns the node, else the first entry naming it, else the default.
    pub fn rights_for(&self, domid: DomId, target: Option<DomId>) -> Rights {
        let is = |d: DomId| d == domid || Some(d) == target;
        if is(self.owner()) {
            return Rights::ALL;
        }
        let own = self.0[1..].iter().find(|p| p.domid == domid);
        let tgt = target.and_then(|t| self.0[1..].iter().find(|p| p.domid == t));
        match (own, tgt) {
            (None, None) => self.0[0].access.rights(),
            (a, b) => {
                let a = a.map(|p| p.access.rights()).unwrap_or_default();
                let b = b.map(|p| p.access.rights()).unwrap_or_default();
                Rights {
                    read: a.read || b.read,
                    write: a.write || b.write,
                    owner: false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form_round_trips() {
        let p = Perms::parse(b"n0\0r5\0b7\0w65535\0").unwrap();
        assert_eq!(p.encode(), b"n0\0r5\0b7\0w65535\0");
        assert_eq!(p.owner(), 0);
        assert_eq!(Perms::parse(b"r3").unwrap().encode(), b"r3\0");
        for bad in [
            &b""[..],
            b"\0",
            b"x1\0",
            b"r\0",
            b"r65536\0",
            b"r-1\0",
            b"r1\0\0",
        ] {
            assert_eq!(Perms::parse(bad), Err(Errno::Inval), "{bad:?}");
        }
    }

    #[test]
    fn rights_follow_owner_entries_then_default() {
        let p = Perms::parse(b"r1\0w2\0n3\0").unwrap();
        assert_eq!(p.rights_for(1, None), Rights::ALL);
        let w = p.rights_for(2, None);
        assert!(w.write && !w.read && !w.owner);
        let n = p.rights_for(3, None);
        assert!(!n.read && !n.write);
        let d = p.rights_for(9, None);
        assert!(d.read && !d.write);
        assert_eq!(p.rights_for(9, Some(1)), Rights::ALL);
    }

    #[test]
    fn forgetting_a_domain() {
        let mut p = Perms::parse(b"b4\0r5\0r4\0").unwrap();
        p.forget_domain(4);
        assert_eq!(p.encode(), b"b0\0r5\0");
        p.forget_domain(5);
        assert_eq!(p.encode(), b"b0\0");
    }
}
