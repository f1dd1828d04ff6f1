//! The `xl` toolstack: Dom0's shell that creates, lists and manages DomUs from xl.cfg files.
pub mod bench_create;
pub mod commands;
pub mod create;
pub mod create_cmd;
pub mod files;
pub mod host_cmds;
pub mod managed;
pub mod output;
pub mod run;
pub mod shell;
pub mod store;
pub mod toolstack;
