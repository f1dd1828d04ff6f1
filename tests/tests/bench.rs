//! The benchmark figures under `-icount`: the null hypercall within its budget, page-table writes in order, the two-domain figures present, the split-driver figures sane.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::images;
use tests::report::context;
use tests::scenario::Scenario;
use xtask::bench::{
    self, DOMAIN_SWITCH, EVTCHN_ROUND_TRIP, GRANT_COPY, MMU_UPDATE_BATCHES, NULL_HYPERCALL,
    PAGE_COPY, PTE_WRITE_NATIVE, PTE_WRITE_TRAPPED, SYSCALL_FLOOR, TWO_DOMAIN,
};
use xtask::bench_io;
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

#[test]
fn split_driver_figures_hold_on_xen_core() {
    split_driver_figures_hold(Hypervisor::XenCore);
}

#[test]
fn split_driver_figures_hold_on_xen_417() {
    split_driver_figures_hold(Hypervisor::Xen417);
}

/// The split-driver benchmark of `cargo xtask bench` at reduced sizes: every figure printed,
/// the bytes moved are the bytes asked, both depths send the same requests, QD32 needs fewer
/// frontend notifications per request than QD1, and each transfer costs more than an in-guest
/// memcpy of its bytes.
fn split_driver_figures_hold(hypervisor: Hypervisor) {
    let image = match hypervisor {
        Hypervisor::XenCore => images().xen_core.clone(),
        Hypervisor::Xen417 => match tests::images::xen_417_or_skip() {
            Some(image) => image,
            None => return,
        },
    };
    let sizes = bench_io::REDUCED;
    let disk = xtask::paths::target_dir()
        .expect("the target directory")
        .join("test-disks")
        .join(format!(
            "bench-{}-{}.img",
            hypervisor.name(),
            std::process::id()
        ));
    let run = bench_io::run(hypervisor, image, images(), sizes, &disk, false)
        .expect("the split-driver benchmark runs");
    let _ = std::fs::remove_file(&disk);
    let why = context(&run);
    assert!(
        run.input_done,
        "{hypervisor:?}: the script was not typed to its end\n{why}"
    );
    let figures = bench_io::parse(&run.output);
    let table = bench_io::table(&figures);
    let get = |name: &str| {
        bench_io::find(&figures, name)
            .unwrap_or_else(|| panic!("no `BENCH {name}` line\n{table}\n{why}"))
    };
    let blk_bytes = sizes.blk_mib << 20;
    for name in bench_io::BLK_RAM.iter().chain(&bench_io::BLK_IDE) {
        let f = get(name);
        let copy = get(&format!("{name}{}", bench_io::MEMCPY_SUFFIX));
        assert_eq!(f.bytes, blk_bytes, "{name}: bytes moved\n{table}");
        assert_eq!(copy.bytes, blk_bytes, "{name}: bytes copied\n{table}");
        let sent = f.sent.expect("sent=");
        assert!(
            f.n > 0 && sent >= 1 && sent <= f.n,
            "{name}: {sent} notifications for {} requests\n{table}",
            f.n
        );
        assert!(
            f.tsc > copy.tsc,
            "{name} took fewer instructions than memcpy\n{table}"
        );
    }
    for vdev in [bench_io::RAM_VDEV, bench_io::IDE_VDEV] {
        for op in ["read", "write"] {
            let qd1 = get(&format!("blk_{vdev}_{op}_qd1"));
            let qd32 = get(&format!("blk_{vdev}_{op}_qd32"));
            assert_eq!(
                qd1.n, qd32.n,
                "{vdev} {op}: requests at QD1 and QD32\n{table}"
            );
            assert!(
                qd32.sent_per_request() < qd1.sent_per_request(),
                "{vdev} {op}: QD32 sends no fewer notifications per request than QD1\n{table}"
            );
        }
    }
    let tcp = get(bench_io::TCP_SEND);
    let copy = get(&format!(
        "{}{}",
        bench_io::TCP_SEND,
        bench_io::MEMCPY_SUFFIX
    ));
    assert_eq!(tcp.bytes, sizes.tcp_bytes, "TCP bytes sent\n{table}");
    assert_eq!(copy.bytes, sizes.tcp_bytes, "TCP bytes copied\n{table}");
    assert!(
        tcp.tsc > copy.tsc,
        "TCP took fewer instructions than memcpy\n{table}"
    );
    eprintln!("{hypervisor:?}:\n{table}");
}
