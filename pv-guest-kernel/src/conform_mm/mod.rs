//! Conformance guests for the PV memory interfaces (MMU, memory reservations, multicall).
pub mod foreign;
pub mod guest;
pub mod memory;
pub mod mmu;
pub mod multicall;
pub mod pattern;
pub mod tables;
