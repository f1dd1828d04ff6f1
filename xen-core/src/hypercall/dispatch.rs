//! The hypercall table: number to handler, and the only place a result becomes RAX.

use hypercall_abi::Errno;
use hypercall_abi::hypercall::{Hypercall, NR_HYPERCALLS};
use xen_core::guest_regs::GuestRegs;

use super::*;
use crate::arch::x86_64::platform::{self, exit_machine};

/// How to leave xen-core after the hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The frame is as the `syscall` left it: return with sysretq.
    Sysret,
    /// RIP/CS/RFLAGS/RSP/SS or other registers changed: return with iretq.
    Iret,
    /// The machine stops (Dom0 shut down or crashed).
    Stop(platform::Exit),
    /// The vCPU stops running for now (it blocked, yielded, or its domain shut down): the
    /// scheduler picks what runs next, from a complete frame.
    Reschedule,
}

impl Exit {
    /// The code the syscall entry stub expects: 0 sysretq, 1 iretq, 2 schedule (after the
    /// stub has completed the frame). Stopping never returns.
    pub fn code(self) -> u32 {
        match self {
            Exit::Sysret => 0,
            Exit::Iret => 1,
            Exit::Reschedule => EXIT_RESCHEDULE,
            Exit::Stop(how) => exit_machine(how),
        }
    }
}

/// One hypercall in progress: the caller's registers and how to leave. The domain and the
/// rest of the state are reached through `hypervisor::with_state` once arguments are decoded.
pub struct Call<'a> {
    /// The saved registers (a partial frame: the callee-saved slots are not filled).
    pub regs: &'a mut GuestRegs,
    /// How to return; handlers that change the frame set `Exit::Iret`.
    pub exit: Exit,
}

/// The exit code of [`Exit::Reschedule`].
pub const EXIT_RESCHEDULE: u32 = 2;

/// A hypercall handler as the entry stub calls it.
pub type Handler = extern "C" fn(&mut GuestRegs) -> u32;

