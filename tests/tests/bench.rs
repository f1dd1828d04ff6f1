//! The null hypercall's exact path length under `-icount` stays within its budget.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::images;
use tests::report::context;
use tests::scenario::Scenario;
use xtask::bench::{self, NULL_HYPERCALL, SYSCALL_FLOOR};
use xtask::boot::Hypervisor;

/// Instructions allowed for one null hypercall round trip (guest `syscall` to return).
const NULL_HYPERCALL_BUDGET: f64 = 80.0;

#[test]
fn null_hypercall_within_budget() {
    let images = images();
    let boot = bench::boot(
        Hypervisor::XenCore,
        images.xen_core.clone(),
        images.guest.clone(),
    );
    let run = Scenario::from_parts(boot, bench::run_options(Hypervisor::XenCore))
        .timeout(Duration::from_secs(300))
        .boot();
    let why = context(&run);
    let figures = bench::parse(&run.output);
    let hypercall = bench::find(&figures, NULL_HYPERCALL)
        .unwrap_or_else(|| panic!("no `BENCH {NULL_HYPERCALL}` line\n{why}"));
    assert!(
        hypercall.insns <= NULL_HYPERCALL_BUDGET,
        "null_hypercall takes {} instructions, over the budget of {NULL_HYPERCALL_BUDGET}\n{}\n{why}",
        hypercall.insns,
        bench::table(&figures)
    );
    for name in [SYSCALL_FLOOR, "empty_loop"] {
        assert!(
            bench::find(&figures, name).is_some(),
            "no `BENCH {name}` line\n{why}"
        );
    }
}
