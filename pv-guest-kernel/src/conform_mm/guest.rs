//! What every memory conformance and isolation guest does around its checks.

use hypercall_abi::start_info::StartInfo;

use crate::arch::x86_64::calls::Declined;
use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::arch::x86_64::{traps as arch_traps, xen};
use crate::console::kprintln;
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Report, Ret};

/// Installs the trap table (so that a faulting access becomes a failed check), runs `body`,
/// prints the verdict and powers off.
pub fn run(
    name: &str,
    start_info: &'static StartInfo,
    p2m: &'static [u64],
    body: impl FnOnce(&mut Context, &mut Report),
) -> ! {
    let mut ctx = Context::new(start_info, p2m);
    let mut report = Report::default();
    let installed = arch_traps::install();
    ctx.traps = installed.ok();
    report.check(
        "set_trap_table",
        installed
            .map(|_| ())
            .map_err(|ret| Detail::new(format_args!("returned {}", Ret(ret)))),
    );
    kprintln!(
        "{}: {} pages mapped initially, {} in the P2M",
        name,
        frames::initial_pages(),
        p2m.len()
    );
    if ctx.traps.is_some() {
        body(&mut ctx, &mut report);
    }
    report.finish();
    xen::power_off()
}

/// A failure detail for a call the arch layer declined to make.
pub fn declined(d: Declined) -> Detail {
    Detail::new(format_args!("declined by the kernel: {}", d.0))
}

/// `N` free frames (outside the initial mapping).
pub fn take_frames<const N: usize>() -> Result<[FreeFrame; N], Detail> {
    let mut out = [FreeFrame { pfn: 0, mfn: 0 }; N];
    for f in out.iter_mut() {
        match frames::take_free() {
            Some(frame) => *f = frame,
            None => return Err(Detail::new(format_args!("out of free frames"))),
        }
    }
    Ok(out)
}
