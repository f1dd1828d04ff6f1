//! conform=pirq: the order of the PIRQ checks, run as Dom0 with a disk on the primary IDE channel.

use hypercall_abi::start_info::StartInfo;

use super::{disk, mapping};
use crate::arch::x86_64::{pirq_calls, shared_events};
use crate::conform_evt::calls::failed;
use crate::conform_mm::guest;
use crate::console::until_nul;
use crate::selftest::context::Context;
use crate::selftest::report::Report;

/// The disk's size in sectors when the command line does not say (`pirq.sectors=N`): the
/// integration test's 4 MiB image.
const DEFAULT_SECTORS: u32 = 8192;

/// Runs the PIRQ checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=pirq", start_info, p2m, checks)
}

/// The `pirq.sectors=N` word of the command line, if any.
fn sectors_wanted(cmdline: &[u8]) -> u32 {
    cmdline
        .split(|b| b.is_ascii_whitespace())
        .find_map(|w| w.strip_prefix(b"pirq.sectors="))
        .and_then(|v| core::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SECTORS)
}

fn checks(ctx: &mut Context, report: &mut Report) {
    let sectors = sectors_wanted(until_nul(&ctx.start_info.cmd_line));
    let setup = match (shared_events::map(), pirq_calls::set_iopl(1)) {
        (0, 0) => Ok(()),
        (0, ret) => Err(failed("set_iopl(1)", ret)),
        (ret, _) => Err(failed("map shared_info", ret)),
    };
    let ready = setup.is_ok();
    report.check("pirq.setup", setup);
    if !ready {
        return;
    }
    report.check("pirq.bad_type", mapping::bad_type());
    report.check("pirq.bad_gsi", mapping::bad_gsi());
    report.check("pirq.bad_pirq", mapping::bad_pirq());
    report.check("pirq.no_domain", mapping::no_domain());
    report.check("pirq.unmapped", mapping::unmapped());
    report.check("pirq.kept_gsis", mapping::kept_gsis());
    report.check("pirq.map_any", mapping::map_any());
    report.check("pirq.map_fixed", mapping::map_fixed());
    report.check("pirq.status_query", mapping::status_query());
    let port = match mapping::bind() {
        Ok(port) => port,
        Err(detail) => {
            report.check("pirq.bind", Err(detail));
            return;
        }
    };
    report.check("pirq.bind", Ok(()));
    report.check("pirq.identify", disk::identify(port, sectors));
    report.check("pirq.eoi", disk::eoi());
    report.check("pirq.second_event", disk::second_event(port));
    report.check("pirq.close", mapping::close(port));
    report.check("pirq.unmap", mapping::unmap());
    report.check("pirq.unmap_bound", mapping::unmap_bound());
}
