//! Grant tables v1: grant entries, active grants, maptrack, map/unmap and copy.

pub mod active;
pub mod domain;
pub mod entry;
pub mod maptrack;
pub mod ops;
pub mod request;
pub mod table;

#[cfg(test)]
mod mock;
