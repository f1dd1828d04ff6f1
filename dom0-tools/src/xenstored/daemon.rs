//! The daemon: the tree, the connections and the glue's interface (introduce/release a
// domain, feed request bytes, take reply bytes).

use super::config::Config;
use super::connection::{ConnId, Connection, RingInfo};
use super::ops::Caller;
use super::path;
use super::special::SpecialNodes;
use super::tree::Tree;
use super::watch::Change;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use hypercall_abi::domid::{DOMID_FIRST_RESERVED, DomId};
use hypercall_abi::errno::Errno;

/// Something the glue must do for a request it did not make itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainRequest {
    /// An `INTRODUCE` message made `conn`: map the ring page and bind the port.
    Introduced {
        /// The new connection.
        conn: ConnId,
        /// The domain.
        domid: DomId,
        /// Its ring.
        ring: RingInfo,
    },
    /// A `RELEASE` message dropped `domid`'s connection: unmap and unbind.
    Released {
        /// The domain.
        domid: DomId,
    },
}

/// Why `feed` stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedError {
    /// No such connection (released).
    UnknownConnection,
    /// The connection is broken (a payload longer than `XENSTORE_PAYLOAD_MAX`, now or
    /// earlier); the glue should set `XENSTORE_ERROR_PROTO` in the ring and stop serving it.
    Broken,
}

/// The xenstore daemon.
pub struct Xenstored {
    pub(super) config: Config,
    pub(super) tree: Tree,
    pub(super) special: SpecialNodes,
    pub(super) conns: BTreeMap<ConnId, Connection>,
    pub(super) by_domid: BTreeMap<DomId, ConnId>,
    pub(super) requests: VecDeque<DomainRequest>,
    next_conn: u32,
    local: ConnId,
}

impl Xenstored {
    /// A daemon with `config`'s quotas, holding `/` and Dom0's in-process connection.
    pub fn new(config: Config) -> Xenstored {
        let local = ConnId(0);
        let mut conns = BTreeMap::new();
        conns.insert(local, Connection::new(0, None));
        Xenstored {
            config,
            tree: Tree::new(),
            special: SpecialNodes::new(),
            conns,
            by_domid: BTreeMap::new(),
            requests: VecDeque::new(),
            next_conn: 1,
            local,
        }
    }

    /// Dom0's in-process connection (its watch events queue here).
    pub fn local_conn(&self) -> ConnId {
        self.local
    }

    /// The quotas in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Records `domid`'s ring connection and fires `@introduceDomain`. Introducing a domain
    /// again returns its connection unchanged. EINVAL for Dom0 or a reserved id.
    pub fn introduce(&mut self, domid: DomId, mfn: u64, port: u32) -> Result<ConnId, Errno> {
        if domid == 0 || domid >= DOMID_FIRST_RESERVED {
            return Err(Errno::Inval);
        }
        if let Some(&c) = self.by_domid.get(&domid) {
            return Ok(c);
        }
        let id = ConnId(self.next_conn);
        self.next_conn = self.next_conn.checked_add(1).ok_or(Errno::NoSpc)?;
        self.conns
            .insert(id, Connection::new(domid, Some(RingInfo { mfn, port })));
        self.by_domid.insert(domid, id);
        self.fire(&[Change::at("@introduceDomain", None)]);
        Ok(id)
    }

    /// Forgets `domid` (released, or dead: the glue calls this on its destruction): drops its
    /// connection, watches and transactions, removes the nodes it owns, drops it from every
    /// permission list and fires `@releaseDomain`. ENOENT if it was not introduced.
    pub fn release(&mut self, domid: DomId) -> Result<(), Errno> {
        if domid == 0 {
            return Err(Errno::Inval);
        }
        let conn = self.by_domid.remove(&domid).ok_or(Errno::NoEnt)?;
        self.conns.remove(&conn);
        let dom0 = Caller {
            domid: 0,
            target: None,
        };
        let mut changes = Vec::new();
        let cfg = self.config;
        for p in self.tree.owned_roots(domid) {
            // A root may be gone already with an earlier one's subtree.
            let _ = super::ops::rm(&mut self.tree, dom0, &cfg, &p, &mut changes);
        }
        self.tree.forget_domain(domid);
        self.special.forget_domain(domid);
        for c in self.conns.values_mut() {
            if c.target == Some(domid) {
                c.target = None;
            }
        }
        changes.push(Change::at("@releaseDomain", None));
        self.fire(&changes);
        Ok(())
    }

    /// Fires `@releaseDomain` alone (a domain shut down or crashed but is not destroyed yet).
    pub fn fire_release_domain(&mut self) {
        self.fire(&[Change::at("@releaseDomain", None)]);
    }

    /// The connection of an introduced `domid`.
    pub fn conn_of(&self, domid: DomId) -> Option<ConnId> {
        self.by_domid.get(&domid).copied()
    }

