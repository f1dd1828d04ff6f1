//! The DomU network stack's glue: smoltcp over a link that moves whole Ethernet frames, and a self-test over an in-memory wire.
pub mod device;
pub mod loopback;
pub mod wire;
