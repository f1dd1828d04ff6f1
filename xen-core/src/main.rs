//! xen-core's bare-metal binary: boot, the hypercall and trap paths, Dom0. Empty on the host.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod console_input;
#[cfg(target_os = "none")]
mod descriptors;
#[cfg(target_os = "none")]
mod dom0;
#[cfg(target_os = "none")]
mod domain;
#[cfg(target_os = "none")]
mod emulate;
#[cfg(target_os = "none")]
mod event_glue;
#[cfg(target_os = "none")]
mod grant_glue;
#[cfg(target_os = "none")]
mod guest_cpuid;
#[cfg(target_os = "none")]
mod guest_trap;
#[cfg(target_os = "none")]
mod hypercall;
#[cfg(target_os = "none")]
mod hypervisor;
#[cfg(target_os = "none")]
mod memory;
#[cfg(target_os = "none")]
mod mm_glue;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod pirq_glue;
#[cfg(target_os = "none")]
mod schedule;
#[cfg(target_os = "none")]
mod start;
#[cfg(target_os = "none")]
mod time_glue;
#[cfg(target_os = "none")]
mod trap_entry;

#[cfg(not(target_os = "none"))]
fn main() {}
