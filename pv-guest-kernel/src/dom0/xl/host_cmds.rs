//! The `xl` commands about the host and every domain: info, dmesg, vcpu-list, top.

use alloc::string::String;
use alloc::vec::Vec;

use hypercall_abi::version::XenVersionCmd;

use dom0_tools::domain_info::DomainState;
use dom0_tools::xl::cpu_mask::CpuMask;
use dom0_tools::xl::dom_resolve::DomSpec;
use dom0_tools::xl::info::{HostInfo, format_info};
use dom0_tools::xl::state::DomainFlags;
use dom0_tools::xl::top::{TopDomain, TopSample, format_top};
use dom0_tools::xl::vcpu_list::{VcpuRow, format_vcpu_list};

use super::commands::{Flow, lookup, names};
use super::output::{print, raw};
use super::toolstack::{MS, Toolstack};
use crate::arch::x86_64::xen;
use crate::console::until_nul;
use crate::dom0::control;

/// KiB per page.
const PAGE_KIB: u64 = 4;
/// How often `top` refreshes.
const TOP_PERIOD_MS: u64 = 1000;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(until_nul(bytes)).into_owned()
}

/// `xl info [FIELD]`.
pub fn info(only: Option<&str>) -> Result<Flow, String> {
    let phys =
        control::physinfo().map_err(|e| alloc::format!("libxl: error: physinfo failed ({e})\n"))?;
    let version = xen::xen_version_plain(XenVersionCmd::Version as u64);
    let (_, extra) = xen::xen_version_extraversion();
    let (_, caps) = xen::xen_version_capabilities();
    let info = HostInfo {
        host: String::from("dom0"),
        release: String::from(env!("CARGO_PKG_VERSION")),
        version: String::from("pv-guest-kernel"),
        machine: String::from("x86_64"),
        nr_cpus: phys.nr_cpus,
        max_cpu_id: phys.max_cpu_id,
        nr_nodes: phys.nr_nodes,
        cores_per_socket: phys.cores_per_socket,
        threads_per_core: phys.threads_per_core,
        cpu_khz: phys.cpu_khz,
        total_pages: phys.total_pages,
        free_pages: phys.free_pages,
        outstanding_pages: phys.outstanding_pages,
        xen_major: (version >> 16) as u32,
        xen_minor: (version & 0xFFFF) as u32,
        xen_extra: text(&extra),
        xen_caps: text(&caps),
        xen_scheduler: String::from("credit"),
        xen_pagesize: 4096,
        ..HostInfo::default()
    };
    print(&format_info(&info, only));
    Ok(Flow::Prompt)
}

/// Most console history `dmesg` shows.
const DMESG_MAX: usize = 64 * 1024;

/// `xl dmesg [-c]`: the hypervisor's console history. All of it is read before any is
/// printed: what we print goes into the same history, and would be read again.
pub fn dmesg(clear: bool) -> Result<Flow, String> {
    let mut all: Vec<u8> = Vec::new();
    let mut buf = [0u8; 1024];
    let mut index = 0u32;
    let mut first = true;
    while all.len() < DMESG_MAX {
        let (n, next) = control::readconsole(&mut buf, false, !first, index)
            .map_err(|e| alloc::format!("libxl: error: reading the console ring failed ({e})\n"))?;
        if n == 0 || all.try_reserve(n).is_err() {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        index = next;
        first = false;
    }
    raw(&all);
    if clear {
        let mut none = [0u8; 1];
        let _ = control::readconsole(&mut none, true, false, 0);
    }
    Ok(Flow::Prompt)
}

/// `xl vcpu-list [DOM...]`.
pub fn vcpu_list(ts: &mut Toolstack, domains: &[DomSpec]) -> Result<Flow, String> {
    let infos =
        control::domain_list().map_err(|e| alloc::format!("listing domains failed ({e})\n"))?;
    let all_names = names(ts, &infos);
    let mut wanted = Vec::new();
    for spec in domains {
        wanted.push(lookup(ts, spec)?);
    }
    let nr_cpus = control::physinfo().map_or(1, |p| p.nr_cpus.max(1));
    let mut rows = Vec::new();
    for (info, (id, name)) in infos.iter().zip(all_names) {
        if !wanted.is_empty() && !wanted.contains(&info.domain) {
            continue;
        }
        let state = DomainState::from(info);
        for vcpu in 0..=info.max_vcpu_id {
            // XEN_DOMCTL_getvcpuinfo, as xl asks; the domain's figures if it is refused.
            let row = match control::vcpu_info(info.domain, vcpu) {
                Ok(v) => VcpuRow {
                    domid: id,
                    name: name.clone(),
                    vcpu,
                    online: v.online != 0,
                    cpu: v.cpu,
                    running: v.running != 0,
                    blocked: v.blocked != 0,
                    time_ns: v.cpu_time,
                    hard_affinity: CpuMask::all(nr_cpus),
                    soft_affinity: CpuMask::all(nr_cpus),
                },
                Err(_) => VcpuRow {
                    domid: id,
                    name: name.clone(),
                    vcpu,
                    online: vcpu < info.nr_online_vcpus,
                    cpu: 0,
                    running: state.running,
                    blocked: state.blocked,
                    time_ns: info.cpu_time,
                    hard_affinity: CpuMask::all(nr_cpus),
                    soft_affinity: CpuMask::all(nr_cpus),
                },
            };
            rows.push(row);
        }
    }
    print(&format_vcpu_list(&rows, nr_cpus));
    Ok(Flow::Prompt)
}

fn sample(ts: &Toolstack) -> Option<TopSample> {
    let infos = control::domain_list().ok()?;
    let phys = control::physinfo().ok()?;
    let all_names = names(ts, &infos);
    let domains = infos
        .iter()
        .zip(all_names)
        .map(|(info, (id, name))| TopDomain {
            domid: id,
            name,
            flags: DomainFlags::from(&DomainState::from(info)),
            cpu_time_ns: info.cpu_time,
            mem_kib: info.tot_pages * PAGE_KIB,
            max_mem_kib: Some(info.max_pages * PAGE_KIB),
            vcpus: info.nr_online_vcpus,
        })
        .collect();
    Some(TopSample {
        time_ns: Toolstack::now_ns(),
        total_mem_kib: phys.total_pages * PAGE_KIB,
        free_mem_kib: phys.free_pages * PAGE_KIB,
        nr_cpus: phys.nr_cpus,
        cpu_mhz: u64::from(phys.cpu_khz / 1000),
        domains,
    })
}

/// `xl top`: the table every second until a key is pressed.
pub fn top(ts: &mut Toolstack) -> Result<Flow, String> {
    let mut prev = sample(ts);
    loop {
        let start = Toolstack::now_ns();
        let pressed = super::shell::wait_until(ts, TOP_PERIOD_MS, |ts| {
            ts.input_pending() || Toolstack::now_ns() >= start + TOP_PERIOD_MS * MS
        }) && ts.input_pending();
        let now = sample(ts)
            .ok_or_else(|| String::from("libxl: error: sampling the domains failed\n"))?;
        // Clear the screen and go home, as xentop redraws.
        raw(b"\x1b[H\x1b[2J");
        print(&format_top(prev.as_ref(), &now));
        prev = Some(now);
        if pressed {
            ts.discard_input();
            return Ok(Flow::Prompt);
        }
    }
}
