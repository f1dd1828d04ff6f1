//! conform=traps: every exception a PV kernel can cause, as Xen 4.17 bounces it, and set_trap_table.
// Each check clears the capture log, runs one instruction, and compares what reached the trap
// table with what Xen 4.17 delivered: vector, error code, reported RIP, CS (with the saved
// upcall mask), SS, RFLAGS, where the frame lies, and (for the self-test probes) that every
// register arrived and came back intact, RCX and R11 included (Xen passes them on the frame).

use hypercall_abi::Errno;
use hypercall_abi::traps::{
    PFEC_INSN_FETCH, PFEC_PRESENT, PFEC_WRITE, TI_MASK_EVENTS, TRAP_COPRO_ERROR, TRAP_DEBUG,
    TRAP_DIVIDE_ERROR, TRAP_GP_FAULT, TRAP_INT3, TRAP_INVALID_OP, TRAP_NO_DEVICE, TRAP_OVERFLOW,
    TRAP_PAGE_FAULT,
};

use super::expect::{
    self, At, KERNEL_CS_UNMASKED, RFLAGS_IF, RFLAGS_TF, Want, completed, faulted, matches, simple,
    take_one,
};
use super::setup::{self, SOFT_INT80};
use crate::arch::x86_64::conform::capture::{self, Gate};
use crate::arch::x86_64::conform::insn;
use crate::arch::x86_64::conform::pages::{self, Page};
use crate::arch::x86_64::conform::{fpu, hypercalls, shared};
use crate::arch::x86_64::memory;
use crate::arch::x86_64::probes::{Probe, UNMAPPED_LOW_ADDRESS};
use crate::arch::x86_64::traps::SavedRegs;
use crate::selftest::report::{Outcome, Report, expect_eq, expect_errno, expect_ret, fail};

/// set_trap_table with a table pointer to an unmapped page: -EFAULT (observed on Xen 4.17).
const UNMAPPED_TABLE_ERRNO: Errno = Errno::Fault;
/// DR6 after a single step, as get_debugreg(6) reports it in the #DB handler: BS (bit 14)
/// over the always-one bits (observed on Xen 4.17).
const DR6_SINGLE_STEP: i64 = 0xffff_4ff0;
/// What `int1` (icebp, f1) raises under QEMU 7.2's TCG: #UD, reported at the instruction
/// (observed on Xen 4.17 under QEMU 7.2; real hardware raises #DB).
const ICEBP_VECTOR: u8 = TRAP_INVALID_OP;
/// #PF error code of a write to a read-only page in kernel mode: present, write (observed on
/// Xen 4.17: U clear in kernel mode).
const PF_WRITE_RO_ERROR: u64 = PFEC_PRESENT | PFEC_WRITE;
/// #PF error code of a fetch from an unmapped address (observed on Xen 4.17).
const PF_EXEC_UNMAPPED_ERROR: u64 = PFEC_INSN_FETCH;
/// #PF error code of a fetch from a no-execute page (observed on Xen 4.17).
const PF_EXEC_NX_ERROR: u64 = PFEC_INSN_FETCH | PFEC_PRESENT;
/// Of DF, NT and AC set at the exception, what the handler still has: DF only (Xen clears NT
/// and AC, and TF, when it enters a handler; observed on Xen 4.17).
const HANDLER_KEPT_FLAGS: u64 = 1 << 10;

