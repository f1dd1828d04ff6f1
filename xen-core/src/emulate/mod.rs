//! What xen-core emulates for a PV guest that traps: privileged instructions (#GP) and writes
//! to its own read-only L1 page tables (#PF).

pub mod fetch;
pub mod msr_env;
pub mod port;
pub mod priv_op;
pub mod pte_write;
