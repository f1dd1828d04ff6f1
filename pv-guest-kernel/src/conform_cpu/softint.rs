//! conform=softint: `int n` and the trap table's DPL, for vectors Xen's own IDT gates at DPL 0.
// Xen 4.17 cannot serve as the oracle here under QEMU 7.2, so this guest runs on xen-core
// only. Xen gives the guest's `int n` a DPL-3 IDT gate only for #BP, #OF and 0x80 (those are
// checked by conform=traps on both hypervisors); every other vector reaches Xen as #GP from
// a DPL-0 gate, and Xen takes the vector from the #GP error code ((n << 3) | 2). QEMU 7.2's
// TCG reports (n << 4) | 2 instead (QEMU bug #1382, fixed in 8.0), so Xen looks up the entry
// of vector 2n: `int $0x40` through a DPL-3 gate arrives as vector 0x80, `int $0x41` through a
// DPL-1 gate as #GP(0x412), `int $0x42` through a DPL-0 gate as #GP(0x422) (observed on Xen
// 4.17 under QEMU 7.2). The expected values below are therefore Xen's rule as its
// do_general_protection applies it with the right error code: the guest kernel counts as
// ring 1, guest user mode as ring 3; a permitted `int n` is delivered with RIP after the
// 2-byte instruction and no error code, a refused one as #GP((n << 3) | 2) at the
// instruction. xen-core implements it by decoding the instruction instead of trusting the
// error code.

use hypercall_abi::traps::{TRAP_BOUNDS, TRAP_GP_FAULT};

use super::expect::{At, simple};
use super::setup::{DPL3, SOFT_DPL0, SOFT_DPL1, SOFT_DPL3};
use crate::arch::x86_64::conform::capture::{self, Gate};
use crate::arch::x86_64::conform::insn;
use crate::selftest::report::{Outcome, Report, expect_ret};

/// A vector with no trap-table entry.
const NO_ENTRY: u8 = 0x43;

/// #GP error code Xen gives a refused `int n`: the IDT selector of vector n.
const fn softint_error(n: u8) -> Option<u64> {
    Some(((n as u64) << 3) | 2)
}

/// Runs the checks.
pub fn run(report: &mut Report) {
    report.check(
        "softint.dpl3_gate",
        simple(insn::int_0x40, SOFT_DPL3, None, At::Next),
    );
    report.check(
        "softint.dpl1_gate_from_kernel",
        simple(insn::int_0x41, SOFT_DPL1, None, At::Next),
    );
    report.check(
        "softint.dpl0_gate",
        simple(
            insn::int_0x42,
            TRAP_GP_FAULT,
            softint_error(SOFT_DPL0),
            At::Insn,
        ),
    );
    report.check(
        "softint.no_entry",
        simple(
            insn::int_0x43,
            TRAP_GP_FAULT,
            softint_error(NO_ENTRY),
            At::Insn,
        ),
    );
    report.check(
        "softint.br_dpl0_gate",
        simple(
            insn::int_5,
            TRAP_GP_FAULT,
            softint_error(TRAP_BOUNDS),
            At::Insn,
        ),
    );
    report.check("softint.br_dpl3_gate", br_dpl3());
}

fn br_dpl3() -> Outcome {
    let gate = |flags| Gate {
        vector: TRAP_BOUNDS,
        flags,
    };
    expect_ret(
        "set_trap_table(#BR dpl 3)",
        capture::install(&[gate(DPL3)]),
        0,
    )?;
    let outcome = simple(insn::int_5, TRAP_BOUNDS, None, At::Next);
    expect_ret("set_trap_table(#BR dpl 0)", capture::install(&[gate(0)]), 0)?;
    outcome
}
