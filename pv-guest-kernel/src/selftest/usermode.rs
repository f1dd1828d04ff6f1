//! Check group 10: guest user mode entered with iret and left with `syscall`.
// Also stack_switch, callback registration and the per-mode GS bases it relies on.

use hypercall_abi::segment::{FLAT_USER_CS64, FLAT_USER_SS64};

use super::context::Context;
use super::report::{Detail, Outcome, Report, Ret, expect_eq, expect_ret, fail};
use crate::arch::x86_64::user::{self, SyscallRecord};
use crate::faults;

/// RFLAGS.IF.
const RFLAGS_IF: u64 = 1 << 9;
/// Bytes of the syscall bounce frame: RCX, R11, RIP, CS, RFLAGS, RSP, SS.
const SYSCALL_FRAME_BYTES: u64 = 7 * 8;

/// Runs the user-mode checks.
pub fn run(ctx: &Context, report: &mut Report) {
    report.check(
        "user.stack_switch",
        expect_ret("stack_switch", user::stack_switch(), 0),
    );
    report.check("user.callbacks", callbacks());
    report.check("user.gs_bases", gs_bases());
    let record = enter(ctx);
    let outcome = |check: fn(&SyscallRecord) -> Outcome| match &record {
        Ok(r) => check(r),
        Err(d) => Err(Detail::new(format_args!("{}", d))),
    };
    report.check("user.syscall_frame", outcome(frame));
    report.check("user.gs_user", outcome(gs_user));
    report.check("user.gs_kernel", outcome(gs_kernel));
    report.check("user.registers", outcome(registers));
}

fn callbacks() -> Outcome {
    let names = ["event", "failsafe", "syscall"];
    for (name, ret) in names.iter().zip(user::register_callbacks()) {
        if ret != 0 {
            fail!("register {} callback returned {}", name, Ret(ret));
        }
    }
    Ok(())
}

fn gs_bases() -> Outcome {
    let (user_ret, kernel_ret) = user::set_gs_bases();
    expect_ret("set_segment_base(gs user)", user_ret, 0)?;
    expect_ret("set_segment_base(gs kernel)", kernel_ret, 0)
}

fn enter(ctx: &Context) -> Result<SyscallRecord, Detail> {
    if !ctx.user_baseptr_set {
        return Err(Detail::new(format_args!(
            "not run: new_user_baseptr failed"
        )));
    }
    faults::clear();
    match user::run() {
        Some(record) => Ok(record),
        None => {
            let what = faults::take_last().map(|e| (e.frame.vector, e.frame.error, e.frame.rip));
            Err(Detail::new(format_args!(
                "no syscall callback; user mode ended by exception (vector, error, rip) {:x?}",
                what
            )))
        }
    }
}

fn frame(r: &SyscallRecord) -> Outcome {
    let [rcx, r11, rip, cs, rflags, rsp, ss] = r.frame;
    let user_rflags = r.regs[11];
    expect_eq("frame rcx", rcx, user::syscall_return_address())?;
    expect_eq("frame r11", r11, user_rflags)?;
    expect_eq("frame rip", rip, user::syscall_return_address())?;
    expect_eq("frame cs selector", cs & 0xffff, u64::from(FLAT_USER_CS64))?;
    expect_eq("frame cs RPL", cs & 3, 3)?;
    expect_eq(
        "frame rflags (IF = !upcall mask)",
        rflags,
        user_rflags & !RFLAGS_IF,
    )?;
    expect_eq("frame rsp", rsp, user::user_stack_top())?;
    expect_eq("frame ss selector", ss & 0xffff, u64::from(FLAT_USER_SS64))?;
    let stack = user::kernel_stack_top() & !15;
    expect_eq("entry rsp", r.entry_rsp, stack - SYSCALL_FRAME_BYTES)
}

fn gs_user(r: &SyscallRecord) -> Outcome {
    expect_eq("%gs:0 in user mode", r.regs[0], user::USER_GS_VALUE)
}

fn gs_kernel(r: &SyscallRecord) -> Outcome {
    expect_eq("%gs:0 in the callback", r.kernel_gs0, user::KERNEL_GS_VALUE)
}

fn registers(r: &SyscallRecord) -> Outcome {
    let expected = [
        (1, user::MARK_RBX),
        (3, user::MARK_RDX),
        (4, user::MARK_RSI),
        (5, user::MARK_RDI),
        (6, user::MARK_RBP),
        (7, user::MARK_R8),
        (8, user::MARK_R9),
        (9, user::MARK_R10),
        (12, user::MARK_R13),
        (13, user::MARK_R14),
        (14, user::MARK_R15),
    ];
    for (slot, want) in expected {
        let name = user::REG_NAMES[slot];
        expect_eq(name, r.regs[slot], want)?;
    }
    // rcx and r11 are not checked as registers: `syscall` clobbers them and the callback
    // gets their user values in the frame (checked in user.syscall_frame); what the
    // registers hold on entry to the callback is not part of the ABI.
    Ok(())
}
