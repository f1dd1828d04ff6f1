//! Exceptions from guests: emulate what Xen emulates, bounce the rest, crash on no handler.

use hypercall_abi::segment::FIRST_RESERVED_GDT_ENTRY;
use hypercall_abi::traps::*;
use xen_core::guest_regs::{GuestRegs, SYSCALL_INSN_LEN};
use xen_core::layout::PAGE_SIZE;
use xen_core::trap::bounce::{Bounce, enter_handler, enter_syscall_callback, frame_for};
use xen_core::trap::debug_regs;
use xen_core::trap::decode::{FORCED_CPUID_LEN, Instruction, decode_ud};
use xen_core::trap::iret::{
    CheckedFrame, SelectorKind, check_frame, check_frame_with, descriptor_kind, flat_selector,
};
use xen_core::trap::priv_op::{self, PrivInsn, PrivOp};

use crate::arch::x86_64::uaccess::copy_from_guest;
use crate::arch::x86_64::uaccess::copy_to_guest;
use crate::arch::x86_64::{cpu, direct_map, fpu};
use crate::domain::{Domain, Shutdown};
use crate::emulate;
use crate::emulate::fetch::instruction_bytes;
use crate::emulate::priv_op::Outcome;
use crate::guest_cpuid::guest_cpuid;
use crate::hypercall::dispatch::Exit;
use crate::hypervisor::with_state;

fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

fn exception_name(vector: u8) -> &'static str {
    const NAMES: [&str; 22] = [
        "divide error",
        "debug",
        "NMI",
        "int3",
        "overflow",
        "bounds",
        "invalid opcode",
        "device not available",
        "double fault",
        "coprocessor segment overrun",
        "invalid TSS",
        "segment not present",
        "stack fault",
        "general protection fault",
        "page fault",
        "spurious interrupt",
        "x87 error",
        "alignment check",
        "machine check",
        "SIMD error",
        "virtualisation exception",
        "control protection",
    ];
    NAMES
        .get(usize::from(vector))
        .copied()
        .unwrap_or("exception")
}

/// Reads up to 16 instruction bytes at the guest's RIP (fewer if the next page is unmapped).
fn fetch(regs: &GuestRegs) -> ([u8; 16], usize) {
    let mut buf = [0u8; 16];
    for len in [16usize, 8, 4, 2, 1] {
        if copy_from_guest(&mut buf[..len], regs.rip).is_ok() {
            return (buf, len);
        }
    }
    (buf, 0)
}

/// Delivers `vector` through the guest's trap table, or crashes it when there is no handler.
pub fn bounce(dom: &mut Domain, regs: &mut GuestRegs, vector: u8, error: Option<u64>) -> Exit {
    let entry = dom.vcpu.trap_table[usize::from(vector)];
    if entry.address == 0 {
        let what = exception_name(vector);
        return dom.shut_down(
            Shutdown::Crash,
            format_args!(
                "unhandled {what} (vector {vector}, error {:#x}) at rip {:#x}, cr2 {:#x}: no handler registered",
                error.unwrap_or(0),
                regs.rip,
                if vector == TRAP_PAGE_FAULT { cpu::read_cr2() } else { 0 }
            ),
        );
    }
    deliver(
        dom,
        regs,
        entry.address,
        error,
        entry.flags & TI_MASK_EVENTS != 0,
    )
}

/// Builds a bounce frame on the guest kernel stack and points the guest at `handler`.
pub fn deliver(
    dom: &mut Domain,
    regs: &mut GuestRegs,
    handler: u64,
    error: Option<u64>,
    mask: bool,
) -> Exit {
    let from_user = !dom.vcpu.kernel_mode;
    let b = Bounce {
        handler,
        error_code: error,
        from_user,
        saved_upcall_mask: dom.upcall_mask(),
        kernel_sp: dom.vcpu.kernel_sp,
    };
    let Some(frame) = frame_for(regs, &b) else {
        return dom.shut_down(
            Shutdown::Crash,
            format_args!("bounce frame would wrap the stack"),
        );
    };
    if from_user {
        dom.enter_kernel_mode();
    }
    if copy_to_guest(frame.rsp, frame.bytes()).is_err() {
        let rsp = frame.rsp;
        return dom.shut_down(
            Shutdown::Crash,
            format_args!("cannot write the bounce frame at {rsp:#x}: bad kernel stack"),
        );
    }
    enter_handler(regs, &frame, handler);
    if mask {
        dom.set_upcall_mask(1);
    }
    Exit::Iret
}

