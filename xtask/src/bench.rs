//! Benchmarks: the benchmark boot, parsing `BENCH <name> insns=<N> n=<M>` console lines, the table.

use std::path::PathBuf;
use std::time::Duration;

use crate::boot::{Boot, Hypervisor, XEN_417_NO_MITIGATIONS};
use crate::qemu::RunOptions;

/// Dom0's arguments for the benchmark run.
pub const GUEST_ARGS: &str = "bench";
/// xen-core's extra command-line option: it then prints its own floor figure.
pub const XEN_CORE_ARGS: &str = "bench";

/// The benchmark boot: guest args `bench` under `-icount shift=0,sleep=off`, the same kernel as
/// Dom0's ramdisk (the partner DomU of the two-domain figures); xen-core gets `bench` on its
/// command line, Xen 4.17 gets its mitigations turned off.
pub fn boot(hypervisor: Hypervisor, image: PathBuf, guest: PathBuf) -> Boot {
    let mut boot = Boot::new(hypervisor, image, guest.clone());
    boot.ramdisk = Some(guest);
    boot.dom0_args = GUEST_ARGS.to_string();
    boot.icount = true;
    boot.extra_cmdline = match hypervisor {
        Hypervisor::XenCore => XEN_CORE_ARGS,
        Hypervisor::Xen417 => XEN_417_NO_MITIGATIONS,
    }
    .to_string();
    boot
}

/// Dom0's arguments for the toolstack benchmark run (`xl create` timings).
pub const CREATE_ARGS: &str = "bench=create";

/// The toolstack benchmark boot: as [`boot`], with Dom0 timing `xl create`.
pub fn create_boot(hypervisor: Hypervisor, image: PathBuf, guest: PathBuf) -> Boot {
    let mut boot = boot(hypervisor, image, guest);
    boot.dom0_args = CREATE_ARGS.to_string();
    boot
}

/// The guest's verdict line, if it prints one after its figures.
pub const TEST_RESULT: &str = "Test result:";
/// The start of the line both hypervisors print when Dom0 goes down (`Hardware Dom0 halted: ...`,
/// `... crashed: ...`, `... shutdown: ...`).
pub const DOM0_DOWN: &str = "Hardware Dom0 ";

/// When a benchmark run ends: QEMU exits, or the guest's verdict or Dom0's end is on the console
/// (then xen-core gets a little time to power off; Xen 4.17 runs with `noreboot` and halts without
/// exiting), or 10 minutes pass.
pub fn run_options(hypervisor: Hypervisor) -> RunOptions {
    let linger = match hypervisor {
        Hypervisor::XenCore => Duration::from_secs(30),
        Hypervisor::Xen417 => Duration::from_secs(2),
    };
    RunOptions::until_exit(Duration::from_secs(600))
        .stop_when(|out| out.contains(TEST_RESULT) || out.contains(DOM0_DOWN))
        .linger(linger)
}

/// One figure reported on the console.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// What was measured, e.g. `null_hypercall`.
    pub name: String,
    /// Instructions (icount ticks) per operation.
    pub insns: f64,
    /// How many operations were timed.
    pub n: u64,
}

/// The figure a hypercall is compared against: a bare `syscall`/`sysretq` round trip.
pub const SYSCALL_FLOOR: &str = "syscall_sysret";
/// The hypercall figure.
pub const NULL_HYPERCALL: &str = "null_hypercall";
/// A `syscall` from guest user mode bounced to the guest kernel and back with the iret hypercall.
pub const SYSCALL_BOUNCE: &str = "syscall_bounce";
/// Figures shown as a ratio to the bare syscall floor, in this order.
pub const OVER_FLOOR: [&str; 2] = [NULL_HYPERCALL, SYSCALL_BOUNCE];
/// Per-entry cost of page-table writes made with mmu_update in batches of 1, 16 and 64.
pub const MMU_UPDATE_BATCHES: [&str; 3] = [
    "mmu_update_batch1",
    "mmu_update_batch16",
    "mmu_update_batch64",
];
/// The same writes as plain stores to a read-only page table, each trapped and emulated.
pub const PTE_WRITE_TRAPPED: &str = "pte_write_trapped";
/// The same stores to ordinary memory: what a kernel owning its page tables pays.
pub const PTE_WRITE_NATIVE: &str = "pte_write_native";
/// Page-table write figures shown as a ratio, (numerator, denominator): what trapping costs
/// over batching, and what batching costs over native stores.
pub const PTE_RATIOS: [(&str, &str); 2] = [
    (PTE_WRITE_TRAPPED, MMU_UPDATE_BATCHES[2]),
    (MMU_UPDATE_BATCHES[2], PTE_WRITE_NATIVE),
];