/// Runs the trap checks.
pub fn run(report: &mut Report) {
    report.check("traps.set_trap_table_unmapped", unmapped_table());
    report.check(
        "traps.de_divide",
        simple(insn::divide_by_zero, TRAP_DIVIDE_ERROR, None, At::Insn),
    );
    report.check("traps.db_single_step", single_step());
    report.check("traps.debug_registers", debug_registers());
    report.check("traps.icebp", icebp());
    report.check(
        "traps.bp_int3_registers",
        probe(Probe::Int3, TRAP_INT3, 0, true),
    );
    report.check(
        "traps.bp_int_3",
        simple(insn::int_3, TRAP_INT3, None, At::Next),
    );
    report.check("traps.bp_int3_dpl0_gate", int3_dpl0_gate());
    report.check(
        "traps.of_int_4",
        simple(insn::int_4, TRAP_OVERFLOW, None, At::Next),
    );
    report.check(
        "traps.ud_ud2_registers",
        probe(Probe::InvalidOp, TRAP_INVALID_OP, 0, false),
    );
    report.check(
        "traps.ud_into",
        simple(insn::into, TRAP_INVALID_OP, None, At::Insn),
    );
    report.check(
        "traps.gp_ltr",
        simple(insn::ltr_null, TRAP_GP_FAULT, Some(0), At::Insn),
    );
    report.check(
        "traps.gp_non_canonical_registers",
        probe(Probe::ReadNonCanonical, TRAP_GP_FAULT, 0, false),
    );
    report.check(
        "traps.pf_read_unmapped_registers",
        probe(Probe::ReadUnmapped, TRAP_PAGE_FAULT, 0, false),
    );
    report.check(
        "traps.pf_write_hypervisor",
        probe(Probe::WriteHypervisor, TRAP_PAGE_FAULT, 3, false),
    );
    report.check("traps.pf_write_read_only", write_read_only());
    report.check("traps.pf_exec_unmapped", exec_unmapped());
    report.check("traps.pf_exec_nx", exec_nx());
    report.check("traps.pf_cr2_register", cr2_register());
    report.check("traps.nm_ts_set", nm());
    report.check(
        "traps.mf_x87",
        simple(fpu::x87_divide_by_zero, TRAP_COPRO_ERROR, None, At::Insn),
    );
    // #XM and #AC cannot be raised under QEMU 7.2's TCG (it implements neither unmasked SSE
    // exceptions nor alignment checking), so there is nothing to compare them on.
    report.check("traps.handler_rflags", handler_rflags());
    report.check("traps.mask_events_flag", mask_events(true));
    report.check("traps.no_mask_events_flag", mask_events(false));
    report.check(
        "traps.int80_dpl3",
        simple(insn::int_0x80, SOFT_INT80, None, At::Next),
    );
    report.check("traps.int80_dpl0_gate", int80_dpl0());
    report.check("traps.replace_entry", replace_entry());
    report.check("traps.clear_table", clear_table());
    // `int n` through any other vector goes through a DPL-0 gate of Xen's IDT, where QEMU 7.2
    // reports a wrong error code to Xen: those checks are in conform=softint (xen-core only).
}

fn unmapped_table() -> Outcome {
    expect_errno(
        "set_trap_table(unmapped)",
        capture::install_unmapped(UNMAPPED_LOW_ADDRESS),
        UNMAPPED_TABLE_ERRNO,
    )
}

/// set/get_debugreg without arming a breakpoint: address registers take guest addresses,
/// DR6/DR7 take 32-bit values with their fixed bits forced, DR4/DR5 alias DR6/DR7, nothing
/// past DR7 (-ENODEV; observed on Xen 4.17).
fn debug_registers() -> Outcome {
    use hypercalls::{get_debugreg, set_debugreg};
    expect_ret("set_debugreg(0, 0x1000)", set_debugreg(0, 0x1000), 0)?;
    expect_ret("get_debugreg(0)", get_debugreg(0), 0x1000)?;
    expect_errno(
        "set_debugreg(1, hypervisor address)",
        set_debugreg(1, 0xffff_8000_0000_0000),
        Errno::Perm,
    )?;
    expect_ret("set_debugreg(0, 0)", set_debugreg(0, 0), 0)?;
    expect_errno(
        "set_debugreg(6, 1 << 32)",
        set_debugreg(6, 1 << 32),
        Errno::Inval,
    )?;
    expect_ret("set_debugreg(6, 0)", set_debugreg(6, 0), 0)?;
    expect_ret("get_debugreg(6)", get_debugreg(6), 0xffff_0ff0)?;
    expect_ret("get_debugreg(4)", get_debugreg(4), 0xffff_0ff0)?;
    expect_errno(
        "set_debugreg(7, 1 << 32)",
        set_debugreg(7, 1 << 32),
        Errno::Inval,
    )?;
    expect_ret("set_debugreg(7, LE|GE)", set_debugreg(7, 0x300), 0)?;
    expect_ret("get_debugreg(5)", get_debugreg(5), 0x700)?;
    expect_ret("set_debugreg(7, 0)", set_debugreg(7, 0), 0)?;
    expect_ret("get_debugreg(7)", get_debugreg(7), 0x400)?;
    expect_errno("set_debugreg(8, 0)", set_debugreg(8, 0), Errno::NoDev)?;
    expect_errno("get_debugreg(8)", get_debugreg(8), Errno::NoDev)
}

