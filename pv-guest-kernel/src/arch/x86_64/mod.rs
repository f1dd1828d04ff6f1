//! x86-64 PV guest specifics: entry, hypercalls, exception and syscall entry, CPU access.
pub mod boot;
pub mod cpu;
pub mod hypercall;
pub mod layout;
pub mod memory;
pub mod notes;
pub mod probes;
pub mod timing;
pub mod traps;
pub mod user;
pub mod xen;