/// Runs `body` and stores its result in RAX.
#[inline(always)]
fn run(
    regs: &mut GuestRegs,
    body: impl FnOnce(&mut Call<'_>, [u64; 6]) -> Result<u64, Errno>,
) -> u32 {
    let args = regs.hypercall_args();
    let mut call = Call {
        regs,
        exit: Exit::Sysret,
    };
    call.regs.rax = match body(&mut call, args) {
        Ok(value) => value,
        Err(errno) => errno.to_ret() as u64,
    };
    call.exit.code()
}

macro_rules! handlers {
    ($($name:ident => |$call:pat_param, $a:pat_param| $body:expr;)*) => {
        $(
            extern "C" fn $name(regs: &mut GuestRegs) -> u32 {
                run(regs, |$call, $a| $body)
            }
        )*
    };
}

handlers! {
    hc_xen_version => |_, a| xen_version::xen_version(a[0], a[1]);
    hc_console_io => |_, a| console_io::console_io(a[0], a[1], a[2]);
    hc_sched_op => |call, a| sched_op::sched_op(call, a[0], a[1]);
    hc_set_trap_table => |call, a| set_trap_table::hypercall(call, a[0]);
    hc_callback_op => |_, a| callback_op::callback_op(a[0], a[1]);
    hc_set_callbacks => |_, a| callback_op::set_callbacks(a[0], a[1], a[2]);
    hc_stack_switch => |_, a| stack_switch::stack_switch(a[0], a[1]);
    hc_update_va_mapping => |_, a| update_va_mapping::update_va_mapping(a[0], a[1], a[2]);
    hc_mmuext_op => |_, a| mmuext_op::mmuext_op(a[0], a[1], a[2], a[3]);
    hc_mmu_update => |_, a| mmu_update::mmu_update(a[0], a[1], a[2], a[3]);
    hc_update_va_mapping_otherdomain => |_, a| {
        update_va_mapping::update_va_mapping_otherdomain(a[0], a[1], a[2], a[3])
    };
    hc_memory_op => |_, a| memory_op::memory_op(a[0], a[1]);
    hc_multicall => |call, a| multicall::multicall(call, a[0], a[1]);
    hc_vm_assist => |_, a| vm_assist::vm_assist(a[0], a[1]);
    hc_iret => |call, _| iret::iret(call);
    hc_set_segment_base => |_, a| set_segment_base::set_segment_base(a[0], a[1]);
    hc_fpu_taskswitch => |_, a| fpu_taskswitch::fpu_taskswitch(a[0]);
    hc_set_gdt => |_, a| set_gdt::set_gdt(a[0], a[1]);
    hc_update_descriptor => |_, a| update_descriptor::update_descriptor(a[0], a[1]);
    hc_physdev_op => |_, a| physdev_op::physdev_op(a[0], a[1]);
    hc_set_debugreg => |_, a| debugreg::set_debugreg(a[0], a[1]);
    hc_get_debugreg => |_, a| debugreg::get_debugreg(a[0]);
    hc_domctl => |_, a| domctl::domctl(a[0]);
    hc_sysctl => |_, a| sysctl::sysctl(a[0]);
    hc_event_channel_op => |call, a| {
        let result =
            crate::schedule::with_resched_on_exit(|| event_channel_op::event_channel_op(a[0], a[1]));
        // A send that woke a vCPU which should run before the caller: switch now (as Xen's
        // softirq check on the way out), without a timer interrupt for it.
        if crate::schedule::resched_pending() {
            call.exit = Exit::Reschedule;
        }
        result
    };
    hc_set_timer_op => |_, a| set_timer_op::set_timer_op(a[0]);
    hc_vcpu_op => |call, a| vcpu_op::vcpu_op(call, a[0], a[1], a[2]);
    hc_grant_table_op => |call, a| grant_table_op::grant_table_op(call, a[0], a[1], a[2]);
    hc_not_implemented => |_, _| Err(Errno::NoSys);
}

/// Hypercall numbers at or past [`NR_HYPERCALLS`] (the entry stub checks the bound).
pub extern "C" fn no_such_hypercall(regs: &mut GuestRegs) -> u32 {
    regs.rax = Errno::NoSys.to_ret() as u64;
    0
}

/// Handlers by hypercall number; every number without one answers -ENOSYS (docs/hypercalls.md).
pub static HYPERCALL_TABLE: [Handler; NR_HYPERCALLS] = {
    let mut t: [Handler; NR_HYPERCALLS] = [hc_not_implemented; NR_HYPERCALLS];
    t[Hypercall::XenVersion as usize] = hc_xen_version;
    t[Hypercall::ConsoleIo as usize] = hc_console_io;
    t[Hypercall::SchedOp as usize] = hc_sched_op;
    t[Hypercall::SetTrapTable as usize] = hc_set_trap_table;
    t[Hypercall::CallbackOp as usize] = hc_callback_op;
    t[Hypercall::SetCallbacks as usize] = hc_set_callbacks;
    t[Hypercall::StackSwitch as usize] = hc_stack_switch;
    t[Hypercall::UpdateVaMapping as usize] = hc_update_va_mapping;
    t[Hypercall::MmuextOp as usize] = hc_mmuext_op;
    t[Hypercall::MmuUpdate as usize] = hc_mmu_update;
    t[Hypercall::UpdateVaMappingOtherdomain as usize] = hc_update_va_mapping_otherdomain;
    t[Hypercall::MemoryOp as usize] = hc_memory_op;
    t[Hypercall::Multicall as usize] = hc_multicall;
    t[Hypercall::VmAssist as usize] = hc_vm_assist;
    t[Hypercall::Iret as usize] = hc_iret;
    t[Hypercall::SetSegmentBase as usize] = hc_set_segment_base;
    t[Hypercall::FpuTaskswitch as usize] = hc_fpu_taskswitch;
    t[Hypercall::SetGdt as usize] = hc_set_gdt;
    t[Hypercall::UpdateDescriptor as usize] = hc_update_descriptor;
    t[Hypercall::PhysdevOp as usize] = hc_physdev_op;
    t[Hypercall::SetDebugreg as usize] = hc_set_debugreg;
    t[Hypercall::GetDebugreg as usize] = hc_get_debugreg;
    t[Hypercall::Domctl as usize] = hc_domctl;
    t[Hypercall::Sysctl as usize] = hc_sysctl;
    t[Hypercall::EventChannelOp as usize] = hc_event_channel_op;
    t[Hypercall::SetTimerOp as usize] = hc_set_timer_op;
    t[Hypercall::VcpuOp as usize] = hc_vcpu_op;
    t[Hypercall::GrantTableOp as usize] = hc_grant_table_op;
    t
};
