//! domu=shell: a DomU with a small shell on its console, following the toolstack's shutdown requests and balloon target when it has a xenstore.
pub mod balloon;
pub mod blk;
pub mod control;
pub mod net;
pub mod session;
