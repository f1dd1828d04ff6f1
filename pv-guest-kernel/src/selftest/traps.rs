//! Check group 5: exceptions through the trap table, their frames, and the iret back.
// Each probe's exception must arrive with the right vector, error code, RIP, CS and RFLAGS.IF;
// the handler resumes at a fixed-up RIP through the iret hypercall with every register intact.

use hypercall_abi::traps::{
    TRAP_DIVIDE_ERROR, TRAP_GP_FAULT, TRAP_INT3, TRAP_INVALID_OP, TRAP_PAGE_FAULT,
};

use super::context::Context;
use super::report::{Outcome, Report, expect_eq, fail};
use crate::arch::x86_64::memory;
use crate::arch::x86_64::probes::{HYPERVISOR_ADDRESS, Probe, UNMAPPED_LOW_ADDRESS};
use crate::arch::x86_64::traps::SavedRegs;
use crate::faults;

/// CS in the bounce frame of an exception in guest kernel mode: the flat code selector with
/// RPL 0, and the saved upcall mask (1) in bits 32-39 (observed on Xen 4.17).
const KERNEL_FRAME_CS: u64 = (1 << 32) | 0xe030;
/// RFLAGS.IF.
const RFLAGS_IF: u64 = 1 << 9;
/// #PF error code for a read of an unmapped address in guest kernel mode (observed on Xen
/// 4.17: not present, read, and the U bit cleared because the guest was in kernel mode).
const PF_UNMAPPED_READ_ERROR: u64 = 0;
/// #PF error code for a write to the hypervisor's range in guest kernel mode (observed on
/// Xen 4.17: present, write, U cleared).
const PF_HYPERVISOR_WRITE_ERROR: u64 = 3;

/// What one probe must produce.
struct Expected {
    name: &'static str,
    probe: Probe,
    vector: u8,
    error: u64,
    /// Whether RIP is reported after the instruction (a trap) rather than at it (a fault).
    rip_after: bool,
    /// The faulting address a page fault must report in vcpu_info.arch.cr2.
    cr2: Option<u64>,
}

const CASES: [Expected; 6] = [
    Expected {
        name: "trap.int3",
        probe: Probe::Int3,
        vector: TRAP_INT3,
        error: 0,
        rip_after: true,
        cr2: None,
    },
    Expected {
        name: "trap.ud2",
        probe: Probe::InvalidOp,
        vector: TRAP_INVALID_OP,
        error: 0,
        rip_after: false,
        cr2: None,
    },
    Expected {
        name: "trap.divide_error",
        probe: Probe::DivideError,
        vector: TRAP_DIVIDE_ERROR,
        error: 0,
        rip_after: false,
        cr2: None,
    },
    Expected {
        name: "trap.page_fault_unmapped",
        probe: Probe::ReadUnmapped,
        vector: TRAP_PAGE_FAULT,
        error: PF_UNMAPPED_READ_ERROR,
        rip_after: false,
        cr2: Some(UNMAPPED_LOW_ADDRESS),
    },
    Expected {
        name: "trap.page_fault_hypervisor",
        probe: Probe::WriteHypervisor,
        vector: TRAP_PAGE_FAULT,
        error: PF_HYPERVISOR_WRITE_ERROR,
        rip_after: false,
        cr2: Some(HYPERVISOR_ADDRESS),
    },
    Expected {
        name: "trap.gp_non_canonical",
        probe: Probe::ReadNonCanonical,
        vector: TRAP_GP_FAULT,
        error: 0,
        rip_after: false,
        cr2: None,
    },
];

/// Runs one check per probe.
pub fn run(ctx: &Context, report: &mut Report) {
    for case in &CASES {
        report.check(case.name, check(ctx, case));
    }
}

/// The saved registers in the probes' order (rax, rbx, rcx, rdx, rsi, rdi, rbp, r8-r15).
fn in_marker_order(r: &SavedRegs) -> [u64; 15] {
    [
        r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13,
        r.r14, r.r15,
    ]
}

const REG_NAMES: [&str; 15] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];

fn compare_regs(when: &str, got: &[u64; 15], want: &[u64; 15]) -> Outcome {
    for ((name, g), w) in REG_NAMES.iter().zip(got).zip(want) {
        if g != w {
            fail!("{} {} is {:#x}, expected {:#x}", when, name, g, w);
        }
    }
    Ok(())
}

fn check(ctx: &Context, case: &Expected) -> Outcome {
    let Some(installed) = ctx.traps else {
        fail!("no trap table");
    };
    faults::clear();
    let after = case.probe.run(installed);
    let Some(event) = faults::take_last() else {
        fail!("no exception arrived");
    };
    let f = &event.frame;
    expect_eq("vector", f.vector, u64::from(case.vector))?;
    expect_eq("error code", f.error, case.error)?;
    let rip = if case.rip_after {
        case.probe.fixup_address()
    } else {
        case.probe.insn_address()
    };
    expect_eq("reported rip", f.rip, rip)?;
    expect_eq("saved cs", f.cs, KERNEL_FRAME_CS)?;
    expect_eq("saved rflags.IF", f.rflags & RFLAGS_IF, 0)?;
    if let Some(address) = case.cr2 {
        match event.cr2 {
            Some(cr2) => expect_eq("vcpu_info.arch.cr2", cr2, address)?,
            None => fail!("shared_info not mapped: cr2 unknown"),
        }
    }
    let expected = case.probe.expected_registers();
    compare_regs("at the exception", &in_marker_order(&f.regs), &expected)?;
    compare_regs("after the iret", &after, &expected)?;
    if let Some(mask) = memory::upcall_mask(0) {
        expect_eq("upcall mask after the iret", u64::from(mask), 1)?;
    }
    Ok(())
}
