//! The xtask library: image building, QEMU boots and output parsing, shared by the CLI and the tests.

#![forbid(unsafe_code)]

pub mod bench;
pub mod bench_io;
pub mod boot;
pub mod cli;
pub mod commands;
pub mod container;
pub mod disk_image;
pub mod exit_code;
pub mod images;
pub mod initramfs;
pub mod paths;
pub mod process;
pub mod qemu;
pub mod script;
pub mod test_summary;
pub mod toolchain;
pub mod xen417;
