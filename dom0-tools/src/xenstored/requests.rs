//! The typed requests both a connection's messages and Dom0's in-process client use: each
// runs on the tree or on one of the caller's transactions.

use super::config::Config;
use super::connection::ConnId;
use super::daemon::Xenstored;
use super::node::Node;
use super::ops::{self, Caller};
use super::path;
use super::perms::Perms;
use super::store::Store;
use super::transaction::{Transaction, TxView};
use super::watch::{Change, Watch};
use alloc::string::String;
use alloc::vec::Vec;
use hypercall_abi::errno::Errno;

impl Xenstored {
    /// The caller identity of `conn`.
    pub(super) fn caller(&self, conn: ConnId) -> Result<Caller, Errno> {
        self.conns
            .get(&conn)
            .map(|c| c.caller())
            .ok_or(Errno::Inval)
    }

    /// A request path of `conn` in absolute, valid form (no special names).
    pub(super) fn node_path(&self, conn: ConnId, raw: &[u8]) -> Result<String, Errno> {
        let caller = self.caller(conn)?;
        let p = path::canonicalize(caller.domid, raw)?;
        path::validate(&p, caller.privileged())?;
        Ok(p)
    }

    /// Runs `f` on the tree (firing its changes' watches) or, for a non-zero `tx`, on that
    /// transaction of `conn` (keeping the changes for its commit).
    pub(super) fn run<R>(
        &mut self,
        conn: ConnId,
        tx: u32,
        f: impl FnOnce(&mut dyn Store, Caller, &Config, &mut Vec<Change>) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        let cfg = self.config;
        let c = self.conns.get_mut(&conn).ok_or(Errno::Inval)?;
        let caller = c.caller();
        let mut changes = Vec::new();
        if tx == 0 {
            let r = f(&mut self.tree, caller, &cfg, &mut changes)?;
            self.fire(&changes);
            Ok(r)
        } else {
            let held: usize = c.transactions.values().map(|t| t.bytes()).sum();
            let t = c.transactions.get_mut(&tx).ok_or(Errno::NoEnt)?;
            let limit = (!caller.privileged()).then_some(cfg.max_transaction_nodes);
            let mem_left =
                (!caller.privileged()).then(|| cfg.max_memory_per_domain.saturating_sub(held));
            let r = {
                let mut view = TxView {
                    tree: &self.tree,
                    tx: t,
                    limit,
                    mem_left,
                };
                f(&mut view, caller, &cfg, &mut changes)?
            };
            for ch in changes {
                t.queue_event(ch);
            }
            Ok(r)
        }
    }

    pub(super) fn req_read(&mut self, conn: ConnId, tx: u32, p: &str) -> Result<Vec<u8>, Errno> {
        self.run(conn, tx, |s, c, _, _| ops::read(s, c, p))
    }

    pub(super) fn req_write(
        &mut self,
        conn: ConnId,
        tx: u32,
        p: &str,
        value: &[u8],
    ) -> Result<(), Errno> {
        self.run(conn, tx, |s, c, cfg, ch| {
            ops::write(s, c, cfg, p, value, ch)
        })
    }

    pub(super) fn req_mkdir(&mut self, conn: ConnId, tx: u32, p: &str) -> Result<(), Errno> {
        self.run(conn, tx, |s, c, cfg, ch| ops::mkdir(s, c, cfg, p, ch))
    }

    pub(super) fn req_rm(&mut self, conn: ConnId, tx: u32, p: &str) -> Result<(), Errno> {
        self.run(conn, tx, |s, c, cfg, ch| ops::rm(s, c, cfg, p, ch))
    }

    pub(super) fn req_directory(
        &mut self,
        conn: ConnId,
        tx: u32,
        p: &str,
    ) -> Result<Vec<String>, Errno> {
        self.run(conn, tx, |s, c, _, _| ops::directory(s, c, p))
    }

    pub(super) fn req_node(&mut self, conn: ConnId, tx: u32, p: &str) -> Result<Node, Errno> {
        self.run(conn, tx, |s, c, _, _| ops::node_for_read(s, c, p))
    }

    /// GET_PERMS of a node or a special name.
    pub(super) fn req_get_perms(
        &mut self,
        conn: ConnId,
        tx: u32,
        raw: &[u8],
    ) -> Result<Perms, Errno> {
        let caller = self.caller(conn)?;
        if raw.starts_with(b"@") {
            let name = path::canonicalize(caller.domid, raw)?;
            path::validate_special(&name)?;
            let p = self.special.perms(&name).ok_or(Errno::NoEnt)?;
            return if caller.rights(p).read {
                Ok(p.clone())
            } else {
                Err(Errno::Acces)
            };
        }
        let p = self.node_path(conn, raw)?;
        self.run(conn, tx, |s, c, _, _| ops::get_perms(s, c, &p))
    }