fn single_step() -> Outcome {
    capture::clear();
    let ran = insn::single_step();
    faulted(&ran)?;
    let t = take_one()?;
    matches(&t, &Want::kernel(TRAP_DEBUG, None, ran.site.next))?;
    expect_eq("frame rflags.TF", t.rflags & RFLAGS_TF, RFLAGS_TF)?;
    expect_eq("handler rflags.TF", t.entry_rflags & RFLAGS_TF, 0)?;
    expect_eq("dr6", t.dr6.unwrap_or(-1) as u64, DR6_SINGLE_STEP as u64)
}

fn icebp() -> Outcome {
    simple(insn::int1, ICEBP_VECTOR, None, At::Insn)
}

/// The saved registers in the probes' order (rax, rbx, rcx, rdx, rsi, rdi, rbp, r8-r15).
fn in_marker_order(r: &SavedRegs) -> [u64; 15] {
    [
        r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13,
        r.r14, r.r15,
    ]
}

fn compare(when: &str, got: &[u64; 15], want: &[u64; 15]) -> Outcome {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            fail!("{} register #{} is {:#x}, expected {:#x}", when, i, g, w);
        }
    }
    Ok(())
}

/// One of the self-test probes: registers at the handler (RCX and R11 from the frame) and
/// after the iret must be the markers.
fn probe(probe: Probe, vector: u8, error: u64, trap: bool) -> Outcome {
    let Some(token) = capture::probe_token() else {
        fail!("no trap table");
    };
    capture::clear();
    let after = probe.run(token);
    let t = take_one()?;
    let rip = if trap {
        probe.fixup_address()
    } else {
        probe.insn_address()
    };
    let has_ec = vector == TRAP_GP_FAULT || vector == TRAP_PAGE_FAULT;
    matches(&t, &Want::kernel(vector, has_ec.then_some(error), rip))?;
    let expected = probe.expected_registers();
    let mut at_entry = in_marker_order(&t.regs);
    at_entry[2] = t.rcx;
    at_entry[10] = t.r11;
    compare("in the frame/at entry:", &at_entry, &expected)?;
    compare("after the iret:", &after, &expected)?;
    if vector == TRAP_PAGE_FAULT {
        expect_eq("vcpu_info.arch.cr2", t.cr2.unwrap_or(0), probe.operand())?;
    }
    expect::frame_below_interrupted_rsp(&t)
}

fn int3_dpl0_gate() -> Outcome {
    let gate = |flags| Gate {
        vector: TRAP_INT3,
        flags,
    };
    expect_ret("set_trap_table(#BP dpl 0)", capture::install(&[gate(0)]), 0)?;
    let outcome = simple(insn::int3, TRAP_INT3, None, At::Next);
    expect_ret(
        "set_trap_table(#BP dpl 3)",
        capture::install(&[gate(setup::DPL3)]),
        0,
    )?;
    outcome
}

fn write_read_only() -> Outcome {
    expect_ret("remap read-only", Page::ReadOnly.remap(pages::PTE_RO), 0)?;
    capture::clear();
    let ran = Page::ReadOnly.write_probe(0x5752_4954_4500_0001);
    let outcome = (|| {
        faulted(&ran)?;
        let t = take_one()?;
        matches(
            &t,
            &Want::kernel(TRAP_PAGE_FAULT, Some(PF_WRITE_RO_ERROR), ran.site.insn),
        )?;
        expect_eq(
            "vcpu_info.arch.cr2",
            t.cr2.unwrap_or(0),
            Page::ReadOnly.va(),
        )
    })();
    expect_ret("remap writable", Page::ReadOnly.remap(pages::PTE_RW), 0)?;
    outcome
}

