//! `xl uptime`: how long each domain has run, in xl's long and short (`-s`) forms.

use alloc::string::String;
use core::fmt::Write;

/// One domain's uptime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UptimeRow {
    /// Its id.
    pub domid: u32,
    /// Its name.
    pub name: String,
    /// Seconds since it was created.
    pub uptime_secs: u64,
}

/// `secs` as xl prints an uptime: `[N day(s), ]HH:MM:SS` (hours padded to two columns), or
/// without the seconds in the short form.
pub fn uptime_to_string(secs: u64, short: bool) -> String {
    let day = secs / 86_400;
    let hour = secs % 86_400 / 3600;
    let min = secs % 3600 / 60;
    let sec = secs % 60;
    let mut out = String::new();
    match day {
        0 => {}
        1 => out.push_str("1 day, "),
        _ => {
            let _ = write!(out, "{day} days, ");
        }
    }
    let _ = write!(out, "{hour:>2}:{min:02}");
    if !short {
        let _ = write!(out, ":{sec:02}");
    }
    out
}

/// `xl uptime` output: a `Name ID Uptime` header and one line per domain.
pub fn format_uptime(rows: &[UptimeRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<33} {:>4} Uptime", "Name", "ID");
    for row in rows {
        let _ = writeln!(
            out,
            "{:<33} {:>4} {}",
            row.name,
            row.domid,
            uptime_to_string(row.uptime_secs, false)
        );
    }
    out
}

/// `xl uptime -s` output: ` HH:MM:SS up UPTIME, NAME (ID)` per domain; `now_secs_of_day` is
/// the wall-clock time of day (we print the time since Dom0 started when there is no clock).
pub fn format_uptime_short(rows: &[UptimeRow], now_secs_of_day: u64) -> String {
    let now = now_secs_of_day % 86_400;
    let mut out = String::new();
    for row in rows {
        let _ = writeln!(
            out,
            " {:02}:{:02}:{:02} up {}, {} ({})",
            now / 3600,
            now % 3600 / 60,
            now % 60,
            uptime_to_string(row.uptime_secs, true),
            row.name,
            row.domid
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_strings() {
        assert_eq!(uptime_to_string(0, false), " 0:00:00");
        assert_eq!(uptime_to_string(3 * 3600 + 27 * 60 + 41, false), " 3:27:41");
        assert_eq!(
            uptime_to_string(86_400 + 13 * 3600 + 5, false),
            "1 day, 13:00:05"
        );
        assert_eq!(uptime_to_string(2 * 86_400 + 59, false), "2 days,  0:00:59");
        assert_eq!(uptime_to_string(2 * 86_400 + 59, true), "2 days,  0:00");
        assert_eq!(uptime_to_string(125, true), " 0:02");
        assert_eq!(
            uptime_to_string(u64::MAX, false),
            "213503982334601 days,  7:00:15"
        );
    }

    #[test]
    fn table() {
        let rows = [
            UptimeRow {
                domid: 0,
                name: String::from("Domain-0"),
                uptime_secs: 75,
            },
            UptimeRow {
                domid: 7,
                name: String::from("pvh-web01"),
                uptime_secs: 3 * 3600 + 27 * 60 + 41,
            },
        ];
        assert_eq!(
            format_uptime(&rows),
            "Name                                ID Uptime\n\
             Domain-0                             0  0:01:15\n\
             pvh-web01                            7  3:27:41\n"
        );
        assert_eq!(
            format_uptime_short(&rows, 14 * 3600 + 32 * 60 + 7),
            " 14:32:07 up  0:01, Domain-0 (0)\n 14:32:07 up  3:27, pvh-web01 (7)\n"
        );
    }
}
