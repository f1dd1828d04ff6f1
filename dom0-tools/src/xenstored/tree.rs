//! The committed xenstore tree: nodes by absolute path, generations and nodes per owner.

use super::node::Node;
use super::path;
use super::perms::{Access, Perms};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use hypercall_abi::domid::DomId;

/// What one domain owns in the tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Nodes.
    pub nodes: u32,
    /// Bytes, as `Node::mem` counts them.
    pub bytes: usize,
}

/// The store every transaction commits into.
#[derive(Debug)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
    last_generation: u64,
    owned: BTreeMap<DomId, Usage>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

impl Tree {
    /// A tree holding only `/`, owned by Dom0 and closed to others.
    pub fn new() -> Tree {
        let mut t = Tree {
            nodes: BTreeMap::new(),
            last_generation: 0,
            owned: BTreeMap::new(),
        };
        // xenstored starts with `/tool/xenstored`, all Dom0's and closed to others.
        let mut root = Node::new(Perms::owned_by(0, Access::None));
        root.children.push(String::from("tool"));
        let mut tool = Node::new(Perms::owned_by(0, Access::None));
        tool.children.push(String::from("xenstored"));
        t.put("/", root);
        t.put("/tool", tool);
        t.put(
            "/tool/xenstored",
            Node::new(Perms::owned_by(0, Access::None)),
        );
        t
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The generation of the node at `path` (`None`: absent).
    pub fn generation_of(&self, path: &str) -> Option<u64> {
        self.nodes.get(path).map(|n| n.generation)
    }

    /// What `domid` owns.
    pub fn usage(&self, domid: DomId) -> Usage {
        self.owned.get(&domid).copied().unwrap_or_default()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree is empty (never: `/` always exists).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn count(&mut self, domid: DomId, bytes: usize, add: bool) {
        let u = self.owned.entry(domid).or_default();
        if add {
            u.nodes = u.nodes.saturating_add(1);
            u.bytes = u.bytes.saturating_add(bytes);
        } else {
            u.nodes = u.nodes.saturating_sub(1);
            u.bytes = u.bytes.saturating_sub(bytes);
        }
        if u.nodes == 0 {
            self.owned.remove(&domid);
        }
    }

    /// Stores `node` at `path` with a fresh generation (the caller keeps parents' child lists
    /// consistent).
    pub fn put(&mut self, path: &str, mut node: Node) {
        self.last_generation += 1;
        node.generation = self.last_generation;
        let owner = node.perms.owner();
        let mem = node.mem(path);
        if let Some(old) = self.nodes.insert(String::from(path), node) {
            self.count(old.perms.owner(), old.mem(path), false);
        }
        self.count(owner, mem, true);
    }

    /// Removes the node at `path` alone.
    pub fn remove(&mut self, path: &str) {
        if let Some(old) = self.nodes.remove(path) {
            self.count(old.perms.owner(), old.mem(path), false);
        }
    }

    /// Paths of nodes owned by `domid` whose parent is not also owned by it (the roots of
    /// what it owns).
    pub fn owned_roots(&self, domid: DomId) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(p, n)| {
                n.perms.owner() == domid
                    && p.as_str() != "/"
                    && path::parent(p)
                        .and_then(|q| self.nodes.get(q))
                        .is_none_or(|q| q.perms.owner() != domid)
            })
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Drops `domid` from every node's permission list (it no longer exists).
    pub fn forget_domain(&mut self, domid: DomId) {
        let mut moved = Vec::new();
        for (p, n) in self.nodes.iter_mut() {
            let before = n.mem(p);
            let owned = n.perms.owner() == domid;
            n.perms.forget_domain(domid);
            if owned {
                moved.push((before, n.mem(p)));
            }
        }
        for (before, after) in moved {
            self.count(domid, before, false);
            self.count(0, after, true);
        }
    }
}
