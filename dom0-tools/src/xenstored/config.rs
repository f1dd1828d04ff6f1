//! The daemon's limits: xenstored 4.17's default quotas for unprivileged domains, plus the
// bound on queued watch events.

/// Quotas; each applies to unprivileged domains only unless it says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Nodes a domain may own (`quota_nb_entry_per_domain`, ENOSPC beyond).
    pub max_nodes_per_domain: u32,
    /// Largest stored entry, see `Node::entry_size` (`quota_max_entry_size`, ENOSPC).
    pub max_entry_size: usize,
    /// Watches per connection (`quota_nb_watch_per_domain`, E2BIG beyond).
    pub max_watches: usize,
    /// Open transactions per connection (`quota_max_transaction`, ENOSPC beyond).
    pub max_transactions: usize,
    /// Entries after the owner in one permission list (`quota_nb_perms_per_node`, ENOSPC).
    pub max_perms: usize,
    /// Nodes one transaction may touch (`quota_trans_nodes`, ENOSPC beyond).
    pub max_transaction_nodes: usize,
    /// Replies queued but not yet taken by the glue before the daemon stops reading the
    /// connection's requests (`quota_req_outstanding`).
    pub max_outstanding_replies: usize,
    /// Bytes of nodes a domain may own, and separately bytes its open transactions may hold
    /// (`quota_memory_per_domain_hard`, ENOMEM beyond).
    pub max_memory_per_domain: usize,
    /// Bytes of watch events queued per connection (every connection, Dom0's included);
    /// further events are dropped, as xenstored drops events a client leaves unread too long.
    pub max_queued_event_bytes: usize,
}

impl Config {
    /// xenstored 4.17's defaults.
    pub const XENSTORED_4_17: Config = Config {
        max_nodes_per_domain: 1000,
        max_entry_size: 2048,
        max_watches: 128,
        max_transactions: 10,
        max_perms: 5,
        max_transaction_nodes: 1024,
        max_outstanding_replies: 20,
        max_memory_per_domain: 2 * 1024 * 1024 + 512 * 1024,
        max_queued_event_bytes: 64 * 1024,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::XENSTORED_4_17
    }
}
