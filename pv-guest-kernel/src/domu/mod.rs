//! Modes for a DomU built by our Dom0: a short hello, a ticker and a CPU-bound spinner that run until told to stop, and the benchmark partner, a shell with a xenbus client.
pub mod bench_partner;
pub mod blk;
pub mod hello;
pub mod net;
pub mod pong;
pub mod pong_granter;
pub mod pong_link;
pub mod pong_mapper;
pub mod shell;
pub mod spin;
pub mod ticker;
pub mod xenbus;