/// A `syscall` from guest user mode (or from compat code) goes to the guest kernel's syscall
/// (or syscall32) callback, which starts with DF clear. Without a callback it is a #UD at the
/// `syscall` itself, as in Xen 4.17 (which clears DF for that one too).
pub fn syscall_from_user(dom: &mut Domain, regs: &mut GuestRegs) -> Exit {
    let callback = if regs.in_compat_code() {
        dom.vcpu.syscall32_callback
    } else {
        dom.vcpu.syscall_callback
    };
    let exit = if callback.address == 0 {
        regs.rewind_rip(SYSCALL_INSN_LEN);
        bounce(dom, regs, TRAP_INVALID_OP, None)
    } else {
        deliver(dom, regs, callback.address, None, callback.mask_events)
    };
    if exit == Exit::Iret {
        enter_syscall_callback(regs);
    }
    exit
}

/// Makes `regs` a frame the CPU accepts on `iretq` to the guest. A frame it would refuse (a
/// bad selector or RIP, typically from the iret hypercall) becomes the #GP the guest takes in
/// that context, as in Xen, where the faulting `iretq` is handled as the guest's own fault.
/// `Err` says how the machine stops when the guest cannot take it (and is crashed).
pub fn checked_return<'a>(
    dom: &mut Domain,
    regs: &'a mut GuestRegs,
) -> Result<CheckedFrame<'a>, Exit> {
    // Xen's flat selectors first (the common case, and cheap); then the guest's descriptors.
    let classify = |sel: u16| match flat_selector(sel) {
        SelectorKind::Unusable => selector_kind(dom, sel),
        flat => flat,
    };
    let refused = match check_frame_with(regs, classify) {
        Ok(frame) => return Ok(frame),
        Err(refused) => refused,
    };
    let regs = refused.regs;
    let error_code = refused.fault.error_code;
    match bounce(dom, regs, TRAP_GP_FAULT, Some(error_code.into())) {
        Exit::Sysret | Exit::Iret => {}
        gone => return Err(gone),
    }
    check_frame(regs).map_err(|again| {
        // A bounce enters a registered (canonical) handler with flat selectors: not reached.
        dom.shut_down(
            Shutdown::Crash,
            format_args!(
                "no usable frame to return to, even after #GP({error_code:#x}): #GP({:#x})",
                again.fault.error_code
            ),
        )
    })
}

/// What `sel` names for `dom`'s vCPU: Xen's flat selectors in the reserved area, or a
/// descriptor of the guest's GDT or (mapped) LDT. An LDT page not mapped yet counts as
/// unusable: the frame's #GP then goes to the guest, which is what a CPU fault on the LDT
/// access would come to once Xen's lazy mapping failed.
fn selector_kind(dom: &Domain, sel: u16) -> SelectorKind {
    let index = u64::from(sel >> 3);
    let desc = &dom.vcpu.desc;
    let raw = if sel & 4 == 0 {
        if index >= FIRST_RESERVED_GDT_ENTRY {
            return flat_selector(sel);
        }
        if index >= desc.gdt_entries {
            return SelectorKind::Unusable;
        }
        let page = (index / 512) as usize;
        match desc.gdt_frames.get(page) {
            Some(&mfn) if page < desc.gdt_frame_count => {
                direct_map::read_u64(mfn * PAGE_SIZE + (index % 512) * 8)
            }
            _ => return SelectorKind::Unusable,
        }
    } else {
        if index >= desc.ldt_entries {
            return SelectorKind::Unusable;
        }
        match desc.ldt_mapped.get((index / 512) as usize) {
            Some(&Some(mfn)) => direct_map::read_u64(mfn * PAGE_SIZE + (index % 512) * 8),
            _ => return SelectorKind::Unusable,
        }
    };
    descriptor_kind(raw)
}

/// #NM: the guest set its virtual CR0.TS (fpu_taskswitch) and then used the FPU. As in Xen,
/// TS is cleared (the guest's and the CPU's) and the fault goes to the guest's trap 7.
fn device_not_available(dom: &mut Domain, regs: &mut GuestRegs) -> Exit {
    fpu::clear_ts();
    if !dom.vcpu.fpu.virtual_ts {
        // The CPU's TS is only set while the virtual one is: nothing for the guest to see.
        return Exit::Iret;
    }
    dom.vcpu.fpu.virtual_ts = false;
    bounce(dom, regs, TRAP_NO_DEVICE, None)
}

