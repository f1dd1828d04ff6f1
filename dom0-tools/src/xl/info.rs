//! `xl info`: the host and hypervisor facts, one `key                    : value` line each.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// What `xl info` reports, gathered by the executor (uname-like facts, physinfo, version info).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostInfo {
    /// Host name.
    pub host: String,
    /// Dom0 kernel release.
    pub release: String,
    /// Dom0 kernel version.
    pub version: String,
    /// Machine (`x86_64`).
    pub machine: String,
    /// Physical CPUs.
    pub nr_cpus: u32,
    /// Highest CPU id.
    pub max_cpu_id: u32,
    /// NUMA nodes.
    pub nr_nodes: u32,
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// Threads per core.
    pub threads_per_core: u32,
    /// CPU frequency in kHz.
    pub cpu_khz: u32,
    /// The eight hardware capability words.
    pub hw_caps: [u32; 8],
    /// HVM supported.
    pub cap_hvm: bool,
    /// HVM direct I/O supported.
    pub cap_hvm_directio: bool,
    /// PV direct I/O supported.
    pub cap_directio: bool,
    /// Pages of RAM.
    pub total_pages: u64,
    /// Free pages.
    pub free_pages: u64,
    /// Pages claimed but not yet allocated.
    pub outstanding_pages: u64,
    /// Pages freed by sharing.
    pub sharing_freed_pages: u64,
    /// Frames used by sharing.
    pub sharing_used_frames: u64,
    /// CPUs in no pool.
    pub free_cpus: u32,
    /// Xen major version.
    pub xen_major: u32,
    /// Xen minor version.
    pub xen_minor: u32,
    /// Xen extra version (e.g. `.0`).
    pub xen_extra: String,
    /// Capabilities string (e.g. `xen-3.0-x86_64`).
    pub xen_caps: String,
    /// Scheduler name (`credit`).
    pub xen_scheduler: String,
    /// Page size in bytes.
    pub xen_pagesize: u32,
    /// Start of the hypervisor's virtual area.
    pub virt_start: u64,
    /// Changeset.
    pub xen_changeset: String,
    /// Hypervisor command line.
    pub xen_commandline: String,
    /// Compiler.
    pub cc_compiler: String,
    /// Compiled by.
    pub cc_compile_by: String,
    /// Compile domain.
    pub cc_compile_domain: String,
    /// Compile date.
    pub cc_compile_date: String,
    /// Build id.
    pub build_id: String,
}

