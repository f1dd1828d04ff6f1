//! Modes for a DomU built by our Dom0: a short hello, a ticker that runs until told to stop, and the benchmark partner.
pub mod bench_partner;
pub mod hello;
pub mod ticker;
