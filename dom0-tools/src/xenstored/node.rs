//! One xenstore node: its value bytes, permissions, ordered children and generation.

use super::perms::Perms;
use alloc::string::String;
use alloc::vec::Vec;

/// A node of the tree (or a transaction's copy of one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The value (any bytes).
    pub value: Vec<u8>,
    /// Who may do what.
    pub perms: Perms,
    /// Names of the immediate children, in creation order.
    pub children: Vec<String>,
    /// Changes whenever the node is written; `DIRECTORY_PART`'s gencnt.
    pub generation: u64,
}

impl Node {
    /// An empty node with `perms`.
    pub fn new(perms: Perms) -> Node {
        Node {
            value: Vec::new(),
            perms,
            children: Vec::new(),
            generation: 0,
        }
    }

    /// The children as the wire lists them: each name followed by a NUL.
    pub fn children_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for c in &self.children {
            v.extend_from_slice(c.as_bytes());
            v.push(0);
        }
        v
    }

    /// The bytes the memory quota charges its owner for the node at `path`.
    pub fn mem(&self, path: &str) -> usize {
        path.len() + self.entry_size()
    }

    /// The size the entry-size quota counts: about what xenstored stores per node (a small
    /// header, the permissions, the value and the children's names).
    pub fn entry_size(&self) -> usize {
        let names: usize = self.children.iter().map(|c| c.len() + 1).sum();
        16 + 4 * self.perms.entries().len() + self.value.len() + names
    }
}
