//! Event channels, 2-level ABI: per-domain port tables and pending/mask delivery.
