//! Privileged instructions at #GP: what Xen 4.17 emulates for a PV kernel, acted out.
//!
//! From guest user mode only port I/O and `cli`/`sti` can pass (through the virtual IOPL or
//! the I/O bitmap); every other privileged instruction needs the guest kernel. Facts checked
//! against Xen 4.17.7 with a probe guest (QEMU, -cpu max):
//! - CR0 reads show the CPU's CR0 with the guest's virtual TS; a write may change TS only (it
//!   is fpu_taskswitch); `clts` clears the virtual TS.
//! - CR2 reads give the virtual CR2 (last page fault delivered, or the last value written).
//! - CR3 reads give the kernel L4's machine address; a write switches the kernel's page tables
//!   as mmuext new_baseptr does (Xen's `new_guest_cr3`: the frame must take the L4 type, else
//!   #GP; the LDT's mapped pages are dropped) - see [`write_cr3`], which needs the page-type
//!   core and so runs before the rest.
//! - CR4 reads show PAE, MCE, OSFXSR, OSXMMEXCPT as the CPU has them plus the bits the guest
//!   controls (TSD, DE, FSGSBASE, OSXSAVE, within what the CPU offers); writes store those.
//!   xen-core does not apply them to the CPU (Xen does).
//! - Debug registers follow `xen_core::trap::debug_regs`, as set/get_debugreg do: a refused
//!   write is #GP, DR4/DR5 with CR4.DE set are #UD.
//! - `wbinvd` is a no-op for a DomU and flushes caches for Dom0.
//! - `cli`/`sti` are no-ops when the virtual IOPL allows them, else #GP.
//! - MSRs: `xen_core::trap::msr`.

use hypercall_abi::traps::{TRAP_GP_FAULT, TRAP_INVALID_OP};
use xen_core::guest_regs::GuestRegs;
use xen_core::trap::debug_regs;
use xen_core::trap::insn::{gpr, write_gpr};
use xen_core::trap::msr::{self, MsrWrite};
use xen_core::trap::port_io::iopl_ok;
use xen_core::trap::priv_op::{PrivInsn, PrivOp};

use xen_core::trap::priv_op::decode;

use super::fetch::instruction_bytes;
use super::msr_env::HwMsrEnv;
use super::port;
use crate::arch::x86_64::{cpu, fpu};
use crate::domain::Domain;
use crate::hypercall::dispatch::Exit;
use crate::hypercall::mmuext_op::new_guest_cr3;
use crate::mm_glue::with_mm;

/// What became of the trapping instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Emulated: resume the guest.
    Resume,
    /// Deliver this exception instead (CR2 set first for a page fault).
    Raise {
        /// Vector.
        vector: u8,
        /// Error code, if the vector has one.
        error: Option<u64>,
        /// Faulting address of a page fault.
        cr2: Option<u64>,
    },
    /// Not emulated: the guest gets the original #GP.
    NotEmulated,
}

const CR0_TS: u64 = 1 << 3;
const CR4_TSD: u64 = 1 << 2;
const CR4_PAE: u64 = 1 << 5;
const CR4_MCE: u64 = 1 << 6;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_FSGSBASE: u64 = 1 << 16;
const CR4_OSXSAVE: u64 = 1 << 18;
/// The CPU's CR4 bits a PV guest sees (Xen's `PV_CR4_GUEST_VISIBLE_MASK`).
const CR4_GUEST_VISIBLE: u64 = CR4_PAE | CR4_MCE | CR4_OSFXSR | CR4_OSXMMEXCPT;

fn ud() -> Outcome {
    Outcome::Raise {
        vector: TRAP_INVALID_OP,
        error: None,
        cr2: None,
    }
}

fn gp() -> Outcome {
    Outcome::Raise {
        vector: TRAP_GP_FAULT,
        error: Some(0),
        cr2: None,
    }
}

/// The CR0 a guest reads: the CPU's, with its virtual TS.
fn guest_cr0(dom: &Domain) -> u64 {
    let ts = if dom.vcpu.fpu.virtual_ts { CR0_TS } else { 0 };
    (cpu::read_cr0() & !CR0_TS) | ts
}

/// The CR4 bits the guest may control on this CPU (Xen's `PV_CR4_GUEST_MASK` cut to the
/// CPU's features).
fn cr4_guest_mask() -> u64 {
    let [_, _, c1, d1] = cpu::cpuid(1, 0);
    let b7 = if cpu::cpuid(0, 0)[0] >= 7 {
        cpu::cpuid(7, 0)[1]
    } else {
        0
    };
    let mut mask = 0;
    if d1 & (1 << 4) != 0 {
        mask |= CR4_TSD;
    }
    if d1 & (1 << 2) != 0 {
        mask |= debug_regs::CR4_DE;
    }
    if b7 & 1 != 0 {
        mask |= CR4_FSGSBASE;
    }
    if c1 & (1 << 26) != 0 {
        mask |= CR4_OSXSAVE;
    }
    mask
}

/// The CR4 a guest reads. Xen always runs with MCE on, so a CPU with machine-check support
/// shows it whether or not xen-core enabled it.
fn guest_cr4(dom: &Domain) -> u64 {
    let mce = if cpu::cpuid(1, 0)[3] & (1 << 7) != 0 {
        CR4_MCE
    } else {
        0
    };
    (cpu::read_cr4() & CR4_GUEST_VISIBLE) | mce | dom.vcpu.cr4_guest
}

