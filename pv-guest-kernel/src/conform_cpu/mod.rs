//! The CPU conformance guests (conform=traps, user, fpu, desc, priv, softint): checks established on Xen 4.17.
pub mod area;
pub mod desc;
pub mod expect;
pub mod fpu;
pub mod privileged;
pub mod setup;
pub mod softint;
pub mod suite;
pub mod traps;
pub mod user;