    /// SET_PERMS of a node or (Dom0 only) a special name.
    pub(super) fn req_set_perms(
        &mut self,
        conn: ConnId,
        tx: u32,
        raw: &[u8],
        perms: Perms,
    ) -> Result<(), Errno> {
        let caller = self.caller(conn)?;
        if raw.starts_with(b"@") {
            let name = path::canonicalize(caller.domid, raw)?;
            path::validate_special(&name)?;
            let slot = self.special.perms_mut(&name).ok_or(Errno::NoEnt)?;
            if !caller.rights(slot).write {
                return Err(Errno::Acces);
            }
            *slot = perms;
            return Ok(());
        }
        let p = self.node_path(conn, raw)?;
        self.run(conn, tx, |s, c, cfg, ch| {
            ops::set_perms(s, c, cfg, &p, perms, ch)
        })
    }

    /// WATCH: registers and returns the initial event's payload (if not oversized).
    pub(super) fn req_watch(
        &mut self,
        conn: ConnId,
        raw: &[u8],
        token: &[u8],
    ) -> Result<Option<Vec<u8>>, Errno> {
        let cfg = self.config;
        let caller = self.caller(conn)?;
        let (node, strip) = if raw.starts_with(b"@") {
            let n = path::canonicalize(caller.domid, raw)?;
            path::validate_special(&n)?;
            (n, 0)
        } else {
            let relative = !raw.starts_with(b"/");
            let n = self.node_path(conn, raw)?;
            let strip = if relative {
                path::domain_path(caller.domid).len()
            } else {
                0
            };
            (n, strip)
        };
        let c = self.conns.get_mut(&conn).ok_or(Errno::Inval)?;
        if c.watches.iter().any(|w| w.node == node && w.token == token) {
            return Err(Errno::Exist);
        }
        if !caller.privileged() && c.watches.len() >= cfg.max_watches {
            return Err(Errno::TooBig);
        }
        let w = Watch {
            node,
            token: token.to_vec(),
            strip,
        };
        let first = w.event_payload(&w.node);
        c.watches.push(w);
        Ok(first)
    }

    /// UNWATCH: ENOENT unless exactly that (path, token) is registered.
    pub(super) fn req_unwatch(
        &mut self,
        conn: ConnId,
        raw: &[u8],
        token: &[u8],
    ) -> Result<(), Errno> {
        let caller = self.caller(conn)?;
        let node = path::canonicalize(caller.domid, raw)?;
        let c = self.conns.get_mut(&conn).ok_or(Errno::Inval)?;
        let i = c
            .watches
            .iter()
            .position(|w| w.node == node && w.token == token)
            .ok_or(Errno::NoEnt)?;
        c.watches.remove(i);
        Ok(())
    }

    /// TRANSACTION_START: a new transaction id of `conn`.
    pub(super) fn req_transaction_start(&mut self, conn: ConnId) -> Result<u32, Errno> {
        let cfg = self.config;
        let c = self.conns.get_mut(&conn).ok_or(Errno::Inval)?;
        if c.domid != 0 && c.transactions.len() >= cfg.max_transactions {
            return Err(Errno::NoSpc);
        }
        let id = c.new_transaction_id();
        c.transactions.insert(id, Transaction::new());
        Ok(id)
    }

    /// TRANSACTION_END: commits (EAGAIN on a conflict; the transaction is gone either way)
    /// or aborts.
    pub(super) fn req_transaction_end(
        &mut self,
        conn: ConnId,
        tx: u32,
        commit: bool,
    ) -> Result<(), Errno> {
        let c = self.conns.get_mut(&conn).ok_or(Errno::Inval)?;
        let t = c.transactions.remove(&tx).ok_or(Errno::NoEnt)?;
        if commit {
            let events = t.commit(&mut self.tree)?;
            self.fire(&events);
        }
        Ok(())
    }

    /// RESET_WATCHES: drops every watch and transaction of `conn`.
    pub(super) fn req_reset_watches(&mut self, conn: ConnId) -> Result<(), Errno> {
        let c = self.conns.get_mut(&conn).ok_or(Errno::Inval)?;
        c.watches.clear();
        c.transactions.clear();
        Ok(())
    }
}
