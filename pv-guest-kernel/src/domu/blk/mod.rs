//! The DomU's block frontend (blkfront): virtual disks found under `device/vbd`, connected to their backends over the xenbus handshake, and read and written through dom0-tools' blkif engine.
pub mod connection;
pub mod device;
pub mod devices;
pub mod garbage;
pub mod ring_io;
