//! Where the entry stubs land: user-mode syscalls and exceptions, and faults inside xen-core.
//! (Hypercalls go from the stub straight to the table in hypercall/dispatch.rs.)

use xen_core::guest_regs::GuestRegs;

use crate::arch::x86_64::entry::exit_to_guest_iret;
use crate::arch::x86_64::platform::{self, exit_machine};
use crate::arch::x86_64::{cpu, uaccess};
use crate::guest_trap;
use crate::hypercall::dispatch::Exit;
use crate::hypervisor::HV;

/// A `syscall` from guest user mode or compat code: a bounce to the guest kernel. Returns the
/// entry stub's exit code.
pub extern "C" fn syscall_from_user(regs: &mut GuestRegs) -> u32 {
    HV.with(|hv| match hv.as_mut().and_then(|hv| hv.dom0.as_mut()) {
        Some(dom) => guest_trap::syscall_from_user(dom, regs),
        None => Exit::Stop(platform::Exit::Fatal),
    })
    .code()
}

/// An exception: from a guest it is the guest's business; in xen-core it is either a guest
/// copy that faulted (recovered) or a bug (fatal).
pub extern "C" fn exception(regs: &mut GuestRegs) -> ! {
    if regs.cs & 3 == 0 {
        if let Some(resume) = uaccess::fixup_for(regs.rip) {
            regs.rip = resume;
            exit_to_guest_iret(regs);
        }
        if regs.entry_vector == 2 {
            log::warn!("NMI in xen-core; ignored");
            exit_to_guest_iret(regs);
        }
        fatal(regs, "exception in xen-core");
    }
    let exit = HV.with(|hv| match hv.as_mut().and_then(|hv| hv.dom0.as_mut()) {
        Some(dom) => guest_trap::exception(dom, regs),
        None => Exit::Stop(platform::Exit::Fatal),
    });
    match exit {
        Exit::Stop(how) => exit_machine(how),
        // An exception frame is complete: every exit restores all of it.
        Exit::Sysret | Exit::Iret => exit_to_guest_iret(regs),
    }
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
