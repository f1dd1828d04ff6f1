//! The benchmark figures under `-icount`: the null hypercall within its budget, page-table writes in order, the two-domain figures present.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::images;
use tests::report::context;
use tests::scenario::Scenario;
use xtask::bench::{
    self, DOMAIN_SWITCH, EVTCHN_ROUND_TRIP, GRANT_COPY, MMU_UPDATE_BATCHES, NULL_HYPERCALL,
    PAGE_COPY, PTE_WRITE_NATIVE, PTE_WRITE_TRAPPED, SYSCALL_FLOOR, TWO_DOMAIN,
};
use xtask::boot::Hypervisor;

/// Instructions allowed for one null hypercall round trip (guest `syscall` to return).
const NULL_HYPERCALL_BUDGET: f64 = 80.0;

#[test]
fn benchmark_figures_hold() {
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
    // Page-table writes: batching amortises the hypercall entry, and even one-entry batches
    // beat trapping each store, which beats nothing a native kernel does (exact counts).
    let insns = |name: &str| {
        bench::find(&figures, name)
            .unwrap_or_else(|| panic!("no `BENCH {name}` line\n{why}"))
            .insns
    };
    let [one, sixteen, sixty_four] = MMU_UPDATE_BATCHES.map(insns);
    let (trapped, native) = (insns(PTE_WRITE_TRAPPED), insns(PTE_WRITE_NATIVE));
    let table = bench::table(&figures);
    assert!(
        native < sixty_four && sixty_four < sixteen && sixteen < one && one < trapped,
        "page-table write figures out of order (want native < batch64 < batch16 < batch1 < trapped)\n{table}"
    );
    // The two-domain figures (Dom0 and the partner DomU from its ramdisk): each printed and
    // positive. A grant copy moves the same 4 KiB as the in-guest copy and adds a hypercall; an
    // event round trip holds at least two domain switches.
    for name in TWO_DOMAIN {
        let value = insns(name);
        assert!(value > 0.0, "`BENCH {name}` is {value}\n{table}");
    }
    assert!(
        insns(GRANT_COPY) > insns(PAGE_COPY),
        "a grant copy took fewer instructions than the in-guest copy\n{table}"
    );
    assert!(
        insns(EVTCHN_ROUND_TRIP) > insns(DOMAIN_SWITCH),
        "an event round trip took fewer instructions than one domain switch\n{table}"
    );
}