/// The in-guest 4 KiB copy (`rep movsq`): the floor of the grant copy.
pub const PAGE_COPY: &str = "page_copy";
/// GNTTABOP_copy of one 4 KiB page granted by the partner DomU into a frame of Dom0's.
pub const GRANT_COPY: &str = "grant_copy";
/// GNTTABOP_map_grant_ref (host mapping) of the partner's grant plus unmap_grant_ref.
pub const GRANT_MAP_UNMAP: &str = "grant_map_unmap";
/// Event-channel send to the partner, its upcall sending back, Dom0's upcall taking it.
pub const EVTCHN_ROUND_TRIP: &str = "evtchn_round_trip";
/// One SCHEDOP_yield from one domain to the other (Dom0 and the partner yield to each other).
pub const DOMAIN_SWITCH: &str = "domain_switch";
/// The two-domain figures, in the order the guest prints them.
pub const TWO_DOMAIN: [&str; 5] = [
    PAGE_COPY,
    GRANT_COPY,
    GRANT_MAP_UNMAP,
    EVTCHN_ROUND_TRIP,
    DOMAIN_SWITCH,
];
/// Two-domain figures shown as a ratio, (numerator, denominator): a grant copy over the
/// in-guest copy, an event round trip and a domain switch over the null hypercall.
pub const TWO_DOMAIN_RATIOS: [(&str, &str); 3] = [
    (GRANT_COPY, PAGE_COPY),
    (EVTCHN_ROUND_TRIP, NULL_HYPERCALL),
    (DOMAIN_SWITCH, NULL_HYPERCALL),
];

/// Parses one console line; `(XEN) `, `(d0) ` and similar tags in front are skipped.
pub fn parse_line(line: &str) -> Option<Figure> {
    let mut rest = line.trim();
    // Console prefixes such as "(XEN) " or "(d0) ", possibly more than one.
    while let Some(tagged) = rest.strip_prefix('(') {
        let close = tagged.find(')')?;
        rest = tagged[close + 1..].trim_start();
    }
    let mut words = rest.strip_prefix("BENCH ")?.split_whitespace();
    let name = words.next().filter(|n| !n.contains('='))?;
    let insns: f64 = words.next()?.strip_prefix("insns=")?.parse().ok()?;
    let n: u64 = words.next()?.strip_prefix("n=")?.parse().ok()?;
    if !insns.is_finite() || insns < 0.0 {
        return None;
    }
    Some(Figure {
        name: name.to_string(),
        insns,
        n,
    })
}

/// Every figure in a console log, in order.
pub fn parse(output: &str) -> Vec<Figure> {
    output.lines().filter_map(parse_line).collect()
}

/// The last figure called `name`.
pub fn find<'a>(figures: &'a [Figure], name: &str) -> Option<&'a Figure> {
    figures.iter().rev().find(|f| f.name == name)
}

/// The last figure of each name, where its name first appeared (a console attached again
/// replays its history, printing a guest's figures twice).
pub fn latest(figures: &[Figure]) -> Vec<Figure> {
    let mut out: Vec<Figure> = Vec::new();
    for f in figures {
        match out.iter_mut().find(|o| o.name == f.name) {
            Some(old) => *old = f.clone(),
            None => out.push(f.clone()),
        }
    }
    out
}

/// `name` / syscall_sysret, when both are present and the floor is not zero.
pub fn floor_ratio(figures: &[Figure], name: &str) -> Option<f64> {
    ratio(figures, name, SYSCALL_FLOOR)
}

/// `num` / `den`, when both are present and `den` is not zero.
pub fn ratio(figures: &[Figure], num: &str, den: &str) -> Option<f64> {
    let figure = find(figures, num)?;
    let floor = find(figures, den)?;
    (floor.insns > 0.0).then(|| figure.insns / floor.insns)
}

/// null_hypercall / syscall_sysret, when both are present and the floor is not zero.
pub fn hypercall_ratio(figures: &[Figure]) -> Option<f64> {
    floor_ratio(figures, NULL_HYPERCALL)
}

