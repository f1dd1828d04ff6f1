//! A transaction: its private changes, the generations of every node it touched (for the
// per-path conflict check at commit) and the watch events it will fire.

use super::node::Node;
use super::store::Store;
use super::tree::{Tree, Usage};
use super::watch::Change;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use hypercall_abi::domid::DomId;
use hypercall_abi::errno::Errno;

/// An open transaction of one connection.
#[derive(Debug, Default)]
pub struct Transaction {
    /// Nodes this transaction wrote (`None`: removed).
    changes: BTreeMap<String, Option<Node>>,
    /// Every node read or written, with the committed generation seen first (`None`: absent).
    accessed: BTreeMap<String, Option<u64>>,
    /// Net change of (nodes, bytes) owned per domain.
    owned_delta: BTreeMap<DomId, (i64, i64)>,
    /// Bytes this transaction holds (charged, never refunded until it ends).
    bytes: usize,
    /// Watch events to fire on commit, one per path.
    events: BTreeMap<String, Change>,
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// Remembers a change to fire on commit (merged with an earlier one on the same path).
    pub fn queue_event(&mut self, change: Change) {
        match self.events.get_mut(&change.path) {
            Some(old) => old.exact &= change.exact,
            None => {
                self.events.insert(change.path.clone(), change);
            }
        }
    }

    /// Number of nodes touched.
    pub fn accessed(&self) -> usize {
        self.accessed.len()
    }

    /// Bytes charged to this transaction.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Applies the transaction to `tree` unless a node it touched changed there since it first
    /// touched it (EAGAIN, nothing applied). Returns the events to fire.
    pub fn commit(self, tree: &mut Tree) -> Result<Vec<Change>, Errno> {
        if self
            .accessed
            .iter()
            .any(|(p, g)| tree.generation_of(p) != *g)
        {
            return Err(Errno::Again);
        }
        for (p, n) in self.changes {
            match n {
                Some(n) => tree.put(&p, n),
                None => tree.remove(&p),
            }
        }
        Ok(self.events.into_values().collect())
    }
}

/// A transaction's view of the tree.
pub struct TxView<'a> {
    /// The committed tree.
    pub tree: &'a Tree,
    /// The transaction.
    pub tx: &'a mut Transaction,
    /// Most nodes an unprivileged transaction may touch (`None`: no limit).
    pub limit: Option<usize>,
    /// Bytes this transaction may still take (`None`: no limit).
    pub mem_left: Option<usize>,
}

/// Bytes charged for remembering one touched path.
const ACCESS_COST: usize = 32;

impl TxView<'_> {
    fn charge(&mut self, bytes: usize) -> Result<(), Errno> {
        if let Some(left) = self.mem_left {
            self.mem_left = Some(left.checked_sub(bytes).ok_or(Errno::NoMem)?);
        }
        self.tx.bytes = self.tx.bytes.saturating_add(bytes);
        Ok(())
    }

    fn record(&mut self, path: &str) -> Result<(), Errno> {
        if !self.tx.accessed.contains_key(path) {
            if self.limit.is_some_and(|l| self.tx.accessed.len() >= l) {
                return Err(Errno::NoSpc);
            }
            self.charge(path.len() + ACCESS_COST)?;
            self.tx
                .accessed
                .insert(String::from(path), self.tree.generation_of(path));
        }
        Ok(())
    }

    fn current(&self, path: &str) -> Option<(DomId, usize)> {
        match self.tx.changes.get(path) {
            Some(n) => n.as_ref().map(|n| (n.perms.owner(), n.mem(path))),
            None => self.tree.get(path).map(|n| (n.perms.owner(), n.mem(path))),
        }
    }

    fn adjust(&mut self, domid: DomId, nodes: i64, bytes: usize, add: bool) {
        let d = self.tx.owned_delta.entry(domid).or_insert((0, 0));
        let b = i64::try_from(bytes).unwrap_or(i64::MAX);
        if add {
            d.0 += nodes;
            d.1 = d.1.saturating_add(b);
        } else {
            d.0 -= nodes;
            d.1 = d.1.saturating_sub(b);
        }
    }
}

impl Store for TxView<'_> {
    fn get(&mut self, path: &str) -> Result<Option<Node>, Errno> {
        if let Some(n) = self.tx.changes.get(path) {
            return Ok(n.clone());
        }
        self.record(path)?;
        Ok(self.tree.get(path).cloned())
    }

    fn put(&mut self, path: &str, node: Node) {
        // Every path an operation writes was read first, so this only fills a gap.
        let _ = self.record(path);
        if let Some((o, m)) = self.current(path) {
            self.adjust(o, 1, m, false);
        }
        self.adjust(node.perms.owner(), 1, node.mem(path), true);
        self.tx.changes.insert(String::from(path), Some(node));
    }

    fn remove(&mut self, path: &str) {
        let _ = self.record(path);
        if let Some((o, m)) = self.current(path) {
            self.adjust(o, 1, m, false);
        }
        self.tx.changes.insert(String::from(path), None);
    }

    fn usage(&self, domid: DomId) -> Usage {
        let base = self.tree.usage(domid);
        let (dn, db) = self.tx.owned_delta.get(&domid).copied().unwrap_or((0, 0));
        let nodes = (i64::from(base.nodes) + dn).max(0);
        let bytes = (i64::try_from(base.bytes).unwrap_or(i64::MAX))
            .saturating_add(db)
            .max(0);
        Usage {
            nodes: u32::try_from(nodes).unwrap_or(u32::MAX),
            bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
        }
    }

    fn reserve(&mut self, bytes: usize) -> Result<(), Errno> {
        self.charge(bytes)
    }
}
