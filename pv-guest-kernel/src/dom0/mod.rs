//! Dom0's toolstack at work: building DomUs, serving their consoles, and the domain scenarios.
pub mod bench_pair;
pub mod builder;
pub mod cap;
pub mod churn;
pub mod console_backend;
pub mod control;
pub mod crash;
pub mod domu_shell;
pub mod echo;
pub mod events;
pub mod lifecycle;
pub mod pingpong;
pub mod scenario;
pub mod sched_share;
pub mod session;
pub mod weights;
pub mod xl;