    /// The domain of `conn`.
    pub fn domid_of(&self, conn: ConnId) -> Option<DomId> {
        self.conns.get(&conn).map(|c| c.domid)
    }

    /// Whether `domid` was introduced and not released (Dom0 always is).
    pub fn is_introduced(&self, domid: DomId) -> bool {
        domid == 0 || self.by_domid.contains_key(&domid)
    }

    /// Every domain connection with its domain and ring.
    pub fn domains(&self) -> impl Iterator<Item = (ConnId, DomId, RingInfo)> + '_ {
        self.conns
            .iter()
            .filter_map(|(id, c)| c.ring.map(|r| (*id, c.domid, r)))
    }

    /// Whether `conn` was broken by a protocol violation.
    pub fn is_broken(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| c.broken)
    }

    /// Whether the daemon takes no more request bytes from `conn` until its replies are taken
    /// (too many outstanding) or because it is broken.
    pub fn input_blocked(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .is_none_or(|c| c.input_blocked(&self.config))
    }

    /// Watch events dropped for `conn` because it left too many unread.
    pub fn dropped_events(&self, conn: ConnId) -> u64 {
        self.conns.get(&conn).map_or(0, |c| c.dropped_events)
    }

    /// Hands the daemon request bytes read from `conn`'s ring; whole messages are processed
    /// as they complete. Returns how many bytes it took: fewer than offered when the
    /// connection has too many replies waiting (leave the rest in the ring and offer it again
    /// after `consume_output`).
    pub fn feed(&mut self, conn: ConnId, bytes: &[u8]) -> Result<usize, FeedError> {
        let mut used = 0;
        loop {
            let cfg = self.config;
            let c = self
                .conns
                .get_mut(&conn)
                .ok_or(FeedError::UnknownConnection)?;
            if c.broken {
                return Err(FeedError::Broken);
            }
            if used == bytes.len() || c.input_blocked(&cfg) {
                return Ok(used);
            }
            match c.take_input(&bytes[used..]) {
                Ok((n, req)) => {
                    used += n;
                    if let Some(r) = req {
                        self.handle(conn, r.header, &r.payload);
                    }
                }
                Err(_) => {
                    c.break_connection();
                    return Err(FeedError::Broken);
                }
            }
        }
    }

    /// The next bytes to write into `conn`'s response ring (part of one message).
    pub fn next_output(&self, conn: ConnId) -> Option<&[u8]> {
        self.conns.get(&conn).and_then(|c| c.next_output())
    }

    /// Marks `n` bytes returned by `next_output` as written.
    pub fn consume_output(&mut self, conn: ConnId, n: usize) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.consume_output(n);
        }
    }

    /// The next domain request from an `INTRODUCE`/`RELEASE` message.
    pub fn take_domain_request(&mut self) -> Option<DomainRequest> {
        self.requests.pop_front()
    }

    /// Queues watch events for `changes` to every connection allowed to see them.
    pub(super) fn fire(&mut self, changes: &[Change]) {
        let cfg = self.config;
        for c in self.conns.values_mut() {
            if c.broken || c.watches.is_empty() {
                continue;
            }
            let caller = c.caller();
            let mut events = Vec::new();
            for ch in changes {
                if !permitted(&self.tree, &self.special, caller, ch) {
                    continue;
                }
                for w in c.watches.iter().filter(|w| w.matches(ch)) {
                    if let Some(p) = w.event_payload(&ch.path) {
                        events.push(p);
                    }
                }
            }
            for e in events {
                c.queue_event(&cfg, &e);
            }
        }
    }

    /// Nodes owned by `domid` (what its node quota counts).
    pub fn nodes_owned_by(&self, domid: DomId) -> u32 {
        self.tree.usage(domid).nodes
    }

    /// Bytes of nodes owned by `domid` (what its memory quota counts).
    pub fn memory_owned_by(&self, domid: DomId) -> usize {
        self.tree.usage(domid).bytes
    }

    /// Nodes in the tree (for tests and reports).
    pub fn node_count(&self) -> usize {
        self.tree.len()
    }
}

/// Whether `caller` may hear of `ch`: Dom0 always; otherwise it must be able to read the node
/// (before or after the change) or its parent, or the special node.
fn permitted(tree: &Tree, special: &SpecialNodes, caller: Caller, ch: &Change) -> bool {
    if caller.privileged() {
        return true;
    }
    if path::is_special(&ch.path) {
        return special
            .perms(&ch.path)
            .is_some_and(|p| caller.rights(p).read);
    }
    if ch.old_perms.as_ref().is_some_and(|p| caller.rights(p).read) {
        return true;
    }
    let node = tree
        .get(&ch.path)
        .map(|n| &n.perms)
        .or(ch.old_perms.as_ref());
    let Some(perms) = node else {
        return false;
    };
    if caller.rights(perms).read {
        return true;
    }
    path::parent(&ch.path)
        .and_then(|p| tree.get(p))
        .is_some_and(|p| caller.rights(&p.perms).read)
}
