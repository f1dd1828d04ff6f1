//! The physical interrupt conformance guest (conform=pirq): a disk's IRQ 14 reaching Dom0 as an event, as Xen 4.17 delivers it.
pub mod disk;
pub mod mapping;
pub mod suite;