/// Every `xl info` line in xl's order (node, physinfo, xeninfo, then `xend_config_format`).
pub fn info_lines(info: &HostInfo) -> Vec<(&'static str, String)> {
    let page = u64::from(info.xen_pagesize.max(1));
    let per_mib = ((1u64 << 20) / page).max(1);
    let mib = |pages: u64| alloc::format!("{}", pages / per_mib);
    let h = &info.hw_caps;
    let mut lines: Vec<(&'static str, String)> = Vec::new();
    let mut add = |key: &'static str, value: String| lines.push((key, value));
    add("host", info.host.clone());
    add("release", info.release.clone());
    add("version", info.version.clone());
    add("machine", info.machine.clone());
    add("nr_cpus", alloc::format!("{}", info.nr_cpus));
    add("max_cpu_id", alloc::format!("{}", info.max_cpu_id));
    add("nr_nodes", alloc::format!("{}", info.nr_nodes));
    add(
        "cores_per_socket",
        alloc::format!("{}", info.cores_per_socket),
    );
    add(
        "threads_per_core",
        alloc::format!("{}", info.threads_per_core),
    );
    add(
        "cpu_mhz",
        alloc::format!("{}.{:03}", info.cpu_khz / 1000, info.cpu_khz % 1000),
    );
    add(
        "hw_caps",
        alloc::format!(
            "{:08x}:{:08x}:{:08x}:{:08x}:{:08x}:{:08x}:{:08x}:{:08x}",
            h[0],
            h[1],
            h[2],
            h[3],
            h[4],
            h[5],
            h[6],
            h[7]
        ),
    );
    let mut caps = String::new();
    for (set, word) in [
        (info.cap_hvm, " hvm"),
        (info.cap_hvm_directio, " hvm_directio"),
        (info.cap_directio, " directio"),
    ] {
        if set {
            caps.push_str(word);
        }
    }
    add("virt_caps", caps);
    add("total_memory", mib(info.total_pages));
    add(
        "free_memory",
        mib(info.free_pages.saturating_sub(info.outstanding_pages)),
    );
    add("sharing_freed_memory", mib(info.sharing_freed_pages));
    add("sharing_used_memory", mib(info.sharing_used_frames));
    add("outstanding_claims", mib(info.outstanding_pages));
    add("free_cpus", alloc::format!("{}", info.free_cpus));
    add("xen_major", alloc::format!("{}", info.xen_major));
    add("xen_minor", alloc::format!("{}", info.xen_minor));
    add("xen_extra", info.xen_extra.clone());
    add(
        "xen_version",
        alloc::format!("{}.{}{}", info.xen_major, info.xen_minor, info.xen_extra),
    );
    add("xen_caps", info.xen_caps.clone());
    add("xen_scheduler", info.xen_scheduler.clone());
    add("xen_pagesize", alloc::format!("{}", info.xen_pagesize));
    add(
        "platform_params",
        alloc::format!("virt_start=0x{:x}", info.virt_start),
    );
    add("xen_changeset", info.xen_changeset.clone());
    add("xen_commandline", info.xen_commandline.clone());
    add("cc_compiler", info.cc_compiler.clone());
    add("cc_compile_by", info.cc_compile_by.clone());
    add("cc_compile_domain", info.cc_compile_domain.clone());
    add("cc_compile_date", info.cc_compile_date.clone());
    add("build_id", info.build_id.clone());
    add("xend_config_format", String::from("4"));
    lines
}

/// `xl info` output. With `only` (as `xl info NAME`), only the value of each line whose key starts
/// with `only` is printed, without the key, as xl does.
pub fn format_info(info: &HostInfo, only: Option<&str>) -> String {
    let mut out = String::new();
    for (key, value) in info_lines(info) {
        match only {
            // virt_caps has no space after its colon in xl, so xl's filter never matches it.
            Some(prefix)
                if key.starts_with(prefix) && !(key == "virt_caps" && value.is_empty()) =>
            {
                let _ = writeln!(out, "{}", value.strip_prefix(' ').unwrap_or(&value));
            }
            Some(_) => {}
            None if key == "virt_caps" => {
                let _ = writeln!(out, "{key:<23}:{value}");
            }
            None => {
                let _ = writeln!(out, "{key:<23}: {value}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HostInfo {
        HostInfo {
            host: String::from("dom0"),
            release: String::from("0.1.0"),
            version: String::from("#1"),
            machine: String::from("x86_64"),
            nr_cpus: 2,
            max_cpu_id: 1,
            nr_nodes: 1,
            cores_per_socket: 2,
            threads_per_core: 1,
            cpu_khz: 2_999_999,
            hw_caps: [0x178bfbff, 0, 0, 0, 0, 0, 0, 0xdeadbeef],
            cap_hvm: false,
            cap_hvm_directio: false,
            cap_directio: true,
            total_pages: 262_144,
            free_pages: 200_000,
            outstanding_pages: 256,
            sharing_freed_pages: 0,
            sharing_used_frames: 0,
            free_cpus: 0,
            xen_major: 4,
            xen_minor: 17,
            xen_extra: String::from(".0"),
            xen_caps: String::from("xen-3.0-x86_64"),
            xen_scheduler: String::from("credit"),
            xen_pagesize: 4096,
            virt_start: 0xffff800000000000,
            xen_changeset: String::new(),
            xen_commandline: String::from("console=com1"),
            cc_compiler: String::from("rustc 1.95.0"),
            cc_compile_by: String::from("xen-core"),
            cc_compile_domain: String::new(),
            cc_compile_date: String::new(),
            build_id: String::new(),
        }
    }

    #[test]
    fn full_output() {
        let out = format_info(&sample(), None);
        let expected = "\
host                   : dom0
release                : 0.1.0
version                : #1
machine                : x86_64
nr_cpus                : 2
max_cpu_id             : 1
nr_nodes               : 1
cores_per_socket       : 2
threads_per_core       : 1
cpu_mhz                : 2999.999
hw_caps                : 178bfbff:00000000:00000000:00000000:00000000:00000000:00000000:deadbeef
virt_caps              : directio
total_memory           : 1024
free_memory            : 780
sharing_freed_memory   : 0
sharing_used_memory    : 0
outstanding_claims     : 1
free_cpus              : 0
xen_major              : 4
xen_minor              : 17
xen_extra              : .0
xen_version            : 4.17.0
xen_caps               : xen-3.0-x86_64
xen_scheduler          : credit
xen_pagesize           : 4096
platform_params        : virt_start=0xffff800000000000
xen_changeset          : 
xen_commandline        : console=com1
cc_compiler            : rustc 1.95.0
cc_compile_by          : xen-core
cc_compile_domain      : 
cc_compile_date        : 
build_id               : 
xend_config_format     : 4
";
        assert_eq!(out, expected);
    }

    #[test]
    fn no_virt_caps_prints_bare_colon() {
        let mut info = sample();
        info.cap_directio = false;
        assert!(format_info(&info, None).contains("\nvirt_caps              :\n"));
    }

    #[test]
    fn filtered() {
        let info = sample();
        assert_eq!(format_info(&info, Some("xen_version")), "4.17.0\n");
        assert_eq!(format_info(&info, Some("free_memory")), "780\n");
        // A prefix matches every key starting with it, as xl's filter does.
        assert_eq!(format_info(&info, Some("xen_m")), "4\n17\n");
        assert_eq!(format_info(&info, Some("nosuchkey")), "");
    }

    #[test]
    fn zero_page_size_does_not_divide_by_zero() {
        let mut info = sample();
        info.xen_pagesize = 0;
        assert!(format_info(&info, None).contains("total_memory           : 0\n"));
    }
}
