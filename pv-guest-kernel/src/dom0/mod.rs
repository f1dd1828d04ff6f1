//! Dom0's toolstack at work: building DomUs, serving their consoles, and the domain scenarios.
pub mod builder;
pub mod churn;
pub mod console_backend;
pub mod control;
pub mod crash;
pub mod events;
pub mod lifecycle;
pub mod pingpong;
pub mod scenario;
pub mod session;
