//! pv-guest-kernel: a Xen x86_64 PV kernel running self-tests, fault modes or benchmarks.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod bench;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod boot;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod conform_cpu;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod conform_ctl;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod conform_evt;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod conform_gnt;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod conform_mm;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod conform_pirq;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod conform_time;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod console;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod dom0;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod domu;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod faults;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod isolate;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod mode;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod panic;
#[cfg(target_os = "none")]
#[forbid(unsafe_code)]
mod selftest;

/// The kernel only runs bare metal; this lets host builds of the workspace succeed.
#[cfg(not(target_os = "none"))]
fn main() {}
