//! Dom0's in-process client: typed calls acting as domain 0, directly or in a transaction.

use super::connection::ConnId;
use super::daemon::Xenstored;
use super::perms::Perms;
use alloc::string::String;
use alloc::vec::Vec;
use hypercall_abi::errno::Errno;

/// A watch event delivered to Dom0's in-process client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The path that changed (relative if the watch was), or the special name.
    pub path: String,
    /// The token given to `watch`.
    pub token: String,
}

/// Dom0's calls, on the tree (`tx` 0) or in one of its transactions.
pub struct Dom0Client<'a> {
    xs: &'a mut Xenstored,
    conn: ConnId,
    tx: u32,
}

impl Xenstored {
    /// Dom0's client outside any transaction.
    pub fn dom0(&mut self) -> Dom0Client<'_> {
        self.dom0_in(0)
    }

    /// Dom0's client inside transaction `tx` (from `transaction_start`).
    pub fn dom0_in(&mut self, tx: u32) -> Dom0Client<'_> {
        let conn = self.local_conn();
        Dom0Client { xs: self, conn, tx }
    }
}

impl Dom0Client<'_> {
    fn path(&self, p: &str) -> Result<String, Errno> {
        self.xs.node_path(self.conn, p.as_bytes())
    }

    /// The value at `path` (relative paths are below `/local/domain/0`).
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, Errno> {
        let p = self.path(path)?;
        self.xs.req_read(self.conn, self.tx, &p)
    }

    /// The value at `path` as text (EINVAL if not UTF-8).
    pub fn read_string(&mut self, path: &str) -> Result<String, Errno> {
        String::from_utf8(self.read(path)?).map_err(|_| Errno::Inval)
    }

    /// Stores `value` at `path`, creating missing parents.
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<(), Errno> {
        let p = self.path(path)?;
        self.xs.req_write(self.conn, self.tx, &p, value)
    }

    /// Makes sure `path` exists.
    pub fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        let p = self.path(path)?;
        self.xs.req_mkdir(self.conn, self.tx, &p)
    }

    /// Removes `path` and everything below it.
    pub fn rm(&mut self, path: &str) -> Result<(), Errno> {
        let p = self.path(path)?;
        self.xs.req_rm(self.conn, self.tx, &p)
    }

    /// The names of `path`'s children.
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>, Errno> {
        let p = self.path(path)?;
        self.xs.req_directory(self.conn, self.tx, &p)
    }

    /// The permissions of `path` (or a special name).
    pub fn get_perms(&mut self, path: &str) -> Result<Perms, Errno> {
        self.xs.req_get_perms(self.conn, self.tx, path.as_bytes())
    }

    /// Sets the permissions of `path` (or a special name).
    pub fn set_perms(&mut self, path: &str, perms: Perms) -> Result<(), Errno> {
        self.xs
            .req_set_perms(self.conn, self.tx, path.as_bytes(), perms)
    }

    /// Watches `path` (or `@introduceDomain`/`@releaseDomain`); the first event is queued at
    /// once.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<(), Errno> {
        let first = self
            .xs
            .req_watch(self.conn, path.as_bytes(), token.as_bytes())?;
        let cfg = *self.xs.config();
        if let (Some(e), Some(c)) = (first, self.xs.conns.get_mut(&self.conn)) {
            c.queue_event(&cfg, &e);
        }
        Ok(())
    }

    /// Removes a watch.
    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<(), Errno> {
        self.xs
            .req_unwatch(self.conn, path.as_bytes(), token.as_bytes())
    }

    /// The oldest queued watch event.
    pub fn next_event(&mut self) -> Option<WatchEvent> {
        let m = self.xs.conns.get_mut(&self.conn)?.pop_message()?;
        let body = m.get(16..)?;
        let mut parts = body.split(|&b| b == 0);
        let path = String::from_utf8_lossy(parts.next()?).into_owned();
        let token = String::from_utf8_lossy(parts.next()?).into_owned();
        Some(WatchEvent { path, token })
    }

    /// Starts a transaction; use its id with `Xenstored::dom0_in`.
    pub fn transaction_start(&mut self) -> Result<u32, Errno> {
        self.xs.req_transaction_start(self.conn)
    }

    /// Ends transaction `tx`: commits (EAGAIN if a node it touched changed meanwhile) or
    /// aborts.
    pub fn transaction_end(&mut self, tx: u32, commit: bool) -> Result<(), Errno> {
        self.xs.req_transaction_end(self.conn, tx, commit)
    }

    /// Introduces a domain whose ring the glue mapped (see `Xenstored::introduce`).
    pub fn introduce(&mut self, domid: u16, mfn: u64, port: u32) -> Result<ConnId, Errno> {
        self.xs.introduce(domid, mfn, port)
    }

    /// Releases a domain (see `Xenstored::release`).
    pub fn release(&mut self, domid: u16) -> Result<(), Errno> {
        self.xs.release(domid)
    }

    /// `/local/domain/<domid>`.
    pub fn get_domain_path(&self, domid: u16) -> String {
        super::path::domain_path(domid)
    }
}
