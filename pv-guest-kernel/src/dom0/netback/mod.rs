//! The network backend in Dom0: each vif's handshake, rings and netback engine, the software bridge between vifs, and the toolstack's network commands.
pub mod backend;
pub mod switch;
pub mod xl_net;
