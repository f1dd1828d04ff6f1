//! Event channels, 2-level ABI: per-domain port tables and pending/mask delivery.

pub mod ops;
pub mod port_table;
pub mod raise;
pub mod request;
pub mod two_level;
pub mod virq;