/// The figures as a table (name, instructions per operation, n), plus the ratios to the floor.
pub fn table(figures: &[Figure]) -> String {
    let width = figures
        .iter()
        .map(|f| f.name.len())
        .chain([4])
        .max()
        .unwrap_or(4);
    let mut out = format!("{:<width$}  {:>14}  {:>10}\n", "name", "insns/op", "n");
    for f in figures {
        out.push_str(&format!(
            "{:<width$}  {:>14}  {:>10}\n",
            f.name,
            number(f.insns),
            f.n
        ));
    }
    let pairs = OVER_FLOOR.iter().map(|&name| (name, SYSCALL_FLOOR));
    for (num, den) in pairs.chain(PTE_RATIOS).chain(TWO_DOMAIN_RATIOS) {
        if let Some(r) = ratio(figures, num, den) {
            out.push_str(&format!("{num} / {den} = {r:.2}\n"));
        }
    }
    out
}

/// An integer without decimals, anything else with two.
fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(name: &str, insns: f64, n: u64) -> Figure {
        Figure {
            name: name.into(),
            insns,
            n,
        }
    }

    #[test]
    fn the_benchmark_boot_uses_icount_and_bench_options() {
        let xen_core = boot(Hypervisor::XenCore, "/x".into(), "/g".into());
        assert!(xen_core.icount);
        assert_eq!(xen_core.dom0_args, "bench");
        assert_eq!(
            xen_core.ramdisk,
            Some("/g".into()),
            "the partner DomU's image"
        );
        assert_eq!(
            xen_core.hypervisor_cmdline(),
            "console=com1 dom0_mem=64M bench"
        );
        let xen = boot(Hypervisor::Xen417, "/x".into(), "/g".into());
        assert!(xen.icount);
        assert!(
            xen.hypervisor_cmdline()
                .ends_with(" spec-ctrl=no xpti=false")
        );
        assert!(!xen.hypervisor_cmdline().contains("bench"));
    }

    #[test]
    fn the_create_benchmark_boot_times_xl_create() {
        let boot = create_boot(
            Hypervisor::XenCore,
            PathBuf::from("/i/xen-core.elf32"),
            PathBuf::from("/i/pv-guest-kernel"),
        );
        assert_eq!(boot.dom0_args, "bench=create");
        assert!(boot.icount);
        assert_eq!(boot.ramdisk, Some(PathBuf::from("/i/pv-guest-kernel")));
    }

    #[test]
    fn a_benchmark_run_stops_when_dom0_is_down() {
        let options = run_options(Hypervisor::Xen417);
        let stop = options.stop_when.as_ref().unwrap();
        assert!(stop(
            "BENCH a insns=1 n=1\r\n(XEN) Hardware Dom0 halted: halting machine\r\n"
        ));
        assert!(stop("Test result: SUCCESS\r\n"));
        assert!(!stop("BENCH a insns=1 n=1\r\n"));
        assert_eq!(options.linger, Duration::from_secs(2));
    }

    #[test]
    fn parses_plain_and_prefixed_lines() {
        assert_eq!(
            parse_line("BENCH null_hypercall insns=56 n=10000"),
            Some(fig("null_hypercall", 56.0, 10000))
        );
        assert_eq!(
            parse_line("(XEN) BENCH syscall_sysret insns=20 n=1000\r"),
            Some(fig("syscall_sysret", 20.0, 1000))
        );
        assert_eq!(
            parse_line("(d0) BENCH empty_loop insns=3 n=100000"),
            Some(fig("empty_loop", 3.0, 100000))
        );
        assert_eq!(
            parse_line("(XEN) (d0) BENCH x insns=1.5 n=2 extra=7"),
            Some(fig("x", 1.5, 2))
        );
    }

    #[test]
    fn rejects_other_and_malformed_lines() {
        for line in [
            "",
            "(XEN) xen-core booting",
            "BENCH",
            "BENCH null_hypercall",
            "BENCH null_hypercall n=1 insns=2",
            "BENCH null_hypercall insns=abc n=1",
            "BENCH null_hypercall insns=5 n=-1",
            "BENCH null_hypercall insns=-5 n=1",
            "BENCH insns=5 n=1",
            "xBENCH a insns=1 n=1",
            "(XEN BENCH a insns=1 n=1",
            "say BENCH a insns=1 n=1",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn parses_a_log_and_finds_the_last_figure() {
        let log = "(XEN) xen-core\r\n(XEN) BENCH syscall_sysret insns=20 n=1000\r\nBENCH null_hypercall insns=60 n=10\r\n\
                   noise\r\nBENCH null_hypercall insns=56 n=10000\r\n";
        let figures = parse(log);
        assert_eq!(figures.len(), 3);
        assert_eq!(
            find(&figures, "null_hypercall"),
            Some(&fig("null_hypercall", 56.0, 10000))
        );
        assert_eq!(find(&figures, "empty_loop"), None);
        assert_eq!(hypercall_ratio(&figures), Some(2.8));
    }

    #[test]
    fn latest_keeps_the_last_value_in_the_first_place() {
        let figures = [fig("a", 1.0, 1), fig("b", 2.0, 1), fig("a", 3.0, 2)];
        assert_eq!(latest(&figures), [fig("a", 3.0, 2), fig("b", 2.0, 1)]);
        assert_eq!(latest(&[]), []);
    }

    #[test]
    fn the_ratio_needs_both_figures_and_a_nonzero_floor() {
        assert_eq!(hypercall_ratio(&[fig("null_hypercall", 5.0, 1)]), None);
        assert_eq!(
            hypercall_ratio(&[fig("null_hypercall", 5.0, 1), fig("syscall_sysret", 0.0, 1)]),
            None
        );
    }

    #[test]
    fn prints_a_table_with_the_ratio() {
        let table = table(&[
            fig("syscall_sysret", 20.0, 1000),
            fig("null_hypercall", 56.5, 10000),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("name"));
        assert!(
            lines[1].starts_with("syscall_sysret")
                && lines[1].contains(" 20 ")
                && lines[1].ends_with("1000")
        );
        assert!(lines[2].contains("56.50"));
        assert_eq!(lines[3], "null_hypercall / syscall_sysret = 2.83");
    }

    #[test]
    fn page_table_writes_are_shown_against_batching_and_native_stores() {
        let figures = parse(
            "BENCH mmu_update_batch64 insns=365 n=4096\r\n\
             BENCH pte_write_trapped insns=1095 n=4096\r\n\
             BENCH pte_write_native insns=12.5 n=4096\r\n",
        );
        let table = table(&figures);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[4], "pte_write_trapped / mmu_update_batch64 = 3.00");
        assert_eq!(lines[5], "mmu_update_batch64 / pte_write_native = 29.20");
        assert_eq!(ratio(&figures, PTE_WRITE_TRAPPED, "nothing"), None);
    }

    #[test]
    fn two_domain_figures_are_shown_against_their_floors() {
        let figures = parse(
            "BENCH null_hypercall insns=80 n=10000\r\n\
             BENCH page_copy insns=520 n=1000\r\n\
             BENCH grant_copy insns=1300 n=1000\r\n\
             BENCH grant_map_unmap insns=2000 n=1000\r\n\
             BENCH evtchn_round_trip insns=4000 n=1000\r\n\
             BENCH domain_switch insns=1000 n=2000\r\n",
        );
        let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names[1..], TWO_DOMAIN);
        let table = table(&figures);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 10);
        assert_eq!(lines[7], "grant_copy / page_copy = 2.50");
        assert_eq!(lines[8], "evtchn_round_trip / null_hypercall = 50.00");
        assert_eq!(lines[9], "domain_switch / null_hypercall = 12.50");
    }

    #[test]
    fn the_syscall_bounce_is_shown_against_the_floor() {
        let figures = parse(
            "(XEN) BENCH syscall_sysret insns=2 n=16384\r\n\
             BENCH null_hypercall insns=74 n=10000\r\n\
             BENCH syscall_bounce insns=896 n=10000\r\n",
        );
        assert_eq!(floor_ratio(&figures, SYSCALL_BOUNCE), Some(448.0));
        let table = table(&figures);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6);
        assert!(lines[3].starts_with("syscall_bounce") && lines[3].contains(" 896 "));
        assert_eq!(lines[4], "null_hypercall / syscall_sysret = 37.00");
        assert_eq!(lines[5], "syscall_bounce / syscall_sysret = 448.00");
        assert_eq!(
            floor_ratio(&figures[1..], SYSCALL_BOUNCE),
            None,
            "no floor, no ratio"
        );
    }
}
