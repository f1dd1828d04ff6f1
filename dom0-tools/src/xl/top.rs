//! `xl top`: a `xentop`-like table of CPU and memory use, from two samples.
//
// The columns are xentop's first nine (NAME STATE CPU(sec) CPU(%) MEM(k) MEM(%) MAXMEM(k)
// MAXMEM(%) VCPUS) with its widths; the network and block columns are left out (no devices
// yet). CPU(%) is the domain's CPU time between the two samples over the time between them.

use super::state::{DomainFlags, as_str};
use alloc::string::String;
use core::fmt::Write;

/// One domain in one sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopDomain {
    /// Its id (matches a domain across samples).
    pub domid: u32,
    /// Its name.
    pub name: String,
    /// Its state.
    pub flags: DomainFlags,
    /// CPU time used, in ns.
    pub cpu_time_ns: u64,
    /// Memory it has, in KiB.
    pub mem_kib: u64,
    /// Its limit in KiB (`None`: no limit).
    pub max_mem_kib: Option<u64>,
    /// vCPUs online.
    pub vcpus: u32,
}

/// The host and its domains at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopSample {
    /// When, in ns (any monotonic clock).
    pub time_ns: u64,
    /// Host memory in KiB.
    pub total_mem_kib: u64,
    /// Free host memory in KiB.
    pub free_mem_kib: u64,
    /// Physical CPUs.
    pub nr_cpus: u32,
    /// CPU frequency in MHz.
    pub cpu_mhz: u64,
    /// The domains.
    pub domains: alloc::vec::Vec<TopDomain>,
}

/// The column header line.
pub const TOP_HEADER: &str =
    "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS\n";

/// CPU use of the domain between two readings, in percent of one CPU; 0 if no time passed.
pub fn cpu_percent(prev_cpu_ns: u64, cpu_ns: u64, elapsed_ns: u64) -> f64 {
    if elapsed_ns == 0 {
        return 0.0;
    }
    let used = cpu_ns.saturating_sub(prev_cpu_ns);
    used as f64 * 100.0 / elapsed_ns as f64
}

