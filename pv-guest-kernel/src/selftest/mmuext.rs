//! Check group 9: mmuext_op base pointers, an unknown command, and a data page as a base.

use hypercall_abi::Errno;

use super::context::Context;
use super::report::{Outcome, Report, expect_eq, expect_errno, expect_ret, fail};
use crate::arch::x86_64::cpu;
use crate::arch::x86_64::xen;

/// An mmuext command nobody defines (between SET_LDT 13 and NEW_USER_BASEPTR 15).
const UNKNOWN_CMD: u32 = 14;
/// new_baseptr with an ordinary writable data page: -EINVAL (observed on Xen 4.17).
const DATA_PAGE_ERRNO: Errno = Errno::Inval;

/// Runs the mmuext_op checks; records whether user mode got the kernel's L4.
pub fn run(ctx: &mut Context, report: &mut Report) {
    report.check("mmuext_op.new_baseptr_current", new_baseptr_current(ctx));
    let user = new_user_baseptr(ctx);
    ctx.user_baseptr_set = user.is_ok();
    report.check("mmuext_op.new_user_baseptr", user);
    report.check("mmuext_op.unknown_command", unknown_command());
    report.check("mmuext_op.new_baseptr_data_page", data_page(ctx));
}

fn l4(ctx: &Context) -> Result<u64, super::report::Detail> {
    match ctx.l4_mfn() {
        Some(l4) => Ok(l4),
        None => Err(super::report::Detail::new(format_args!(
            "pt_base has no P2M entry"
        ))),
    }
}

fn cr3_mfn() -> u64 {
    cpu::read_cr3().map_or(u64::MAX, |cr3| cr3 >> 12)
}

fn new_baseptr_current(ctx: &Context) -> Outcome {
    let l4 = l4(ctx)?;
    let Some(r) = xen::new_baseptr_current(l4) else {
        fail!("current L4 is {:#x}, not pt_base's {:#x}", cr3_mfn(), l4);
    };
    expect_ret("new_baseptr", r.ret, 0)?;
    expect_eq("pdone", u64::from(r.done), 1)?;
    expect_eq("L4 after", cr3_mfn(), l4)
}

fn new_user_baseptr(ctx: &Context) -> Outcome {
    let l4 = l4(ctx)?;
    let Some(r) = xen::new_user_baseptr_current(l4) else {
        fail!("current L4 is {:#x}, not pt_base's {:#x}", cr3_mfn(), l4);
    };
    expect_ret("new_user_baseptr", r.ret, 0)?;
    expect_eq("pdone", u64::from(r.done), 1)
}

fn unknown_command() -> Outcome {
    let Some(r) = xen::mmuext_unknown(UNKNOWN_CMD) else {
        fail!("command {} is defined by the ABI", UNKNOWN_CMD);
    };
    expect_errno("mmuext_op(14)", r.ret, Errno::NoSys)?;
    expect_eq("pdone", u64::from(r.done), 0)
}

fn data_page(ctx: &Context) -> Outcome {
    let l4 = l4(ctx)?;
    let Some(d) = xen::new_baseptr_decoy() else {
        fail!("cannot determine the decoy or current L4 frame");
    };
    if let Some(restore) = d.restore {
        fail!(
            "new_baseptr({:#x}) switched the L4 (result {}, pdone {}); switching back returned {}",
            d.decoy_mfn,
            d.attempt.ret,
            d.attempt.done,
            restore.ret
        );
    }
    expect_errno("new_baseptr(data page)", d.attempt.ret, DATA_PAGE_ERRNO)?;
    expect_eq("pdone", u64::from(d.attempt.done), 0)?;
    expect_eq("L4 after", d.l4_after.unwrap_or(u64::MAX), l4)
}
