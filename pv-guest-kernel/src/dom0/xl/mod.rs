//! The `xl` toolstack: Dom0's shell that creates, lists and manages DomUs from xl.cfg files.
pub mod create;
pub mod managed;
pub mod toolstack;
