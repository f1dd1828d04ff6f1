//! The event channel conformance guest (conform=events): 2-level ports and upcalls as Xen 4.17 answers one domain.
pub mod calls;
pub mod delivery;
pub mod ports;
pub mod suite;
