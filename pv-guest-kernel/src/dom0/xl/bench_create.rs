//! `bench=create`: how long `xl create` takes to the guest's first instruction and to its ready line, alone and in a row, and what a domain costs the hypervisor.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;

use dom0_tools::xl_cfg::DomainConfig;

use super::create_cmd::create_from;
use super::files::BARE_KERNEL_PATH;
use super::shell::wait_until;
use super::toolstack::Toolstack;
use crate::arch::x86_64::xen;
use crate::console::kprintln;
use crate::dom0::{control, events::Events};

/// Memory of each benchmark domain (MiB).
const MEMORY_MIB: u64 = 8;
/// How long a domain may take to say it is ready.
const READY_TIMEOUT_MS: u64 = 60_000;
/// Domains created in a row, per round.
const ROUNDS: [u32; 2] = [10, 100];

/// One domain's times, in system-time ns since its `create` began.
struct Times {
    built: u64,
    first: u64,
    ready: u64,
}

/// The `domu: boot times first=A ready=B ns` line in `history`, if it came.
fn boot_times(history: &[u8]) -> Option<(u64, u64)> {
    let text = core::str::from_utf8(history).ok()?;
    let line = text.lines().find(|l| l.starts_with("domu: boot times "))?;
    let mut first = None;
    let mut ready = None;
    for word in line.split_whitespace() {
        if let Some(v) = word.strip_prefix("first=") {
            first = v.parse().ok();
        } else if let Some(v) = word.strip_prefix("ready=") {
            ready = v.parse().ok();
        }
    }
    Some((first?, ready?))
}

/// Creates one domain, waits for its ready line, destroys it; its times.
fn one(ts: &mut Toolstack, n: u32) -> Result<Times, String> {
    let text = format!(
        "name = \"bench{n}\"\nkernel = \"{BARE_KERNEL_PATH}\"\nmemory = {MEMORY_MIB}\nextra = \"domu=shell\"\n"
    );
    let cfg =
        DomainConfig::parse(text.as_bytes()).map_err(|e| format!("{}", e.in_file("bench.cfg")))?;
    let start = Toolstack::now_ns();
    let domid = create_from(ts, &cfg, "bench.cfg", false)?;
    let built = Toolstack::now_ns().saturating_sub(start);
    let mut seen = None;
    let ok = wait_until(ts, READY_TIMEOUT_MS, |ts| {
        if let Some(d) = ts.domain(domid) {
            let (a, b) = d.history.as_slices();
            let all: Vec<u8> = [a, b].concat();
            seen = boot_times(&all);
        }
        seen.is_some()
    });
    let destroyed = super::commands::destroy(ts, domid);
    let (first, ready) = seen
        .filter(|_| ok)
        .ok_or_else(|| format!("bench{n} never said it was ready"))?;
    destroyed?;
    Ok(Times {
        built,
        first: first.saturating_sub(start),
        ready: ready.saturating_sub(start),
    })
}

/// Frames a live domain takes beyond its own pages, in KiB (free pages before and during).
fn hypervisor_kib(ts: &mut Toolstack) -> Result<(u64, DomId), String> {
    let before = control::free_pages().map_err(|e| format!("physinfo: {e}"))?;
    let text = format!(
        "name = \"benchmem\"\nkernel = \"{BARE_KERNEL_PATH}\"\nmemory = {MEMORY_MIB}\nextra = \"domu=shell\"\n"
    );
    let cfg =
        DomainConfig::parse(text.as_bytes()).map_err(|e| format!("{}", e.in_file("bench.cfg")))?;
    let domid = create_from(ts, &cfg, "bench.cfg", true)?;
    let during = control::free_pages().map_err(|e| format!("physinfo: {e}"));
    let info = control::getdomaininfo(domid).map_err(|e| format!("getdomaininfo: {e}"));
    let _ = super::commands::destroy(ts, domid);
    let (during, info) = (during?, info?);
    let taken = before.saturating_sub(during);
    Ok((taken.saturating_sub(info.tot_pages) * 4, domid))
}

/// Runs the create benchmarks, prints BENCH lines and powers off.
pub fn run() -> ! {
    let events = match Events::bind() {
        Ok(e) => e,
        Err((what, e)) => {
            kprintln!(
                "bench: create figures not measured: {} returned {}",
                what,
                e
            );
            xen::power_off();
        }
    };
    let mut ts = Toolstack::new(events, None);
    ts.in_command = true;
    match one(&mut ts, 0) {
        Ok(t) => {
            kprintln!("BENCH xl_create_built_and_unpaused insns={} n=1", t.built);
            kprintln!("BENCH xl_create_to_first_insn insns={} n=1", t.first);
            kprintln!("BENCH xl_create_to_ready insns={} n=1", t.ready);
        }
        Err(e) => kprintln!("bench: xl create not measured: {}", e),
    }
    let mut serial = 1;
    for count in ROUNDS {
        let (mut first, mut ready) = (0u64, 0u64);
        let mut failed = None;
        for _ in 0..count {
            match one(&mut ts, serial) {
                Ok(t) => {
                    first += t.first;
                    ready += t.ready;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            serial += 1;
        }
        match failed {
            None => {
                let n = u64::from(count);
                kprintln!(
                    "BENCH xl_create_to_first_insn_x{} insns={} n={}",
                    count,
                    first / n,
                    count
                );
                kprintln!(
                    "BENCH xl_create_to_ready_x{} insns={} n={}",
                    count,
                    ready / n,
                    count
                );
            }
            Some(e) => kprintln!("bench: {} creates in a row not measured: {}", count, e),
        }
    }
    match hypervisor_kib(&mut ts) {
        Ok((kib, _)) => kprintln!(
            "bench: hypervisor memory per domain: {} KiB of frames beyond its own pages",
            kib
        ),
        Err(e) => kprintln!("bench: hypervisor memory per domain not measured: {}", e),
    }
    xen::power_off()
}