fn exec_unmapped() -> Outcome {
    capture::clear();
    let ran = pages::call_unmapped();
    faulted(&ran)?;
    let t = take_one()?;
    matches(
        &t,
        &Want::kernel(
            TRAP_PAGE_FAULT,
            Some(PF_EXEC_UNMAPPED_ERROR),
            pages::UNMAPPED_EXEC_ADDRESS,
        ),
    )?;
    expect_eq(
        "vcpu_info.arch.cr2",
        t.cr2.unwrap_or(0),
        pages::UNMAPPED_EXEC_ADDRESS,
    )
}

fn exec_nx() -> Outcome {
    if !Page::Nx.write_byte0(0xc3) {
        fail!("cannot write the no-execute page");
    }
    expect_ret("remap no-execute", Page::Nx.remap(pages::PTE_RW_NX), 0)?;
    capture::clear();
    let Some(ran) = pages::call_nx() else {
        fail!("the no-execute page does not start with ret");
    };
    faulted(&ran)?;
    let t = take_one()?;
    matches(
        &t,
        &Want::kernel(TRAP_PAGE_FAULT, Some(PF_EXEC_NX_ERROR), Page::Nx.va()),
    )?;
    expect_eq("vcpu_info.arch.cr2", t.cr2.unwrap_or(0), Page::Nx.va())
}

/// After a page fault, the emulated `mov %cr2` gives the faulting address.
fn cr2_register() -> Outcome {
    let Some(token) = capture::probe_token() else {
        fail!("no trap table");
    };
    capture::clear();
    let _ = Probe::ReadUnmapped.run(token);
    let _ = capture::take();
    let cr2 = completed(&insn::read_cr2())?;
    expect_eq("cr2", cr2, UNMAPPED_LOW_ADDRESS)?;
    Ok(())
}

fn nm() -> Outcome {
    expect_ret("fpu_taskswitch(1)", hypercalls::fpu_taskswitch(true), 0)?;
    capture::set_nm_action(capture::NmAction::Fixup);
    let outcome = simple(fpu::x87_nop, TRAP_NO_DEVICE, None, At::Insn);
    let _ = hypercalls::fpu_taskswitch(false);
    outcome
}

/// RFLAGS at handler entry: IF set, NT/AC cleared, DF kept; the frame keeps the interrupted
/// DF, NT and AC.
fn handler_rflags() -> Outcome {
    capture::clear();
    let ran = insn::ud2_with_flags();
    faulted(&ran)?;
    let t = take_one()?;
    expect_eq("handler rflags.IF", t.entry_rflags & RFLAGS_IF, RFLAGS_IF)?;
    expect_eq(
        "handler rflags DF/NT/AC",
        t.entry_rflags & insn::UD2_FLAGS,
        HANDLER_KEPT_FLAGS,
    )?;
    expect_eq(
        "frame rflags DF/NT/AC",
        t.rflags & insn::UD2_FLAGS,
        insn::UD2_FLAGS,
    )?;
    expect_eq("frame rflags bit 1", t.rflags & 2, 2)?;
    expect_eq("frame rflags IOPL", t.rflags & (3 << 12), 0)
}

/// The trap table's "mask events" flag: with events unmasked before the exception, the
/// handler runs with the upcall mask set (flag) or still clear (no flag); the frame shows the
/// saved mask 0 in CS and IF set; the iret (IF set) leaves events unmasked.
fn mask_events(flag: bool) -> Outcome {
    let flags = if flag { TI_MASK_EVENTS } else { 0 };
    expect_ret(
        "set_trap_table(#UD)",
        capture::install(&[ud_gate(flags)]),
        0,
    )?;
    let outcome = ud2_unmasked(u64::from(flag));
    expect_ret("set_trap_table(#UD)", capture::install(&[ud_gate(0)]), 0)?;
    outcome
}

