//! xen-core's hardware-free logic, unit-tested on the host; the bare-metal binary (main.rs) drives it.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod builder;
pub mod cmdline;
pub mod console_ring;
pub mod desc_tables;
pub mod domain_table;
pub mod event;
pub mod grant;
pub mod guest_regs;
pub mod layout;
pub mod mm;
pub mod multiboot;
pub mod pirq;
pub mod sched;
pub mod serial_rx;
pub mod time;
pub mod trap;
pub mod vcpu;
