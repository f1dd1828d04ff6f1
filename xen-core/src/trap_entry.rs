//! Where the entry stubs land: user-mode syscalls, exceptions, faults inside xen-core, and the
//! last check before every `iretq` to a guest.
//! (Hypercalls go from the stub straight to the table in hypercall/dispatch.rs.)

use hypercall_abi::traps::{
    TRAP_DOUBLE_FAULT, TRAP_GP_FAULT, TRAP_MACHINE_CHECK, TRAP_NMI, TRAP_NO_SEGMENT,
    TRAP_PAGE_FAULT, TRAP_STACK_ERROR,
};
use xen_core::guest_regs::GuestRegs;
use xen_core::trap::iret::CheckedFrame;

use crate::arch::x86_64::entry::{self, exit_to_guest};
use crate::arch::x86_64::platform::{self, exit_machine};
use crate::arch::x86_64::{cpu, uaccess};
use crate::domain::Shutdown;
use crate::event_glue;
use crate::guest_trap;
use crate::hypercall::dispatch::Exit;
use crate::hypervisor::with_state;

/// A `syscall` from guest user mode or compat code: a bounce to the guest kernel. Returns the
/// entry stub's exit code.
pub extern "C" fn syscall_from_user(regs: &mut GuestRegs) -> u32 {
    with_state(|st| guest_trap::syscall_from_user(st.dom, regs)).code()
}

/// Called by the syscall stub before it leaves a (partial) frame with `iretq`: returns only
/// once the frame is one the CPU accepts (a bad one becomes the guest's #GP, or the guest's
/// end).
pub extern "C" fn syscall_exit_check(regs: &mut GuestRegs) {
    if let Err(exit) = checked(regs) {
        // The vCPU's domain is gone: its callee-saved registers no longer matter.
        leave(regs, exit)
    }
}

/// Leaves an entry whose vCPU does not return to the frame as it is: the machine stops, or
/// the scheduler runs something else (from `regs`, a complete frame or a dead vCPU's).
fn leave(regs: &mut GuestRegs, exit: Exit) -> ! {
    match exit {
        Exit::Stop(how) => exit_machine(how),
        _ => crate::schedule::reschedule(regs),
    }
}

/// Leaves for the guest with `iretq` from a full frame (after an exception, or at the first
/// entry), once [`checked`] has made it acceptable.
pub fn enter_guest(regs: &mut GuestRegs) -> ! {
    // Two steps, so that the frame is free again when the vCPU cannot return to it.
    let exit = match checked(regs) {
        Ok(frame) => exit_to_guest(frame),
        Err(exit) => exit,
    };
    leave(regs, exit)
}

/// Delivers a pending event upcall (`event_glue::deliver_upcall`), then runs
/// `guest_trap::checked_return` on the running domain: the frame, made one the CPU accepts,
/// or how the vCPU leaves (the machine stops, or its domain crashed).
fn checked(regs: &mut GuestRegs) -> Result<CheckedFrame<'_>, Exit> {
    if entry::upcall_deliverable() {
        deliver_upcall(regs)?;
    }
    with_state(move |st| guest_trap::checked_return(st.dom, regs))
}

/// The rare part of [`checked`], kept out of its common path.
#[inline(never)]
fn deliver_upcall(regs: &mut GuestRegs) -> Result<(), Exit> {
    match with_state(|st| event_glue::deliver_upcall(st.dom, regs)) {
        Exit::Sysret | Exit::Iret => Ok(()),
        gone => Err(gone),
    }
}

/// An exception: from a guest it is the guest's business; in xen-core it is an NMI (ignored),
/// a guest copy that faulted (recovered), a guest `iretq` that faulted (the guest crashes) or a
/// bug (fatal). A machine check or a double fault is always fatal.
pub extern "C" fn exception(regs: &mut GuestRegs) -> ! {
    let vector = regs.entry_vector as u8;
    if regs.cs & 3 == 0 {
        in_xen(regs, vector)
    }
    match vector {
        TRAP_MACHINE_CHECK => fatal(regs, "machine check"),
        TRAP_DOUBLE_FAULT => fatal(regs, "double fault"),
        _ => {}
    }
    let exit = if vector == TRAP_PAGE_FAULT {
        // Takes the hypervisor state itself (LDT pages and trapped page-table writes first).
        guest_trap::page_fault(regs)
    } else if vector == TRAP_GP_FAULT {
        // Likewise (a `mov` to CR3 needs the page-type core).
        guest_trap::general_protection(regs)
    } else {
        with_state(|st| guest_trap::exception(st.dom, regs))
    };
    match exit {
        // An exception frame is complete: every exit restores all of it.
        Exit::Sysret | Exit::Iret => enter_guest(regs),
        gone => leave(regs, gone),
    }
}

