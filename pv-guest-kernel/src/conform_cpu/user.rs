//! conform=user: guest user mode on its own page table, syscall bounces, user faults, Xen 4.17's answers.
// The user L4 maps only slot 511 (this kernel's image, with the user programs and stacks),
// shared with the kernel's L4. The kernel's L4 also gets slot 510, a kernel-only page: user
// mode must fault on it. Every entry to the kernel (syscall callback or exception) is logged
// by `capture` with its frame; the checks compare the log with what Xen 4.17 delivered.

use hypercall_abi::Errno;
use hypercall_abi::callback::{CALLBACKF_MASK_EVENTS, CallbackType};
use hypercall_abi::traps::{
    PFEC_PRESENT, PFEC_USER, PFEC_WRITE, TRAP_GP_FAULT, TRAP_INT3, TRAP_INVALID_OP, TRAP_PAGE_FAULT,
};

use super::expect::{Brief, RFLAGS_IF, USER_SS, Want, frame_at_stack_top, matches, only};
use super::setup::SOFT_INT80;
use crate::arch::x86_64::conform::capture::{
    self, Outcome as Resumed, SYSCALL_SLOT, Trap, UserAction,
};
use crate::arch::x86_64::conform::pages::{self, KERNEL_ONLY_VA, Page};
use crate::arch::x86_64::conform::user_run::{self, Label, Program};
use crate::arch::x86_64::conform::{hypercalls, insn, shared};
use crate::arch::x86_64::memory;
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, expect_eq, expect_errno, expect_ret, fail};

/// The slot every user L4 shares with the kernel's: the image.
const IMAGE_SLOT: usize = 511;
/// What the kernel-only page holds.
const KERNEL_ONLY_WORD: u64 = 0x4B45_524E_454C_0001;
/// P|RW|A|D: the kernel-only page's L1 entry (no U: Xen marks it a guest-kernel page).
const L1_KERNEL_ONLY: u64 = pages::PTE_RW & !4;

/// RFLAGS.DF, and the same bit of an address.
const DF_BIT: u64 = 1 << 10;
/// Bytes of the syscall bounce frame: RCX, R11, RIP, CS, RFLAGS, RSP, SS.
const SYSCALL_FRAME_BYTES: u64 = 7 * 8;

/// User-mode RFLAGS: events masked (IF clear).
const USER_RFLAGS_MASKED: u64 = 0x2;
/// User-mode RFLAGS: events unmasked.
const USER_RFLAGS_UNMASKED: u64 = 0x202;

/// new_user_baseptr with an ordinary writable page: -EINVAL (observed on Xen 4.17).
const USER_BASEPTR_WRITABLE_ERRNO: Errno = Errno::Inval;
/// callback_op unregister of the syscall callback: -EINVAL, only the NMI callback can be
/// unregistered (observed on Xen 4.17).
const UNREGISTER_SYSCALL_ERRNO: Errno = Errno::Inval;
/// A `syscall` from user mode with no syscall callback: #UD, reported at the `syscall`
/// (observed on Xen 4.17).
const NO_CALLBACK_VECTOR: u8 = TRAP_INVALID_OP;
/// Of DF, NT, AC set in user mode before `syscall`, what the callback runs with: none (Xen
/// clears all three; observed on Xen 4.17). The frame's RFLAGS keep them.
const CALLBACK_KEPT_FLAGS: u64 = 0;
/// #PF error code of a user read of a page only the kernel's L4 maps: user, not present
/// (observed on Xen 4.17).
const USER_PF_KERNEL_ONLY: u64 = PFEC_USER;
/// #PF error code of a user write to a read-only page: user, write, present (observed on Xen
/// 4.17).
const USER_PF_READ_ONLY: u64 = PFEC_USER | PFEC_WRITE | PFEC_PRESENT;

/// Runs the user-mode checks.
pub fn run(ctx: &Context, report: &mut Report) {
    report.check("user.kernel_only_mapping", kernel_only_mapping(ctx));
    report.check("user.new_user_baseptr_writable", baseptr_writable());
    let baseptr = user_baseptr();
    let ready = baseptr.is_ok();
    report.check("user.new_user_baseptr", baseptr);
    if !ready {
        report.check(
            "user.rest",
            Err(Detail::new(format_args!("not run: no user page table"))),
        );
        return;
    }
    report.check("user.syscall_without_callback", no_callback());
    report.check(
        "user.unregister_syscall",
        expect_errno(
            "callback_op unregister(syscall)",
            hypercalls::unregister_callback(CallbackType::Syscall),
            UNREGISTER_SYSCALL_ERRNO,
        ),
    );
    report.check(
        "user.register_syscall",
        expect_ret("register syscall", user_run::register_syscall(0), 0),
    );
    report.check("user.syscall_callback_zero", callback_zero());
    report.check("user.syscall_frame", syscall_frame());
    report.check("user.syscall_rflags", syscall_rflags());
    report.check("user.syscall_mask_events", syscall_events(true));
    report.check("user.syscall_no_mask_events", syscall_events(false));
    report.check("user.faults_and_return", faults_and_return());
    report.check("user.privileged", privileged());
    report.check("user.kernel_after", kernel_after(ctx));
}

