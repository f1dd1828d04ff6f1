//! Check group 7: the emulated CR3 read names the initial L4 frame.

use super::context::Context;
use super::report::{Outcome, Report, expect_eq, fail};
use crate::arch::x86_64::cpu;

/// Runs the CR3 check.
pub fn run(ctx: &Context, report: &mut Report) {
    report.check("cr3.read", read(ctx));
}

fn read(ctx: &Context) -> Outcome {
    let Some(l4) = ctx.l4_mfn() else {
        fail!("pt_base {:#x} has no P2M entry", ctx.start_info.pt_base);
    };
    let Some(cr3) = cpu::read_cr3() else {
        fail!("mov %cr3 faulted");
    };
    expect_eq("cr3", cr3, l4 << 12)
}