/// An exception xen-core took itself. The NMI test comes first: an NMI can arrive at any
/// instruction, a guest copy's or a guest `iretq` included, and must only resume it.
fn in_xen(regs: &mut GuestRegs, vector: u8) -> ! {
    if vector == TRAP_NMI {
        log::warn!("NMI in xen-core; ignored");
        // SAFETY: the frame is the NMI's, unchanged.
        unsafe { entry::resume_xen(regs) }
    }
    if matches!(
        vector,
        TRAP_GP_FAULT | TRAP_PAGE_FAULT | TRAP_NO_SEGMENT | TRAP_STACK_ERROR
    ) && let Some(resume) = uaccess::fixup_for(regs.rip)
        .or_else(|| crate::arch::x86_64::msr_safe::fixup_for(regs.rip))
        .or_else(|| crate::arch::x86_64::context::fixup_for(regs.rip))
    {
        regs.rip = resume;
        // SAFETY: the frame is this fault's, with RIP moved to the recovery point of the guest
        // copy (or guest-named MSR read) that faulted.
        unsafe { entry::resume_xen(regs) }
    }
    if matches!(vector, TRAP_NO_SEGMENT | TRAP_STACK_ERROR | TRAP_GP_FAULT)
        && entry::is_guest_iretq(regs.rip)
    {
        guest_iretq_faulted(regs, vector)
    }
    match vector {
        TRAP_MACHINE_CHECK => fatal(regs, "machine check"),
        _ => fatal(regs, "exception in xen-core"),
    }
}

/// `iretq` to a guest faulted although its frame was checked: the check missed a case. The
/// guest is crashed (Xen would deliver the fault to it; crashing is the conservative answer to
/// a frame xen-core does not understand), not the machine.
fn guest_iretq_faulted(regs: &GuestRegs, vector: u8) -> ! {
    // SAFETY: this exception came from ring 0 at a guest iretq (checked by the caller).
    let [rip, cs, rflags, rsp, ss] = unsafe { entry::faulted_iret_frame(regs) };
    let error = regs.error_code;
    let exit = with_state(|st| {
        st.dom.shut_down(
            Shutdown::Crash,
            format_args!(
                "return to the guest faulted (vector {vector}, error {error:#x}): rip {rip:#x} \
                 cs {cs:#x} rflags {rflags:#x} rsp {rsp:#x} ss {ss:#x}"
            ),
        )
    });
    // The frame at hand is this fault's; the guest's registers no longer matter.
    let mut frame = *regs;
    leave(&mut frame, exit)
}

/// Prints the registers and stops the machine: xen-core's own invariants are broken.
pub fn fatal(regs: &GuestRegs, what: &str) -> ! {
    let r = regs;
    log::error!(
        "PANIC: fatal {what}: vector {} error {:#x}",
        r.entry_vector,
        r.error_code
    );
    log::error!(
        "rip {:#018x} cs {:#x} rflags {:#x} rsp {:#018x} ss {:#x} cr2 {:#x}",
        r.rip,
        r.cs,
        r.rflags,
        r.rsp,
        r.ss,
        cpu::read_cr2()
    );
    log::error!(
        "rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}",
        r.rax,
        r.rbx,
        r.rcx,
        r.rdx
    );
    log::error!(
        "rsi {:#018x} rdi {:#018x} rbp {:#018x} r8  {:#018x}",
        r.rsi,
        r.rdi,
        r.rbp,
        r.r8
    );
    log::error!(
        "r9  {:#018x} r10 {:#018x} r11 {:#018x} r12 {:#018x}",
        r.r9,
        r.r10,
        r.r11,
        r.r12
    );
    log::error!(
        "r13 {:#018x} r14 {:#018x} r15 {:#018x} cr3 {:#x}",
        r.r13,
        r.r14,
        r.r15,
        cpu::read_cr3()
    );
    exit_machine(platform::Exit::Fatal)
}
