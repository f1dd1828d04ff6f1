//! Support for the CPU conformance guests: trap capture, instruction probes, FPU, segments, user mode.
pub mod capture;
pub mod fpu;
pub mod hypercalls;
pub mod insn;
pub mod pages;
pub mod segments;
pub mod shared;
pub mod time;
pub mod upcall;
pub mod user_run;