fn ud_gate(flags: u8) -> Gate {
    Gate {
        vector: TRAP_INVALID_OP,
        flags,
    }
}

/// `ud2` with events unmasked: the handler must find the upcall mask `mask_at_entry`, the
/// frame the saved mask 0 (in CS) and IF set, and the iret (IF set) must leave events
/// unmasked. Events are masked again afterwards.
fn ud2_unmasked(mask_at_entry: u64) -> Outcome {
    if shared::upcall_pending() != Some(0) {
        fail!("an event is pending: cannot unmask");
    }
    capture::clear();
    shared::set_upcall_mask(0);
    let ran = insn::ud2();
    let mask_after = memory::upcall_mask(0);
    shared::set_upcall_mask(1);
    faulted(&ran)?;
    let t = take_one()?;
    let want = Want {
        cs: KERNEL_CS_UNMASKED,
        ..Want::kernel(TRAP_INVALID_OP, None, ran.site.insn)
    };
    matches(&t, &want)?;
    expect_eq("frame rflags.IF", t.rflags & RFLAGS_IF, RFLAGS_IF)?;
    expect_eq(
        "upcall mask at entry",
        u64::from(t.upcall_mask.unwrap_or(0xff)),
        mask_at_entry,
    )?;
    expect_eq(
        "upcall mask after the iret",
        u64::from(mask_after.unwrap_or(0xff)),
        0,
    )
}

/// `int $0x80` with the vector's gate at DPL 0 is still delivered: Xen's IDT gate for 0x80
/// has DPL 3 and its int80 path only checks that the guest has a handler, not the handler's
/// DPL (observed on Xen 4.17).
fn int80_dpl0() -> Outcome {
    let gate = |flags| Gate {
        vector: SOFT_INT80,
        flags,
    };
    expect_ret(
        "set_trap_table(0x80 dpl 0)",
        capture::install(&[gate(0)]),
        0,
    )?;
    capture::clear();
    let ran = insn::int_0x80();
    expect_ret(
        "set_trap_table(0x80 dpl 3)",
        capture::install(&[gate(setup::DPL3)]),
        0,
    )?;
    faulted(&ran)?;
    let t = take_one()?;
    matches(&t, &Want::kernel(SOFT_INT80, None, ran.site.next))
}

/// A later set_trap_table entry for a vector replaces the earlier one, and a call leaves the
/// vectors it does not list alone: #UD installed with "mask events", then without, is entered
/// with events still unmasked; #GP (installed at setup) still arrives.
fn replace_entry() -> Outcome {
    expect_ret(
        "set_trap_table(#UD masking)",
        capture::install(&[ud_gate(TI_MASK_EVENTS)]),
        0,
    )?;
    expect_ret("set_trap_table(#UD)", capture::install(&[ud_gate(0)]), 0)?;
    ud2_unmasked(0)?;
    simple(insn::ltr_null, TRAP_GP_FAULT, Some(0), At::Insn)
}

/// set_trap_table(NULL) clears every entry: after it, with only #GP installed again, `int
/// $0x80` (its DPL-3 entry gone) arrives as #GP.
fn clear_table() -> Outcome {
    expect_ret("set_trap_table(NULL)", capture::clear_table(), 0)?;
    let gp = Gate {
        vector: TRAP_GP_FAULT,
        flags: 0,
    };
    let ret = capture::install(&[gp]);
    if ret != 0 {
        // Nothing more can be checked safely; put the standard table back.
        let _ = capture::install(&setup::STANDARD_GATES);
        fail!("set_trap_table(#GP) after clearing returned {}", ret);
    }
    capture::clear();
    let ran = insn::int_0x80();
    let restore = capture::install(&setup::STANDARD_GATES);
    faulted(&ran)?;
    let t = take_one()?;
    matches(
        &t,
        &Want::kernel(
            TRAP_GP_FAULT,
            Some((u64::from(SOFT_INT80) << 3) | 2),
            ran.site.insn,
        ),
    )?;
    expect_ret("set_trap_table(standard)", restore, 0)
}
