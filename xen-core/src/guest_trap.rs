//! Exceptions from guests: emulate what Xen emulates, bounce the rest, crash on no handler.

use hypercall_abi::traps::*;
use xen_core::guest_regs::GuestRegs;
use xen_core::trap::bounce::{Bounce, enter_handler, frame_for};
use xen_core::trap::decode::{FORCED_CPUID_LEN, Instruction, decode_gp, decode_ud};

use crate::arch::x86_64::cpu;
use crate::arch::x86_64::uaccess::copy_from_guest;
use crate::arch::x86_64::uaccess::copy_to_guest;
use crate::domain::{Domain, Shutdown};
use crate::guest_cpuid::guest_cpuid;
use crate::hypercall::dispatch::Exit;

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
        return Exit::Stop(dom.shut_down(
            Shutdown::Crash,
            format_args!(
                "unhandled {what} (vector {vector}, error {:#x}) at rip {:#x}, cr2 {:#x}: no handler registered",
                error.unwrap_or(0),
                regs.rip,
                if vector == TRAP_PAGE_FAULT { cpu::read_cr2() } else { 0 }
            ),
        ));
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
        return Exit::Stop(dom.shut_down(
            Shutdown::Crash,
            format_args!("bounce frame would wrap the stack"),
        ));
    };
    if from_user {
        dom.enter_kernel_mode();
    }
    let mut bytes = [0u8; 64];
    for (i, w) in frame.words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    if copy_to_guest(frame.rsp, &bytes[..frame.words.len() * 8]).is_err() {
        let rsp = frame.rsp;
        return Exit::Stop(dom.shut_down(
            Shutdown::Crash,
            format_args!("cannot write the bounce frame at {rsp:#x}: bad kernel stack"),
        ));
    }
    enter_handler(regs, &frame, handler);
    if mask {
        dom.set_upcall_mask(1);
    }
    Exit::Iret
}

/// A `syscall` from guest user mode (or from compat code) goes to the guest kernel.
pub fn syscall_from_user(dom: &mut Domain, regs: &mut GuestRegs) -> Exit {
    let compat = regs.cs == u64::from(hypercall_abi::segment::FLAT_RING3_CS32);
    let callback = if compat {
        dom.vcpu.syscall32_callback
    } else {
        dom.vcpu.syscall_callback
    };
    if callback.address == 0 {
        // No entry point: as on hardware without one, the instruction is invalid.
        return bounce(dom, regs, TRAP_INVALID_OP, None);
    }
    deliver(dom, regs, callback.address, None, callback.mask_events)
}

/// Handles exception `vector` raised by the guest.
pub fn exception(dom: &mut Domain, regs: &mut GuestRegs) -> Exit {
    let vector = regs.entry_vector as u8;
    let mut error = has_error_code(vector).then_some(u64::from(regs.error_code));
    match vector {
        TRAP_NMI | TRAP_MACHINE_CHECK => {
            log::warn!(
                "{} while d{} was running; resuming it",
                exception_name(vector),
                dom.id
            );
            return Exit::Iret;
        }
        TRAP_INVALID_OP if dom.vcpu.kernel_mode => {
            let (bytes, len) = fetch(regs);
            if decode_ud(&bytes[..len]) == Some(Instruction::ForcedCpuid) {
                let [a, b, c, d] = guest_cpuid(regs.rax as u32, regs.rcx as u32);
                (regs.rax, regs.rbx, regs.rcx, regs.rdx) = (a.into(), b.into(), c.into(), d.into());
                regs.rip += FORCED_CPUID_LEN;
                return Exit::Iret;
            }
        }
        TRAP_GP_FAULT => {
            let (bytes, len) = fetch(regs);
            match decode_gp(&bytes[..len]) {
                Some(Instruction::ReadCr3 { reg, len }) if dom.vcpu.kernel_mode => {
                    regs.set_gpr(reg, dom.vcpu.kernel_l4 << 12);
                    regs.rip += u64::from(len);
                    return Exit::Iret;
                }
                Some(Instruction::SoftInt { vector: n }) => {
                    // The guest kernel counts as ring 1, its user mode as ring 3.
                    let ring = if dom.vcpu.kernel_mode { 1 } else { 3 };
                    let entry = dom.vcpu.trap_table[usize::from(n)];
                    if entry.address != 0 && entry.flags & TI_DPL_MASK >= ring {
                        regs.rip += 2;
                        return bounce(dom, regs, n, None);
                    }
                    error = Some((u64::from(n) << 3) | 2);
                }
                _ => {}
            }
        }
        TRAP_PAGE_FAULT => {
            dom.set_cr2(cpu::read_cr2());
            if dom.vcpu.kernel_mode {
                error = error.map(|e| e & !PFEC_USER);
            }
        }
        _ => {}
    }
    bounce(dom, regs, vector, error)
}
