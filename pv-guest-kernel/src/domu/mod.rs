//! Modes for a DomU built by our Dom0: a short hello, and a ticker that runs until told to stop.
pub mod hello;
pub mod ticker;
