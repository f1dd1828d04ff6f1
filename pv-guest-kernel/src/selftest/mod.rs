//! The Dom0 self-tests: one PASS or FAIL line per check, then the verdict.
pub mod console;
pub mod context;
pub mod cpuid;
pub mod cr3;
pub mod hypercall;
pub mod mapping;
pub mod mmuext;
pub mod report;
pub mod sched;
pub mod segment;
pub mod suite;
pub mod traps;
pub mod usermode;
pub mod version;
