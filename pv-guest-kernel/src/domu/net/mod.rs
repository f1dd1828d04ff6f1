//! The DomU network stack's glue: smoltcp over a link that moves whole Ethernet frames (netfront, or an in-memory wire), the vifs' runtime and the host the shell drives.
pub mod device;
pub mod front;
pub mod loopback;
pub mod pattern;
pub mod runtime;
pub mod stack;
pub mod wire;
