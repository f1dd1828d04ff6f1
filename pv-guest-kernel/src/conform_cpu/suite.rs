//! Runs one CPU conformance guest: banner, setup, the area's checks, the verdict, power off.

use hypercall_abi::start_info::StartInfo;

use super::area::Area;
use super::{desc, fpu, privileged, setup, softint, traps, user};
use crate::arch::x86_64::xen;
use crate::console::kprintln;
use crate::selftest::context::Context;
use crate::selftest::report::Report;

/// Runs the checks of `area` and powers off.
pub fn run(area: Area, start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    kprintln!(
        "pv-guest-kernel: CPU conformance guest conform={}",
        area.name()
    );
    let ctx = Context::new(start_info, p2m);
    let mut report = Report::default();
    setup::run(start_info, &mut report);
    match area {
        Area::Traps => traps::run(&mut report),
        Area::Softint => softint::run(&mut report),
        Area::User => user::run(&ctx, &mut report),
        Area::Fpu => fpu::run(&mut report),
        Area::Desc => desc::run(&mut report),
        Area::Priv => privileged::run(&ctx, &mut report),
    }
    report.finish();
    xen::power_off()
}
