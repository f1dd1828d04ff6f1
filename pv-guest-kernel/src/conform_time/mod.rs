//! The time conformance guest (conform=time): vcpu_time_info, wall clock, timers, block and poll as Xen 4.17 gives them.
pub mod checks;