/// The table for `now`, CPU(%) computed against `prev` (a domain not in `prev`, or no `prev`,
/// shows 0.0): a summary line, a memory line, a blank line, the header and one line per domain.
pub fn format_top(prev: Option<&TopSample>, now: &TopSample) -> String {
    let mut out = String::new();
    let count =
        |pred: &dyn Fn(&DomainFlags) -> bool| now.domains.iter().filter(|d| pred(&d.flags)).count();
    let _ = writeln!(
        out,
        "{} domains: {} running, {} blocked, {} paused, {} crashed, {} dying, {} shutdown ",
        now.domains.len(),
        count(&|f| f.running),
        count(&|f| f.blocked),
        count(&|f| f.paused),
        count(&|f| f.crashed()),
        count(&|f| f.dying),
        count(&|f| f.shutdown.is_some()),
    );
    let _ = writeln!(
        out,
        "Mem: {}k total, {}k used, {}k free    CPUs: {} @ {}MHz",
        now.total_mem_kib,
        now.total_mem_kib.saturating_sub(now.free_mem_kib),
        now.free_mem_kib,
        now.nr_cpus,
        now.cpu_mhz
    );
    out.push('\n');
    out.push_str(TOP_HEADER);
    let elapsed = prev.map_or(0, |p| now.time_ns.saturating_sub(p.time_ns));
    let total = now.total_mem_kib;
    let pct = |kib: u64| {
        if total == 0 {
            0.0
        } else {
            kib as f64 * 100.0 / total as f64
        }
    };
    for d in &now.domains {
        let before = prev.and_then(|p| p.domains.iter().find(|o| o.domid == d.domid));
        let cpu_pct = before.map_or(0.0, |b| cpu_percent(b.cpu_time_ns, d.cpu_time_ns, elapsed));
        let name: String = d.name.chars().take(10).collect();
        let _ = write!(
            out,
            "{:>10} {} {:>10} {:>6.1} {:>10} {:>6.1} ",
            name,
            as_str(&d.flags.xentop_state()),
            d.cpu_time_ns / 1_000_000_000,
            cpu_pct,
            d.mem_kib,
            pct(d.mem_kib)
        );
        match d.max_mem_kib {
            Some(max) if max <= total => {
                let _ = write!(out, "{:>10} {:>9.1}", max, pct(max));
            }
            _ => {
                let _ = write!(out, "{:>10} {:>9}", "no limit", "n/a");
            }
        }
        let _ = writeln!(out, " {:>5}", d.vcpus);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(domid: u32, name: &str, cpu_ns: u64, flags: DomainFlags) -> TopDomain {
        TopDomain {
            domid,
            name: String::from(name),
            flags,
            cpu_time_ns: cpu_ns,
            mem_kib: 65536,
            max_mem_kib: Some(65536),
            vcpus: 1,
        }
    }

    #[test]
    fn percent() {
        assert_eq!(cpu_percent(0, 500_000_000, 1_000_000_000), 50.0);
        assert_eq!(cpu_percent(0, 2_000_000_000, 1_000_000_000), 200.0);
        assert_eq!(cpu_percent(10, 5, 1_000), 0.0);
        assert_eq!(cpu_percent(0, 5, 0), 0.0);
    }

    #[test]
    fn table_from_two_samples() {
        let running = DomainFlags {
            running: true,
            ..Default::default()
        };
        let blocked = DomainFlags {
            blocked: true,
            ..Default::default()
        };
        let prev = TopSample {
            time_ns: 1_000_000_000,
            total_mem_kib: 1_048_576,
            free_mem_kib: 524_288,
            nr_cpus: 1,
            cpu_mhz: 2000,
            domains: alloc::vec![
                dom(0, "Domain-0", 1_000_000_000, running),
                dom(1, "guest-with-long-name", 3_000_000_000, blocked),
            ],
        };
        let mut now = prev.clone();
        now.time_ns = 3_000_000_000;
        now.domains[0].cpu_time_ns = 1_500_000_000;
        now.domains[1].cpu_time_ns = 4_500_000_000;
        now.domains[1].max_mem_kib = None;
        now.domains.push(dom(2, "new", 0, DomainFlags::default()));
        let out = format_top(Some(&prev), &now);
        assert_eq!(
            out,
            "3 domains: 1 running, 1 blocked, 0 paused, 0 crashed, 0 dying, 0 shutdown \n\
             Mem: 1048576k total, 524288k used, 524288k free    CPUs: 1 @ 2000MHz\n\
             \n\
             \x20     NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS\n\
             \x20 Domain-0 -----r          1   25.0      65536    6.2      65536       6.2     1\n\
             guest-with --b---          4   75.0      65536    6.2   no limit       n/a     1\n\
             \x20      new ------          0    0.0      65536    6.2      65536       6.2     1\n"
        );
        // No previous sample: every CPU(%) is 0.0; no memory: percentages are 0.0.
        let mut lone = now.clone();
        lone.total_mem_kib = 0;
        lone.free_mem_kib = 0;
        let out = format_top(None, &lone);
        assert!(out.contains(
            "  Domain-0 -----r          1    0.0      65536    0.0   no limit       n/a     1\n"
        ));
    }

    #[test]
    fn counts_states() {
        let crashed = DomainFlags {
            shutdown: Some(3),
            ..Default::default()
        };
        let off = DomainFlags {
            shutdown: Some(0),
            dying: true,
            ..Default::default()
        };
        let paused = DomainFlags {
            paused: true,
            ..Default::default()
        };
        let now = TopSample {
            domains: alloc::vec![
                dom(1, "a", 0, crashed),
                dom(2, "b", 0, off),
                dom(3, "c", 0, paused)
            ],
            ..Default::default()
        };
        assert!(format_top(None, &now).starts_with(
            "3 domains: 0 running, 0 blocked, 1 paused, 1 crashed, 1 dying, 2 shutdown \n"
        ));
    }
}
