//! Isolation checks: a hostile guest's attempts that the hypervisor must refuse, one per guest.
pub mod check;
pub mod common;
pub mod dpl0_descriptor;
pub mod foreign_frame;
pub mod free_mapped;
pub mod hypervisor_frame;
pub mod pin_overflow;
pub mod self_map;
pub mod writable_pagetable;
