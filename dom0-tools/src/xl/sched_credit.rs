//! `xl sched-credit` output: the pool's parameters and each domain's weight and cap.

use alloc::string::String;
use core::fmt::Write;

/// The credit scheduler's pool-wide parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditPoolParams {
    /// Time slice in ms.
    pub tslice_ms: u32,
    /// Rate limit in µs.
    pub ratelimit_us: u32,
    /// vCPU migration delay in µs.
    pub migration_delay_us: u32,
}

/// One domain's credit parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditRow {
    /// Its id.
    pub domid: u32,
    /// Its name.
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// Its cap (percent of one CPU; 0 is no cap).
    pub cap: u32,
}

/// The `Name ID Weight Cap` header line.
pub fn credit_header() -> String {
    alloc::format!("{:<33} {:>4} {:>6} {:>4}\n", "Name", "ID", "Weight", "Cap")
}

/// One domain's line.
pub fn credit_row(row: &CreditRow) -> String {
    alloc::format!(
        "{:<33} {:>4} {:>6} {:>4}\n",
        row.name,
        row.domid,
        row.weight,
        row.cap
    )
}

/// `xl sched-credit` with no domain: the pool line (or xl's "unavailable" form when `params` is
/// `None`), the header and every domain of the pool.
pub fn format_sched_credit(
    pool_name: &str,
    params: Option<CreditPoolParams>,
    rows: &[CreditRow],
) -> String {
    let mut out = String::new();
    match params {
        Some(p) => {
            let _ = writeln!(
                out,
                "Cpupool {pool_name}: tslice={}ms ratelimit={}us migration-delay={}us",
                p.tslice_ms, p.ratelimit_us, p.migration_delay_us
            );
        }
        None => {
            let _ = writeln!(out, "Cpupool {pool_name}: [sched params unavailable]");
        }
    }
    out.push_str(&credit_header());
    for row in rows {
        out.push_str(&credit_row(row));
    }
    out
}

/// `xl sched-credit -d DOM`: the header and that domain's line.
pub fn format_sched_credit_domain(row: &CreditRow) -> String {
    let mut out = credit_header();
    out.push_str(&credit_row(row));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> [CreditRow; 2] {
        [
            CreditRow {
                domid: 0,
                name: String::from("Domain-0"),
                weight: 256,
                cap: 0,
            },
            CreditRow {
                domid: 12,
                name: String::from("guest"),
                weight: 512,
                cap: 50,
            },
        ]
    }

    #[test]
    fn all_domains() {
        let params = CreditPoolParams {
            tslice_ms: 30,
            ratelimit_us: 1000,
            migration_delay_us: 0,
        };
        assert_eq!(
            format_sched_credit("Pool-0", Some(params), &rows()),
            "Cpupool Pool-0: tslice=30ms ratelimit=1000us migration-delay=0us\n\
             Name                                ID Weight  Cap\n\
             Domain-0                             0    256    0\n\
             guest                               12    512   50\n"
        );
        assert_eq!(
            format_sched_credit("Pool-0", None, &[]),
            "Cpupool Pool-0: [sched params unavailable]\nName                                ID Weight  Cap\n"
        );
    }

    #[test]
    fn one_domain() {
        assert_eq!(
            format_sched_credit_domain(&rows()[1]),
            "Name                                ID Weight  Cap\n\
             guest                               12    512   50\n"
        );
    }
}
