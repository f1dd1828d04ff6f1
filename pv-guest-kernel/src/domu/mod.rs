//! Modes for a DomU built by our Dom0: a short hello, and a ticker that runs until told to stop.
pub mod hello;
pub mod pong;
pub mod pong_granter;
pub mod pong_link;
pub mod pong_mapper;
pub mod ticker;
