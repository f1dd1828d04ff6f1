//! `xl list`: the domain table (and our `-l` long form) from plain data.

use super::state::{DomainFlags, as_str};
use alloc::string::String;
use core::fmt::Write;

/// One domain as `xl list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainRow {
    /// Its id.
    pub domid: u32,
    /// Its name.
    pub name: String,
    /// Memory it has now, in KiB (xl shows current plus outstanding claims, in MiB).
    pub mem_kib: u64,
    /// Its memory limit in KiB (`max_pages`), for `-l`.
    pub max_mem_kib: u64,
    /// vCPUs online.
    pub vcpus: u32,
    /// Running, blocked, paused, shut down, dying.
    pub flags: DomainFlags,
    /// CPU time used by all its vCPUs, in ns.
    pub cpu_time_ns: u64,
}

/// The header line of `xl list`.
pub const LIST_HEADER: &str =
    "Name                                        ID   Mem VCPUs\tState\tTime(s)\n";

/// Seconds from ns as xl computes them for its `Time(s)` columns: the count goes through a C
/// `float` first, so the printed tenths match xl's.
pub fn xl_seconds(ns: u64) -> f64 {
    f64::from(ns as f32) / 1e9
}

/// `xl list` output for `rows`, header included.
pub fn format_list(rows: &[DomainRow]) -> String {
    let mut out = String::from(LIST_HEADER);
    for row in rows {
        let _ = writeln!(
            out,
            "{:<40} {:>5} {:>5} {:>5}     {}  {:>8.1}",
            row.name,
            row.domid,
            row.mem_kib / 1024,
            row.vcpus,
            as_str(&row.flags.xl_list_state()),
            xl_seconds(row.cpu_time_ns),
        );
    }
    out
}

/// Our `xl list -l`: real xl prints each domain's whole configuration as JSON; we print the
/// facts we hold as a JSON array of objects in the same layout (four-space indent).
pub fn format_list_long(rows: &[DomainRow]) -> String {
    let mut out = String::from("[\n");
    for (i, row) in rows.iter().enumerate() {
        out.push_str("    {\n");
        let _ = writeln!(out, "        \"domid\": {},", row.domid);
        out.push_str("        \"name\": ");
        push_json_string(&mut out, &row.name);
        out.push_str(",\n");
        let _ = writeln!(out, "        \"memory_kb\": {},", row.mem_kib);
        let _ = writeln!(out, "        \"max_memory_kb\": {},", row.max_mem_kib);
        let _ = writeln!(out, "        \"vcpus\": {},", row.vcpus);
        let _ = writeln!(
            out,
            "        \"state\": \"{}\",",
            as_str(&row.flags.xl_list_state())
        );
        let _ = writeln!(out, "        \"cpu_time_ns\": {}", row.cpu_time_ns);
        out.push_str(if i + 1 == rows.len() {
            "    }\n"
        } else {
            "    },\n"
        });
    }
    out.push_str("]\n");
    out
}

/// `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(domid: u32, name: &str, mib: u64, vcpus: u32, flags: DomainFlags, ns: u64) -> DomainRow {
        DomainRow {
            domid,
            name: String::from(name),
            mem_kib: mib * 1024,
            max_mem_kib: mib * 1024,
            vcpus,
            flags,
            cpu_time_ns: ns,
        }
    }

    #[test]
    fn list_matches_xl() {
        let running = DomainFlags {
            running: true,
            ..Default::default()
        };
        let blocked = DomainFlags {
            blocked: true,
            ..Default::default()
        };
        let out = format_list(&[
            row(0, "Domain-0", 64, 1, running, 1_234_000_000),
            row(3, "guest1", 32, 2, blocked, 12_345_678_901),
        ]);
        assert_eq!(
            out,
            "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
             Domain-0                                     0    64     1     r-----       1.2\n\
             guest1                                       3    32     2     -b----      12.3\n"
        );
    }

    #[test]
    fn list_long_names_and_big_numbers_do_not_truncate() {
        let name = "a-very-long-domain-name-that-is-longer-than-forty";
        let out = format_list(&[row(
            32000,
            name,
            123_456,
            128,
            DomainFlags::default(),
            1_000_000_000_000,
        )]);
        let line = out.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "a-very-long-domain-name-that-is-longer-than-forty 32000 123456   128     ------    1000.0"
        );
    }

    #[test]
    fn time_rounds_through_float_as_xl() {
        assert_eq!(alloc::format!("{:.1}", xl_seconds(50_000_000)), "0.1");
        assert_eq!(alloc::format!("{:.1}", xl_seconds(0)), "0.0");
        assert_eq!(alloc::format!("{:.1}", xl_seconds(149_999_999)), "0.1");
        assert_eq!(alloc::format!("{:.1}", xl_seconds(150_000_016)), "0.2");
        // 150_000_001 ns is 150_000_000 as a C float, so xl prints 0.1.
        assert_eq!(alloc::format!("{:.1}", xl_seconds(150_000_001)), "0.1");
    }

    #[test]
    fn long_form() {
        let out = format_list_long(&[
            row(1, "a\"b", 16, 1, DomainFlags::default(), 5),
            row(2, "c", 8, 1, DomainFlags::default(), 6),
        ]);
        assert_eq!(
            out,
            "[\n    {\n        \"domid\": 1,\n        \"name\": \"a\\\"b\",\n        \"memory_kb\": 16384,\n        \"max_memory_kb\": 16384,\n        \"vcpus\": 1,\n        \"state\": \"------\",\n        \"cpu_time_ns\": 5\n    },\n    {\n        \"domid\": 2,\n        \"name\": \"c\",\n        \"memory_kb\": 8192,\n        \"max_memory_kb\": 8192,\n        \"vcpus\": 1,\n        \"state\": \"------\",\n        \"cpu_time_ns\": 6\n    }\n]\n"
        );
        assert_eq!(format_list_long(&[]), "[\n]\n");
    }
}
