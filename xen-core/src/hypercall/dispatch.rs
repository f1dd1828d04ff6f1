//! The hypercall dispatcher: hypercall number to handler, and the only place a result becomes RAX.

use hypercall_abi::Errno;
use hypercall_abi::hypercall::Hypercall;
use xen_core::guest_regs::GuestRegs;

use super::*;
use crate::arch::x86_64::platform;
use crate::domain::Domain;
use crate::hypervisor::Hypervisor;

/// How to leave xen-core after the hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The frame is as the `syscall` left it: return with sysretq.
    Sysret,
    /// RIP/CS/RFLAGS/RSP/SS or other registers changed: return with iretq.
    Iret,
    /// The machine stops (Dom0 shut down or crashed).
    Stop(platform::Exit),
}

/// One hypercall in progress: the caller's domain, its registers, and how to leave.
pub struct Call<'a> {
    /// The calling domain.
    pub dom: &'a mut Domain,
    /// Its saved registers.
    pub regs: &'a mut GuestRegs,
    /// How to return; handlers that change the frame set `Exit::Iret`.
    pub exit: Exit,
    /// The hypervisor command line (XENVER_commandline).
    pub cmdline: &'a str,
}

/// Runs the hypercall in `regs` for the current domain and stores its result in RAX.
pub fn hypercall(hv: &mut Hypervisor, regs: &mut GuestRegs) -> Exit {
    let nr = regs.rax;
    let args = regs.hypercall_args();
    let Hypervisor { dom0, frames, cmdline, .. } = hv;
    let Some(dom) = dom0.as_mut() else {
        return Exit::Stop(platform::Exit::Fatal);
    };
    let mut call = Call { dom, regs, exit: Exit::Sysret, cmdline: cmdline.as_str() };
    let result = match Hypercall::from_nr(nr) {
        Some(Hypercall::XenVersion) => xen_version::xen_version(&mut call, args[0], args[1]),
        Some(Hypercall::ConsoleIo) => console_io::console_io(&mut call, args[0], args[1], args[2]),
        Some(Hypercall::SchedOp) => sched_op::sched_op(&mut call, args[0], args[1]),
        Some(Hypercall::SetTrapTable) => set_trap_table::set_trap_table(&mut call, args[0]),
        Some(Hypercall::CallbackOp) => callback_op::callback_op(&mut call, args[0], args[1]),
        Some(Hypercall::SetCallbacks) => callback_op::set_callbacks(&mut call, args[0], args[1], args[2]),
        Some(Hypercall::StackSwitch) => stack_switch::stack_switch(&mut call, args[0], args[1]),
        Some(Hypercall::UpdateVaMapping) => {
            update_va_mapping::update_va_mapping(&mut call, frames, args[0], args[1], args[2])
        }
        Some(Hypercall::MmuextOp) => {
            mmuext_op::mmuext_op(&mut call, frames, args[0], args[1], args[2], args[3])
        }
        Some(Hypercall::Iret) => iret::iret(&mut call),
        Some(Hypercall::SetSegmentBase) => set_segment_base::set_segment_base(&mut call, args[0], args[1]),
        Some(Hypercall::Domctl | Hypercall::Sysctl) if !call.dom.privileged => Err(Errno::Perm),
        _ => Err(Errno::NoSys),
    };
    call.regs.rax = match result {
        Ok(value) => value,
        Err(errno) => errno.to_ret() as u64,
    };
    call.exit
}
