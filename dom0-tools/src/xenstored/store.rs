//! The view operations act on: the committed tree directly, or a transaction's copy of it.

use super::node::Node;
use super::tree::{Tree, Usage};
use hypercall_abi::domid::DomId;
use hypercall_abi::errno::Errno;

/// Node access for the operations in `ops`.
pub trait Store {
    /// The node at `path`, as this view sees it. A transaction records the access (ENOSPC once
    /// an unprivileged transaction has touched too many nodes).
    fn get(&mut self, path: &str) -> Result<Option<Node>, Errno>;
    /// Replaces or creates the node at `path`.
    fn put(&mut self, path: &str, node: Node);
    /// Removes the node at `path` alone.
    fn remove(&mut self, path: &str);
    /// What `domid` owns in this view.
    fn usage(&self, domid: DomId) -> Usage;
    /// Charges `bytes` about to be written to an unprivileged transaction's memory budget
    /// (ENOMEM when exhausted); the tree itself charges nothing here.
    fn reserve(&mut self, bytes: usize) -> Result<(), Errno>;
}

impl Store for Tree {
    fn get(&mut self, path: &str) -> Result<Option<Node>, Errno> {
        Ok(Tree::get(self, path).cloned())
    }

    fn put(&mut self, path: &str, node: Node) {
        Tree::put(self, path, node);
    }

    fn remove(&mut self, path: &str) {
        Tree::remove(self, path);
    }

    fn usage(&self, domid: DomId) -> Usage {
        Tree::usage(self, domid)
    }

    fn reserve(&mut self, _bytes: usize) -> Result<(), Errno> {
        Ok(())
    }
}
