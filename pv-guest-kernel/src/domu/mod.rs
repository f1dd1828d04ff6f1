//! Modes for a DomU built by our Dom0: a short hello, a ticker and a CPU-bound spinner that run until told to stop.
pub mod hello;
pub mod spin;
pub mod ticker;