/// Builds the kernel-only mapping (slot 510 of the kernel's L4: an L3, L2, L1 and data page
/// from the pool) and checks the kernel reads it.
fn kernel_only_mapping(ctx: &Context) -> Outcome {
    let Some(l4) = ctx.l4_mfn() else {
        fail!("pt_base has no P2M entry");
    };
    let mfn = |p: Page| p.mfn().unwrap_or(0);
    if !Page::KoData.write(0, KERNEL_ONLY_WORD) {
        fail!("cannot write the kernel-only page");
    }
    let entries = [
        (Page::KoL1, (mfn(Page::KoData) << 12) | L1_KERNEL_ONLY),
        (Page::KoL2, (mfn(Page::KoL1) << 12) | pages::PTE_RW),
        (Page::KoL3, (mfn(Page::KoL2) << 12) | pages::PTE_RW),
    ];
    for (page, entry) in entries {
        if !page.write(0, entry) {
            fail!("cannot fill {:?}", page);
        }
        expect_ret("remap page table read-only", page.remap(pages::PTE_RO), 0)?;
    }
    let (ret, done) = pages::install_kernel_only(l4);
    expect_ret("mmu_update(L4[510])", ret, 0)?;
    expect_eq("mmu_update done", u64::from(done), 1)?;
    let word = super::expect::completed(&pages::read_kernel_only())?;
    expect_eq(
        "kernel read of the kernel-only page",
        word,
        KERNEL_ONLY_WORD,
    )
}

fn baseptr_writable() -> Outcome {
    let Some(mfn) = Page::Writable.mfn() else {
        fail!("no frame for the writable page");
    };
    let (ret, done) = pages::new_user_baseptr(mfn);
    expect_errno(
        "new_user_baseptr(writable page)",
        ret,
        USER_BASEPTR_WRITABLE_ERRNO,
    )?;
    expect_eq("pdone", u64::from(done), 0)
}

/// The user L4: slot 511 shared with the kernel's L4, nothing else.
fn user_baseptr() -> Outcome {
    let Some(image) = memory::initial_l4_entry(IMAGE_SLOT) else {
        fail!("cannot read the initial L4");
    };
    if !Page::UserL4.write(IMAGE_SLOT, image) {
        fail!("cannot fill the user L4");
    }
    expect_ret(
        "remap user L4 read-only",
        Page::UserL4.remap(pages::PTE_RO),
        0,
    )?;
    let Some(mfn) = Page::UserL4.mfn() else {
        fail!("no frame for the user L4");
    };
    let (ret, done) = pages::new_user_baseptr(mfn);
    expect_ret("new_user_baseptr", ret, 0)?;
    expect_eq("pdone", u64::from(done), 1)
}

/// For other guests that need user mode: the user L4 and the syscall callback (flags 0).
pub fn setup_user_mode() -> Outcome {
    user_baseptr()?;
    expect_ret("register syscall", user_run::register_syscall(0), 0)
}

/// Runs `program` and returns the log.
fn run_program(program: Program, rflags: u64) -> heapless::Vec<Trap, 16> {
    capture::clear();
    user_run::run(program, rflags);
    capture::take()
}

fn no_callback() -> Outcome {
    user_run::set_arg(0, 0);
    let log = run_program(Program::Syscall, USER_RFLAGS_MASKED);
    let t = only(&log)?;
    matches(
        &t,
        &Want::user(NO_CALLBACK_VECTOR, None, Label::SyscallInsn.address()),
    )?;
    frame_at_stack_top(&t, user_run::kernel_stack_top())
}

/// A syscall callback registered at address 0 is no callback: #UD again; then the real one
/// goes back in.
fn callback_zero() -> Outcome {
    expect_ret("register syscall(0)", user_run::register_syscall_none(), 0)?;
    let outcome = no_callback();
    expect_ret("register syscall", user_run::register_syscall(0), 0)?;
    outcome
}

/// The one syscall entry of a Syscall-program run.
fn syscall_entry(log: &[Trap]) -> Result<Trap, Detail> {
    let t = only(log)?;
    if t.vector != SYSCALL_SLOT {
        return Err(Detail::new(format_args!("not a syscall: {}", Brief(&t))));
    }
    Ok(t)
}

