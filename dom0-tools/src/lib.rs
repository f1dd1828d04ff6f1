//! The Dom0 toolstack's hardware-free parts: the DomU builder's plan, console rings, domain state.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod ata;
pub mod blk_command;
pub mod blk_data;
pub mod blkback;
pub mod blkfront;
pub mod block_store;
pub mod bridge;
pub mod byte_ring;
pub mod console_history;
pub mod console_lines;
pub mod console_ring;
pub mod disk_names;
pub mod domain_config;
pub mod domain_info;
pub mod domain_paths;
pub mod domu_plan;
pub mod domu_shell;
pub mod grant_copier;
pub mod guest_balloon;
pub mod guest_pages;
pub mod guest_shutdown;
pub mod initramfs;
pub mod mbr;
#[cfg(test)]
mod mem_page;
#[cfg(test)]
mod net_fakes;
pub mod net_pages;
pub mod netback;
pub mod netfront;
pub mod pingpong_params;
pub mod pvclock;
pub mod shared_ring;
pub mod start_info;
pub mod vbd;
pub mod vcpu_context;
pub mod vif;
pub mod xenbus_handshake;
pub mod xenstored;
pub mod xl;
pub mod xl_cfg;
pub mod xs_client;
pub mod xs_connection;
pub mod xs_ring;

/// The initial page tables of a PV guest, shared with xen-core's own Dom0 builder.
pub use xen_core::builder::initial_tables;
