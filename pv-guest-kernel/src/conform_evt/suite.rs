//! conform=events: the order of the event channel checks, run as Dom0 alone.

use hypercall_abi::mmu::{PteFlags, UVMF_INVLPG, UVMF_LOCAL};
use hypercall_abi::start_info::StartInfo;

use super::{delivery, ports};
use crate::conform_mm::guest;
use crate::selftest::context::Context;
use crate::selftest::report::Report;

/// P|RW|A|D|U for the shared_info mapping.
pub const SHARED_INFO_PTE: u64 = PteFlags::PRESENT
    .union(PteFlags::RW)
    .union(PteFlags::ACCESSED)
    .union(PteFlags::DIRTY)
    .union(PteFlags::USER)
    .bits();
/// Flush just this address on this vCPU.
pub const UVMF: u64 = UVMF_INVLPG | UVMF_LOCAL;

/// Runs the event channel checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=events", start_info, p2m, checks)
}

fn checks(ctx: &mut Context, report: &mut Report) {
    let bits = match delivery::setup(ctx.start_info.shared_info) {
        Ok(bits) => bits,
        Err(detail) => {
            report.check("events.setup", Err(detail));
            return;
        }
    };
    report.check("events.setup", Ok(()));
    let lb = match delivery::loopback(&bits) {
        Ok(lb) => lb,
        Err(detail) => {
            report.check("events.loopback_bind", Err(detail));
            return;
        }
    };
    report.check("events.loopback_bind", Ok(()));
    report.check("events.loopback_send", delivery::send(&bits, lb));
    report.check("events.masked_port", delivery::masked_port(&bits, lb));
    report.check("events.upcall_mask", delivery::upcall_masked(&bits, lb));
    report.check("events.iret_unmask", delivery::iret_unmask(&bits, lb));
    report.check("events.ipi_send", delivery::ipi(&bits));
    report.check("events.status", ports::status(lb));
    report.check("events.virq", ports::virq(&bits));
    report.check("events.ipi_status", ports::ipi_status());
    report.check("events.bind_vcpu", ports::bind_vcpu(lb));
    report.check("events.bind_errors", ports::bind_errors(lb));
    report.check("events.bind_pirq", ports::bind_pirq());
    report.check("events.bad_ports", ports::bad_ports());
    report.check("events.fifo", ports::fifo(lb));
    report.check("events.close", ports::close(lb));
    report.check("events.exhaust", ports::exhaust());
    report.check("events.reset", ports::reset(lb));
    bits.quiesce();
}
