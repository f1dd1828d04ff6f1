//! What every CPU conformance guest does first: map shared_info, install the trap table, callbacks, stack.

use hypercall_abi::mmu::{PteFlags, UVMF_INVLPG, UVMF_LOCAL};
use hypercall_abi::start_info::StartInfo;
use hypercall_abi::traps::{
    TRAP_ALIGNMENT_CHECK, TRAP_BOUNDS, TRAP_COPRO_ERROR, TRAP_DEBUG, TRAP_DIVIDE_ERROR,
    TRAP_GP_FAULT, TRAP_INT3, TRAP_INVALID_OP, TRAP_INVALID_TSS, TRAP_NO_DEVICE, TRAP_NO_SEGMENT,
    TRAP_OVERFLOW, TRAP_PAGE_FAULT, TRAP_SIMD_ERROR, TRAP_STACK_ERROR,
};

use crate::arch::x86_64::conform::capture::{self, Gate};
use crate::arch::x86_64::conform::{shared, user_run};
use crate::arch::x86_64::memory;
use crate::arch::x86_64::xen;
use crate::selftest::report::{Outcome, Report, Ret, expect_eq, expect_ret, fail};

/// P|RW|A|D|U for shared_info.
const SHARED_INFO_PTE: u64 = PteFlags::PRESENT
    .union(PteFlags::RW)
    .union(PteFlags::ACCESSED)
    .union(PteFlags::DIRTY)
    .union(PteFlags::USER)
    .bits();

/// Vector for `int n` through a DPL-3 gate (no special meaning to any hypervisor).
pub const SOFT_DPL3: u8 = 0x40;
/// Vector for `int n` through a DPL-1 gate.
pub const SOFT_DPL1: u8 = 0x41;
/// Vector for `int n` through a DPL-0 gate.
pub const SOFT_DPL0: u8 = 0x42;
/// The legacy system-call vector, through a DPL-3 gate.
pub const SOFT_INT80: u8 = 0x80;
/// `trap_info.flags` DPL 3.
pub const DPL3: u8 = 3;

/// The standard table: every exception a guest can cause with DPL 0, except #BP and #OF with
/// DPL 3 (as Linux does), and the software-interrupt vectors above.
pub const STANDARD_GATES: [Gate; 19] = [
    Gate {
        vector: TRAP_DIVIDE_ERROR,
        flags: 0,
    },
    Gate {
        vector: TRAP_DEBUG,
        flags: 0,
    },
    Gate {
        vector: TRAP_INT3,
        flags: DPL3,
    },
    Gate {
        vector: TRAP_OVERFLOW,
        flags: DPL3,
    },
    Gate {
        vector: TRAP_BOUNDS,
        flags: 0,
    },
    Gate {
        vector: TRAP_INVALID_OP,
        flags: 0,
    },
    Gate {
        vector: TRAP_NO_DEVICE,
        flags: 0,
    },
    Gate {
        vector: TRAP_INVALID_TSS,
        flags: 0,
    },
    Gate {
        vector: TRAP_NO_SEGMENT,
        flags: 0,
    },
    Gate {
        vector: TRAP_STACK_ERROR,
        flags: 0,
    },
    Gate {
        vector: TRAP_GP_FAULT,
        flags: 0,
    },
    Gate {
        vector: TRAP_PAGE_FAULT,
        flags: 0,
    },
    Gate {
        vector: TRAP_COPRO_ERROR,
        flags: 0,
    },
    Gate {
        vector: TRAP_ALIGNMENT_CHECK,
        flags: 0,
    },
    Gate {
        vector: TRAP_SIMD_ERROR,
        flags: 0,
    },
    Gate {
        vector: SOFT_DPL3,
        flags: DPL3,
    },
    Gate {
        vector: SOFT_DPL1,
        flags: 1,
    },
    Gate {
        vector: SOFT_DPL0,
        flags: 0,
    },
    Gate {
        vector: SOFT_INT80,
        flags: DPL3,
    },
];

/// Maps shared_info, installs the standard trap table, registers the event and failsafe
/// callbacks and the stack_switch stack. Each step is a check; later checks need them all.
pub fn run(start_info: &StartInfo, report: &mut Report) {
    report.check("setup.shared_info", shared_info(start_info));
    report.check(
        "setup.trap_table",
        expect_ret("set_trap_table", capture::install(&STANDARD_GATES), 0),
    );
    report.check("setup.callbacks", callbacks());
    report.check(
        "setup.stack_switch",
        expect_ret("stack_switch", user_run::stack_switch(), 0),
    );
}

fn shared_info(start_info: &StartInfo) -> Outcome {
    let ret = xen::map_shared_info(
        start_info.shared_info,
        SHARED_INFO_PTE,
        UVMF_INVLPG | UVMF_LOCAL,
    );
    expect_ret("update_va_mapping(shared_info)", ret, 0)?;
    let Some(mask) = memory::upcall_mask(0) else {
        fail!("shared_info not readable");
    };
    expect_eq("evtchn_upcall_mask", u64::from(mask), 1)?;
    expect_eq(
        "evtchn_upcall_pending",
        u64::from(shared::upcall_pending().unwrap_or(0xff)),
        0,
    )
}

fn callbacks() -> Outcome {
    let [event, failsafe] = user_run::register_event_and_failsafe();
    if event != 0 || failsafe != 0 {
        fail!(
            "register event/failsafe returned {} / {}",
            Ret(event),
            Ret(failsafe)
        );
    }
    Ok(())
}
