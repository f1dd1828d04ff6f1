//! The kernel proper after the entry code: banner, then the mode the command line asks for.

use hypercall_abi::start_info::{SIF_INITDOMAIN, StartInfo};
use hypercall_abi::version::XenVersionCmd;

use crate::arch::x86_64::{console_front, xen};
use crate::console::{Escaped, kprintln, until_nul};
use crate::mode::Mode;
use crate::{bench, faults, selftest};

/// Called once by the entry code with the validated start_info and P2M list.
pub fn kernel_main(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    // A DomU writes its console to the ring the toolstack gave it (console_io is Dom0's).
    console_front::init(start_info);
    let version = xen::xen_version_plain(XenVersionCmd::Version as u64);
    let (_, extra) = xen::xen_version_extraversion();
    let role = if start_info.flags & SIF_INITDOMAIN != 0 {
        "Dom0"
    } else {
        "DomU"
    };
    let cmdline = until_nul(&start_info.cmd_line);
    kprintln!(
        "pv-guest-kernel: booting as {} on Xen {}.{}{}, {} pages, cmdline '{}'",
        role,
        (version >> 16) & 0xffff,
        version & 0xffff,
        Escaped(until_nul(&extra)),
        start_info.nr_pages,
        Escaped(cmdline)
    );
    // Measure the initial mapping while it is intact: later remaps of our own pages (shared_info,
    // foreign windows) would cut the walk short and hide the ramdisk.
    let _ = crate::arch::x86_64::frames::initial_pages();
    match Mode::from_cmdline(cmdline) {
        Mode::Selftest => selftest::suite::run(start_info, p2m),
        Mode::FaultNoHandler => faults::no_handler(),
        Mode::FaultHvWrite => faults::hypervisor_write(),
        Mode::Bench => bench::run(),
        Mode::ConformMmu => crate::conform_mm::mmu::run(start_info, p2m),
        Mode::ConformMemory => crate::conform_mm::memory::run(start_info, p2m),
        Mode::ConformMulticall => crate::conform_mm::multicall::run(start_info, p2m),
        Mode::ConformControl => crate::conform_ctl::control::run(start_info, p2m),
        Mode::ConformEvents => crate::conform_evt::suite::run(start_info, p2m),
        Mode::ConformTime => crate::conform_time::checks::run(start_info, p2m),
        Mode::ConformGrants => crate::conform_gnt::grants::run(start_info, p2m),
        Mode::ConformPirq => crate::conform_pirq::suite::run(start_info, p2m),
        Mode::ConformCpu(area) => crate::conform_cpu::suite::run(area, start_info, p2m),
        Mode::Isolate(check) => crate::isolate::check::run(check, start_info, p2m),
        Mode::Domains(scenario) => crate::dom0::scenario::run(scenario, start_info, p2m),
        Mode::DomuHello => crate::domu::hello::run(),
        Mode::DomuTicker => crate::domu::ticker::run(),
        Mode::DomuBench => crate::domu::bench_partner::run(),
        Mode::DomuSpin => crate::domu::spin::run(),
        Mode::DomuPong => crate::domu::pong::run(),
        Mode::Xl => crate::dom0::xl::run::run(start_info),
        Mode::BenchCreate => crate::dom0::xl::bench_create::run(),
        Mode::ConsoleEcho => crate::dom0::echo::run(start_info, p2m),
        Mode::DomuShell => crate::domu::shell::session::run(),
        Mode::NetLoopback => crate::domu::net::loopback::run(),
        Mode::DiskSelftest => crate::dom0::disk::selftest::run(start_info, p2m),
    }
}
