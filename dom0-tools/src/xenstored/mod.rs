//! xenstored: the xenstore daemon's hardware-free core (tree, permissions, watches,
// transactions, quotas, message handling); the Dom0 glue moves its bytes to and from rings.

pub mod config;
pub mod connection;
pub mod daemon;
mod dispatch;
pub mod local;
pub mod message;
pub mod node;
pub mod ops;
pub mod path;
pub mod perms;
mod requests;
pub mod special;
pub mod store;
pub mod transaction;
pub mod tree;
pub mod watch;

#[cfg(test)]
mod tests;

pub use config::Config;
pub use connection::{ConnId, RingInfo};
pub use daemon::{DomainRequest, FeedError, Xenstored};
pub use local::{Dom0Client, WatchEvent};
pub use perms::{Access, Perm, Perms};
