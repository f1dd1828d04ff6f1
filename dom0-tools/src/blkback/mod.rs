//! The block backend's request engine (io/blkif.h): requests taken from a frontend's ring, checked, served with grant copies and a block store, answered.
pub mod copier;
pub mod engine;
pub mod request;
#[cfg(test)]
mod tests;