/// Handles exception `vector` raised by the guest.
pub fn exception(dom: &mut Domain, regs: &mut GuestRegs) -> Exit {
    let vector = regs.entry_vector as u8;
    let mut error = has_error_code(vector).then_some(u64::from(regs.error_code));
    match vector {
        TRAP_NMI => {
            log::warn!(
                "{} while d{} was running; resuming it",
                exception_name(vector),
                dom.id
            );
            return Exit::Iret;
        }
        TRAP_NO_DEVICE => return device_not_available(dom, regs),
        // The guest reads the cause with get_debugreg(6), as in Xen.
        TRAP_DEBUG => {
            let hw = cpu::take_dr6(debug_regs::DR6_DEFAULT);
            dom.vcpu.debug_regs[6] = debug_regs::after_debug_trap(dom.vcpu.debug_regs[6], hw);
        }
        // Forced emulation works in guest user mode too (Xen refuses it there only when CPUID
        // faulting is on, which xen-core does not offer).
        TRAP_INVALID_OP => {
            let (bytes, len) = fetch(regs);
            if decode_ud(&bytes[..len]) == Some(Instruction::ForcedCpuid) {
                let [a, b, c, d] = guest_cpuid(regs.rax as u32, regs.rcx as u32);
                (regs.rax, regs.rbx, regs.rcx, regs.rdx) = (a.into(), b.into(), c.into(), d.into());
                regs.advance_rip(FORCED_CPUID_LEN);
                return Exit::Iret;
            }
        }
        TRAP_GP_FAULT => {
            let (bytes, len) = instruction_bytes(regs);
            match priv_op::decode(&bytes[..len]) {
                Some(PrivInsn {
                    op: PrivOp::SoftInt { vector: n },
                    len,
                }) => {
                    // The guest kernel counts as ring 1, its user mode as ring 3. Vector 0x80
                    // is Xen's direct trap: any registered handler takes it, whatever its DPL
                    // (Xen 4.17 `init_int80_direct_trap`).
                    let ring = if dom.vcpu.kernel_mode { 1 } else { 3 };
                    let entry = dom.vcpu.trap_table[usize::from(n)];
                    let allowed = n == 0x80 || entry.flags & TI_DPL_MASK >= ring;
                    if entry.address != 0 && allowed {
                        regs.advance_rip(u64::from(len));
                        return bounce(dom, regs, n, None);
                    }
                    error = Some((u64::from(n) << 3) | 2);
                }
                Some(insn) => match emulate::priv_op::emulate(dom, regs, insn) {
                    Outcome::Resume => return Exit::Iret,
                    Outcome::Raise {
                        vector: TRAP_PAGE_FAULT,
                        error,
                        cr2,
                    } => {
                        let cr2 = cr2.unwrap_or(0);
                        let error = error.unwrap_or(0);
                        return deliver_page_fault(dom, regs, cr2, error);
                    }
                    Outcome::Raise { vector, error, .. } => {
                        return bounce(dom, regs, vector, error);
                    }
                    Outcome::NotEmulated => {}
                },
                None => {}
            }
        }
        TRAP_PAGE_FAULT => {
            let error = u64::from(regs.error_code);
            return deliver_page_fault(dom, regs, cpu::read_cr2(), error);
        }
        _ => {}
    }
    bounce(dom, regs, vector, error)
}

/// Delivers a page fault at `cr2` to the guest, with Xen's error code: the user bit says
/// whether the guest was in user mode (a guest kernel runs at CPL 3 but is told it is not).
fn deliver_page_fault(dom: &mut Domain, regs: &mut GuestRegs, cr2: u64, error: u64) -> Exit {
    dom.vcpu.cr2 = cr2;
    dom.set_cr2(cr2);
    let mut error = error & !PFEC_USER;
    if !dom.vcpu.kernel_mode {
        error |= PFEC_USER;
    }
    bounce(dom, regs, TRAP_PAGE_FAULT, Some(error))
}

/// A general-protection fault from the guest, handled before anything else takes the
/// hypervisor state: a `mov` to CR3 needs the page-type core (and takes the state itself);
/// everything else goes through [`exception`].
pub fn general_protection(regs: &mut GuestRegs) -> Exit {
    if let Some(exit) = emulate::priv_op::write_cr3(regs) {
        return exit;
    }
    with_state(|st| exception(st.dom, regs))
}

/// A page fault from the guest, handled before anything else takes the hypervisor state
/// (this takes it itself): the first use of an LDT page maps it, a trapped write to one of the
/// guest's L1 tables is emulated, anything else goes to the guest with CR2 as it was at the
/// fault (read first, before emulation can overwrite it).
pub fn page_fault(regs: &mut GuestRegs) -> Exit {
    let cr2 = cpu::read_cr2();
    if let Some(exit) = crate::descriptors::area_page_fault(regs, cr2) {
        return exit;
    }
    if emulate::pte_write::emulate(regs, cr2).is_some() {
        return Exit::Iret;
    }
    let error = u64::from(regs.error_code);
    with_state(|st| deliver_page_fault(st.dom, regs, cr2, error))
}
