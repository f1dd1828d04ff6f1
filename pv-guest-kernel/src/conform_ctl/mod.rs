//! The control-hypercall conformance guest (conform=control): domctl and sysctl as Xen 4.17 answers Dom0.
pub mod control;
