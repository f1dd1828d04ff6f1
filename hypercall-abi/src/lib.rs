//! The Xen x86_64 PV ABI as Rust types: shared by xen-core and its guests.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blkif;
pub mod callback;
pub mod console;
pub mod cpuid;
pub mod domctl;
pub mod domid;
pub mod elfnote;
pub mod errno;
pub mod event_channel;
pub mod features;
pub mod grant_table;
pub mod hypercall;
pub mod hypercall_page;
pub mod io_console;
pub mod layout;
pub mod memory;
pub mod mmu;
pub mod multicall;
pub mod netif;
pub mod physdev;
pub mod ring;
pub mod sched;
pub mod segment;
pub mod shared_info;
pub mod start_info;
pub mod sysctl;
pub mod traps;
pub mod vcpu;
pub mod version;
pub mod vm_assist;
pub mod xenbus;
pub mod xenstore;

pub use errno::Errno;
