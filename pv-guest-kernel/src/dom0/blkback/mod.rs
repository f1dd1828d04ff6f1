//! Dom0's block backend: virtual disks announced in xenstore, the xenbus handshake with each frontend, and their rings served from the toolstack's loop.
pub mod backend;
pub mod devices;
pub mod xl_block;