fn syscall_frame() -> Outcome {
    user_run::set_arg(0, 0);
    let log = run_program(Program::Syscall, USER_RFLAGS_MASKED);
    let t = syscall_entry(&log)?;
    let after = Label::SyscallAfter.address();
    let user_rflags = t.regs.r12;
    expect_eq("frame rcx", t.rcx, after)?;
    expect_eq("frame r11", t.r11, user_rflags)?;
    matches(
        &t,
        &Want {
            vector: SYSCALL_SLOT,
            ..Want::user(0, None, after)
        },
    )?;
    expect_eq("frame rflags", t.rflags, user_rflags & !RFLAGS_IF)?;
    expect_eq("frame rsp", t.rsp, user_run::user_stack_top())?;
    frame_at_stack_top(&t, user_run::kernel_stack_top())?;
    expect_eq(
        "upcall mask at entry",
        u64::from(t.upcall_mask.unwrap_or(0xff)),
        1,
    )?;
    expect_eq("rax", t.regs.rax, user_run::SYS_EXIT)?;
    let r = &t.regs;
    let got = [r.rbx, r.rdx, r.rsi, r.rbp, r.r8, r.r9, r.r10, r.r13, r.r14];
    for (i, (g, w)) in got.iter().zip(user_run::MARKS).enumerate() {
        if *g != w {
            fail!("marker register #{} is {:#x}, expected {:#x}", i, g, w);
        }
    }
    Ok(())
}

/// DF, NT and AC set by user mode: the frame's RFLAGS (and R11) keep them, the callback runs
/// without them.
///
/// Xen 4.17.7 clears DF for the callback by ANDing the saved RFLAGS with a register that its
/// bounce-frame code has meanwhile overwritten with the frame's address, so DF survives when
/// bit 10 of that address is set (observed on Xen 4.17; the ABI's intent, a fixed syscall
/// flag mask clearing DF, is what xen-core does). The check therefore moves the stack_switch
/// stack so that bit 10 of the frame address is clear, where both agree.
fn syscall_rflags() -> Outcome {
    let frame = user_run::kernel_stack_top() - SYSCALL_FRAME_BYTES;
    let lowered = if frame & DF_BIT != 0 { DF_BIT } else { 0 };
    expect_ret("stack_switch", user_run::stack_switch_lowered(lowered), 0)?;
    user_run::set_arg(0, user_run::SETTABLE_FLAGS);
    let log = run_program(Program::Syscall, USER_RFLAGS_MASKED);
    user_run::set_arg(0, 0);
    expect_ret("stack_switch", user_run::stack_switch(), 0)?;
    let t = syscall_entry(&log)?;
    expect_eq("frame address bit 10", t.entry_rsp & DF_BIT, 0)?;
    let set = user_run::SETTABLE_FLAGS;
    expect_eq("user rflags before syscall", t.regs.r12 & set, set)?;
    expect_eq("frame r11", t.r11 & set, set)?;
    expect_eq("frame rflags", t.rflags & set, set)?;
    expect_eq("callback rflags", t.entry_rflags & set, CALLBACK_KEPT_FLAGS)?;
    expect_eq("callback rflags.IF", t.entry_rflags & RFLAGS_IF, RFLAGS_IF)
}

/// With events unmasked in user mode, the syscall callback registered with (or without)
/// CALLBACKF_mask_events is entered with the upcall mask set (or still clear).
fn syscall_events(mask_flag: bool) -> Outcome {
    let flags = if mask_flag { CALLBACKF_MASK_EVENTS } else { 0 };
    expect_ret("register syscall", user_run::register_syscall(flags), 0)?;
    if shared::upcall_pending() != Some(0) {
        fail!("an event is pending: cannot unmask");
    }
    user_run::set_arg(0, 0);
    let log = run_program(Program::Syscall, USER_RFLAGS_UNMASKED);
    shared::set_upcall_mask(1);
    expect_ret("register syscall", user_run::register_syscall(0), 0)?;
    let t = syscall_entry(&log)?;
    expect_eq(
        "frame cs",
        t.cs,
        u64::from(hypercall_abi::segment::FLAT_USER_CS64),
    )?;
    expect_eq("frame rflags.IF", t.rflags & RFLAGS_IF, RFLAGS_IF)?;
    expect_eq(
        "upcall mask at entry",
        u64::from(t.upcall_mask.unwrap_or(0xff)),
        u64::from(mask_flag),
    )
}

