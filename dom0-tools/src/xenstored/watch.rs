//! Watches: a connection's (path, token) registrations, the changes that fire them and the
// `WATCH_EVENT` payload.

use super::path;
use super::perms::Perms;
use alloc::string::String;
use alloc::vec::Vec;
use hypercall_abi::xenstore::XENSTORE_PAYLOAD_MAX;

/// A change to the tree (or a special event) that may fire watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The absolute path changed, or the special name (`@releaseDomain`).
    pub path: String,
    /// Fire only watches on exactly this path (a node removed with an ancestor); otherwise
    /// every watch on the path or an ancestor of it.
    pub exact: bool,
    /// The node's permissions before the change, when it may no longer have them (removed
    /// nodes, changed permissions): a watcher that could read it then still hears of it.
    pub old_perms: Option<Perms>,
}

impl Change {
    /// A change at `path` firing watches on it and its ancestors.
    pub fn at(path: &str, old_perms: Option<Perms>) -> Change {
        Change {
            path: String::from(path),
            exact: false,
            old_perms,
        }
    }
}

/// One registered watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// The absolute path (or special name) watched.
    pub node: String,
    /// The client's token, echoed in each event.
    pub token: Vec<u8>,
    /// Bytes of the caller's home path to strip from event paths (relative watches), else 0.
    pub strip: usize,
}

impl Watch {
    /// Whether `change` fires this watch.
    pub fn matches(&self, change: &Change) -> bool {
        if change.exact || path::is_special(&change.path) || path::is_special(&self.node) {
            change.path == self.node
        } else {
            path::is_child(&change.path, &self.node)
        }
    }

    /// The `WATCH_EVENT` payload for an event at `event_path` (`path\0token\0`), or `None` if
    /// it would exceed the payload limit (xenstored drops such events).
    pub fn event_payload(&self, event_path: &str) -> Option<Vec<u8>> {
        let mut p = event_path;
        if self.strip > 0 {
            p = p.get(self.strip..).unwrap_or("");
            p = p.strip_prefix('/').unwrap_or(p);
        }
        let len = p.len() + self.token.len() + 2;
        if len > XENSTORE_PAYLOAD_MAX {
            return None;
        }
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(p.as_bytes());
        v.push(0);
        v.extend_from_slice(&self.token);
        v.push(0);
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(node: &str, strip: usize) -> Watch {
        Watch {
            node: String::from(node),
            token: b"tok".to_vec(),
            strip,
        }
    }

    #[test]
    fn matching_and_payloads() {
        let a = w("/a", 0);
        assert!(a.matches(&Change::at("/a/b", None)));
        assert!(a.matches(&Change::at("/a", None)));
        assert!(!a.matches(&Change::at("/ab", None)));
        let mut exact = Change::at("/a/b", None);
        exact.exact = true;
        assert!(!a.matches(&exact));
        assert!(w("/a/b", 0).matches(&exact));
        assert!(!w("/", 0).matches(&Change::at("@releaseDomain", None)));
        assert!(w("@releaseDomain", 0).matches(&Change::at("@releaseDomain", None)));
        assert_eq!(a.event_payload("/a/b").unwrap(), b"/a/b\0tok\0");
        let rel = w("/local/domain/3/x", "/local/domain/3".len());
        assert_eq!(
            rel.event_payload("/local/domain/3/x/y").unwrap(),
            b"x/y\0tok\0"
        );
    }
}