/// Emulates `insn`, which raised #GP in `dom` at `regs.rip`. `int n` is not handled here.
pub fn emulate(dom: &mut Domain, regs: &mut GuestRegs, insn: PrivInsn) -> Outcome {
    let len = u64::from(insn.len);
    let kernel = dom.vcpu.kernel_mode;
    match insn.op {
        PrivOp::In { .. } | PrivOp::Out { .. } | PrivOp::Ins { .. } | PrivOp::Outs { .. } => {
            port::emulate(dom, regs, insn)
        }
        PrivOp::Cli | PrivOp::Sti => {
            // Xen does not track a virtual IF here: the instruction is skipped.
            if !iopl_ok(&dom.vcpu.io, port::cpl(dom)) {
                return Outcome::NotEmulated;
            }
            regs.advance_rip(len);
            Outcome::Resume
        }
        PrivOp::SoftInt { .. } => Outcome::NotEmulated,
        PrivOp::LockedCrMove => ud(),
        // Everything below needs the guest kernel (x86's CPL 0 checks).
        _ if !kernel => Outcome::NotEmulated,
        PrivOp::Rdmsr => {
            let msr = regs.rcx as u32;
            let mut env = HwMsrEnv {
                has_gp_handler: dom.vcpu.trap_table[usize::from(TRAP_GP_FAULT)].address != 0,
            };
            match msr::read(&mut env, msr) {
                Ok(read) => {
                    if read.faked {
                        log::warn!("d{}v0 faking RDMSR {msr:#010x}", dom.id);
                    }
                    regs.rax = read.value & 0xffff_ffff;
                    regs.rdx = read.value >> 32;
                    regs.advance_rip(len);
                    Outcome::Resume
                }
                Err(_) => gp(),
            }
        }
        PrivOp::Wrmsr => {
            let msr = regs.rcx as u32;
            let value = (regs.rdx << 32) | (regs.rax & 0xffff_ffff);
            let mut env = HwMsrEnv {
                has_gp_handler: true,
            };
            match msr::write(&mut env, msr, value) {
                Ok(result) => {
                    if result == MsrWrite::Dropped {
                        log::debug!("d{} WRMSR {msr:#010x} <- {value:#x} ignored", dom.id);
                    }
                    regs.advance_rip(len);
                    Outcome::Resume
                }
                Err(_) => gp(),
            }
        }
        PrivOp::ReadCr { cr, gpr: reg } => {
            let value = match cr {
                0 => guest_cr0(dom),
                2 => dom.vcpu.cr2,
                3 => dom.vcpu.kernel_l4 << 12,
                4 => guest_cr4(dom),
                _ => return Outcome::NotEmulated,
            };
            write_gpr(regs, reg, 8, false, value);
            regs.advance_rip(len);
            Outcome::Resume
        }
        PrivOp::WriteCr { cr, gpr: reg } => {
            let value = gpr(regs, reg);
            match cr {
                0 => {
                    if (value ^ guest_cr0(dom)) & !CR0_TS != 0 {
                        return Outcome::NotEmulated;
                    }
                    dom.vcpu.fpu.virtual_ts = value & CR0_TS != 0;
                    fpu::apply_virtual_ts(&dom.vcpu.fpu);
                }
                2 => {
                    dom.vcpu.cr2 = value;
                    dom.set_cr2(value);
                }
                4 => dom.vcpu.cr4_guest = value & cr4_guest_mask(),
                _ => return Outcome::NotEmulated,
            }
            regs.advance_rip(len);
            Outcome::Resume
        }
        PrivOp::ReadDr { dr, gpr: reg } => {
            let Ok(dr) = debug_regs::resolve(u64::from(dr), dom.vcpu.cr4_guest) else {
                return ud();
            };
            write_gpr(regs, reg, 8, false, dom.vcpu.debug_regs[dr]);
            regs.advance_rip(len);
            Outcome::Resume
        }
        PrivOp::WriteDr { dr, gpr: reg } => {
            let Ok(dr) = debug_regs::resolve(u64::from(dr), dom.vcpu.cr4_guest) else {
                return ud();
            };
            let Ok(stored) = debug_regs::write_value(dr, gpr(regs, reg)) else {
                return gp();
            };
            dom.vcpu.debug_regs[dr] = stored;
            regs.advance_rip(len);
            Outcome::Resume
        }
        PrivOp::Clts => {
            dom.vcpu.fpu.virtual_ts = false;
            fpu::apply_virtual_ts(&dom.vcpu.fpu);
            regs.advance_rip(len);
            Outcome::Resume
        }
        PrivOp::Wbinvd => {
            if dom.is_hardware() {
                cpu::wbinvd();
            }
            regs.advance_rip(len);
            Outcome::Resume
        }
    }
}

/// `mov %reg, %cr3` from the guest kernel: Xen's `new_guest_cr3` (what mmuext new_baseptr
/// does too). Takes the hypervisor state itself, so the caller must not hold it. `None` when
/// the instruction at RIP is not such a move or the switch is refused: the #GP then goes on
/// through [`emulate`], which delivers it.
pub fn write_cr3(regs: &mut GuestRegs) -> Option<Exit> {
    let (bytes, len) = instruction_bytes(regs);
    let insn = decode(&bytes[..len])?;
    let PrivOp::WriteCr { cr: 3, gpr: reg } = insn.op else {
        return None;
    };
    let mfn = gpr(regs, reg) >> 12;
    with_mm(|mm, dom| {
        if !dom.vcpu.kernel_mode {
            return None;
        }
        new_guest_cr3(mm, dom, mfn).ok()?;
        regs.advance_rip(u64::from(insn.len));
        Some(Exit::Iret)
    })
}
