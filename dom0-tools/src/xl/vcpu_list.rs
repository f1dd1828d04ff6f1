//! `xl vcpu-list`: one line per vCPU with its CPU, state, time and affinities.

use super::cpu_mask::CpuMask;
use super::list::xl_seconds;
use alloc::string::String;
use core::fmt::Write;

/// One vCPU as `xl vcpu-list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcpuRow {
    /// The domain's id.
    pub domid: u32,
    /// The domain's name.
    pub name: String,
    /// The vCPU's number.
    pub vcpu: u32,
    /// Online (brought up); an offline vCPU shows `-` for its CPU and `--p` for its state.
    pub online: bool,
    /// The physical CPU it runs or last ran on.
    pub cpu: u32,
    /// Running now.
    pub running: bool,
    /// Blocked.
    pub blocked: bool,
    /// CPU time used, in ns.
    pub time_ns: u64,
    /// CPUs it may run on.
    pub hard_affinity: CpuMask,
    /// CPUs it prefers.
    pub soft_affinity: CpuMask,
}

/// `xl vcpu-list` output for `rows`, header included; `nr_cpus` is the host's CPU count (for
/// printing affinities).
pub fn format_vcpu_list(rows: &[VcpuRow], nr_cpus: u32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32} {:>5} {:>5} {:>5} {:>5} {:>9} Affinity (Hard / Soft)",
        "Name", "ID", "VCPU", "CPU", "State", "Time(s)"
    );
    for row in rows {
        let _ = write!(out, "{:<32} {:>5} {:>5}", row.name, row.domid, row.vcpu);
        if row.online {
            let flag = |set: bool, letter: char| if set { letter } else { '-' };
            let _ = write!(
                out,
                "{:>5} {:>3}{}- ",
                row.cpu,
                flag(row.running, 'r'),
                flag(row.blocked, 'b')
            );
        } else {
            // An offline vCPU: no CPU, state `--p`.
            out.push_str("    -   --p ");
        }
        let _ = writeln!(
            out,
            "{:>9.1}  {} / {}",
            xl_seconds(row.time_ns),
            row.hard_affinity.to_xl_string(nr_cpus),
            row.soft_affinity.to_xl_string(nr_cpus)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_xl() {
        let rows = [
            VcpuRow {
                domid: 0,
                name: String::from("Domain-0"),
                vcpu: 0,
                online: true,
                cpu: 1,
                running: false,
                blocked: true,
                time_ns: 271_100_000_000,
                hard_affinity: CpuMask::all(2),
                soft_affinity: CpuMask::all(2),
            },
            VcpuRow {
                domid: 7,
                name: String::from("mica-test"),
                vcpu: 1,
                online: true,
                cpu: 0,
                running: true,
                blocked: false,
                time_ns: 12_500_000_000,
                hard_affinity: CpuMask(0b01),
                soft_affinity: CpuMask::all(2),
            },
            VcpuRow {
                domid: 7,
                name: String::from("mica-test"),
                vcpu: 2,
                online: false,
                cpu: 0,
                running: false,
                blocked: false,
                time_ns: 0,
                hard_affinity: CpuMask(0),
                soft_affinity: CpuMask::all(2),
            },
        ];
        assert_eq!(
            format_vcpu_list(&rows, 2),
            "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n\
             Domain-0                             0     0    1   -b-     271.1  all / all\n\
             mica-test                            7     1    0   r--      12.5  0 / all\n\
             mica-test                            7     2    -   --p       0.0  none / all\n"
        );
    }
}
