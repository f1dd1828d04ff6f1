//! Runs every check group in order, prints the verdict and powers off.

use hypercall_abi::start_info::StartInfo;

use super::context::Context;
use super::report::{Detail, Report, Ret};
use super::{console, cpuid, cr3, hypercall, mapping, mmuext, sched, segment, traps};
use super::{usermode, version};
use crate::arch::x86_64::{traps as arch_traps, xen};

/// Runs the self-tests and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    let mut ctx = Context::new(start_info, p2m);
    let mut report = Report::default();
    // The trap table goes in first (it belongs to the trap checks), so that any instruction
    // that faults in a later check comes back as a failed check instead of a crash.
    let installed = arch_traps::install();
    ctx.traps = installed.ok();
    report.check(
        "set_trap_table",
        installed
            .map(|_| ())
            .map_err(|ret| Detail::new(format_args!("returned {}", Ret(ret)))),
    );
    version::run(&ctx, &mut report);
    hypercall::run(&ctx, &mut report);
    console::run(&ctx, &mut report);
    mapping::run(&ctx, &mut report);
    traps::run(&ctx, &mut report);
    cpuid::run(&ctx, &mut report);
    cr3::run(&ctx, &mut report);
    segment::run(&ctx, &mut report);
    mmuext::run(&mut ctx, &mut report);
    usermode::run(&ctx, &mut report);
    sched::run(&ctx, &mut report);
    report.finish();
    xen::power_off()
}