/// SYS_RESUME returns to user mode; a kernel-only read, a read-only write and ud2 in user
/// mode each reach the kernel on the stack_switch stack and return to user mode; SYS_EXIT.
fn faults_and_return() -> Outcome {
    expect_ret("remap read-only", Page::ReadOnly.remap(pages::PTE_RO), 0)?;
    user_run::set_arg(1, KERNEL_ONLY_VA);
    user_run::set_arg(2, Page::ReadOnly.va());
    capture::set_user_action(UserAction::Fixup);
    let log = run_program(Program::Faults, USER_RFLAGS_MASKED);
    capture::set_user_action(UserAction::Abort);
    expect_ret("remap writable", Page::ReadOnly.remap(pages::PTE_RW), 0)?;
    let [sys1, read, write, ud, sys2] = log.as_slice() else {
        match log.first() {
            Some(t) => fail!("{} entries, first {}", log.len(), Brief(t)),
            None => fail!("nothing logged"),
        }
    };
    let stack = user_run::kernel_stack_top();
    if sys1.vector != SYSCALL_SLOT || sys1.outcome != Resumed::SyscallReturn {
        fail!("first entry: {} ({:?})", Brief(sys1), sys1.outcome);
    }
    expect_eq(
        "first syscall rip",
        sys1.rip,
        Label::FaultsSys1.address() + 2,
    )?;
    frame_at_stack_top(sys1, stack)?;
    let pf_read = Want::user(
        TRAP_PAGE_FAULT,
        Some(USER_PF_KERNEL_ONLY),
        Label::FaultsRead.address(),
    );
    matches(read, &pf_read)?;
    expect_eq("read cr2", read.cr2.unwrap_or(0), KERNEL_ONLY_VA)?;
    frame_at_stack_top(read, stack)?;
    let pf_write = Want::user(
        TRAP_PAGE_FAULT,
        Some(USER_PF_READ_ONLY),
        Label::FaultsWrite.address(),
    );
    matches(write, &pf_write)?;
    expect_eq("write cr2", write.cr2.unwrap_or(0), Page::ReadOnly.va())?;
    expect_eq("write frame rsp", write.rsp, user_run::user_stack_top())?;
    matches(
        ud,
        &Want::user(TRAP_INVALID_OP, None, Label::FaultsUd2.address()),
    )?;
    frame_at_stack_top(ud, stack)?;
    if sys2.vector != SYSCALL_SLOT {
        fail!("last entry: {}", Brief(sys2));
    }
    expect_eq(
        "rax after SYS_RESUME (r12)",
        sys2.regs.r12,
        user_run::RESUME_RAX,
    )?;
    expect_eq(
        "last syscall rip",
        sys2.rip,
        Label::FaultsSys2.address() + 2,
    )?;
    expect_eq("last syscall ss", sys2.ss, USER_SS)
}

/// What the Privileged program's instructions give in user mode, in order (observed on Xen
/// 4.17): CR3 read #GP(0), cli #GP(0), `in` #GP(0), rdmsr #GP(0), forced-emulation CPUID
/// emulated (nothing logged), int3 delivered, int $0x80 delivered.
fn expected_privileged() -> [Want; 6] {
    [
        Want::user(TRAP_GP_FAULT, Some(0), Label::PrivCr3.address()),
        Want::user(TRAP_GP_FAULT, Some(0), Label::PrivCli.address()),
        Want::user(TRAP_GP_FAULT, Some(0), Label::PrivIn.address()),
        Want::user(TRAP_GP_FAULT, Some(0), Label::PrivRdmsr.address()),
        Want::user(TRAP_INT3, None, Label::PrivInt3.address() + 1),
        Want::user(SOFT_INT80, None, Label::PrivInt80.address() + 2),
    ]
}

fn privileged() -> Outcome {
    capture::set_user_action(UserAction::Fixup);
    let log = run_program(Program::Privileged, USER_RFLAGS_MASKED);
    capture::set_user_action(UserAction::Abort);
    let want = expected_privileged();
    let Some((last, traps)) = log.split_last() else {
        fail!("nothing logged");
    };
    if traps.len() != want.len() {
        let summary = traps.first().map(|t| (t.vector, t.rip));
        fail!(
            "{} entries before the exit, expected {} (first {:x?})",
            traps.len(),
            want.len(),
            summary
        );
    }
    for (t, w) in traps.iter().zip(&want) {
        matches(t, w)?;
    }
    if last.vector != SYSCALL_SLOT {
        fail!("last entry: {}", Brief(last));
    }
    let _ = Label::PrivCpuid;
    Ok(())
}

/// Back in kernel mode: the kernel's L4 is current and the kernel-only page readable.
fn kernel_after(ctx: &Context) -> Outcome {
    let cr3 = super::expect::completed(&insn::read_cr3())?;
    expect_eq("cr3", cr3, ctx.l4_mfn().unwrap_or(0) << 12)?;
    let word = super::expect::completed(&pages::read_kernel_only())?;
    expect_eq("kernel-only page", word, KERNEL_ONLY_WORD)
}
