//! Port I/O at #GP: `in`, `out`, `ins`, `outs` for a guest that may do them (Xen 4.17 rules in
//! `xen_core::trap::port_io`).

use hypercall_abi::traps::PFEC_WRITE;
use hypercall_abi::vm_assist::VMASST_TYPE_ARCHITECTURAL_IOPL;
use xen_core::guest_regs::GuestRegs;
use xen_core::trap::insn::{Seg, size_mask, write_gpr};
use xen_core::trap::msr::{MSR_FS_BASE, MSR_GS_BASE};
use xen_core::trap::port_io::{
    Emulated, IoState, bitmap_ok, emulated_pieces, iopl_ok, virtual_cpl,
};
use xen_core::trap::priv_op::{Port, PrivInsn, PrivOp};

use super::priv_op::Outcome;
use crate::arch::x86_64::msr_safe::rdmsr_safe;
use crate::arch::x86_64::paging;
use crate::arch::x86_64::port_io::{
    GrantedPort, cmos_read, cmos_write, pci_conf_read, pci_conf_write,
};
use crate::arch::x86_64::uaccess::{copy_from_guest, copy_to_guest};
use crate::domain::Domain;

/// RFLAGS.DF.
const RFLAGS_DF: u64 = 1 << 10;
/// Elements one trap moves at most; a longer `rep` resumes at the same instruction.
const REP_BUDGET: u64 = 1024;

/// The guest's virtual CPL for I/O checks.
pub fn cpl(dom: &Domain) -> u8 {
    let architectural = dom.vm_assist & (1 << VMASST_TYPE_ARCHITECTURAL_IOPL) != 0;
    virtual_cpl(dom.vcpu.kernel_mode, architectural)
}

/// Reads two bytes of the guest's I/O bitmap at `va`, in its kernel address space (Xen reads
/// it there even when the guest runs in user mode).
fn bitmap_bytes(dom: &Domain, va: u64) -> [Option<u8>; 2] {
    let user = !dom.vcpu.kernel_mode;
    if user {
        paging::load_guest_l4(dom.vcpu.kernel_l4);
    }
    let mut out = [None; 2];
    for (i, b) in out.iter_mut().enumerate() {
        let mut byte = [0u8];
        if copy_from_guest(&mut byte, va.wrapping_add(i as u64)).is_ok() {
            *b = Some(byte[0]);
        }
    }
    if user {
        paging::load_guest_l4(dom.vcpu.user_l4);
    }
    out
}

/// Xen's `guest_io_okay`: the virtual IOPL, or else the guest's I/O bitmap, allows it.
pub fn guest_io_okay(dom: &Domain, port: u16, size: u8) -> bool {
    let io: &IoState = &dom.vcpu.io;
    iopl_ok(io, cpl(dom))
        || bitmap_ok(io, port, size, |offset| {
            bitmap_bytes(dom, io.bitmap.wrapping_add(offset))
        })
}

/// Reads `size` bytes at `port` for the guest: directly if granted, else emulated.
fn read_port(dom: &mut Domain, port: u16, size: u8) -> u32 {
    if let Some(granted) = GrantedPort::new(dom.is_hardware(), port, size) {
        return granted.read();
    }
    let mut data = 0u32;
    let mut shift = 0;
    for (_, width, what) in emulated_pieces(dom.is_hardware(), port, size) {
        let io = &mut dom.vcpu.io;
        let value = match what {
            Emulated::Nothing => u32::MAX,
            Emulated::PciAddress => io.pci_cf8,
            Emulated::PciData { offset } => pci_conf_read(io.pci_cf8, offset, width),
            Emulated::RtcIndex => u32::from(io.cmos_index),
            Emulated::RtcData => u32::from(cmos_read(io.cmos_index)),
        };
        if width == 4 {
            return value;
        }
        data |= (value & size_mask(width) as u32) << shift;
        shift += u32::from(width) * 8;
    }
    data
}

/// Writes `size` bytes of `value` to `port` for the guest: directly if granted, else emulated
/// (or dropped).
fn write_port(dom: &mut Domain, port: u16, size: u8, value: u32) {
    if let Some(granted) = GrantedPort::new(dom.is_hardware(), port, size) {
        granted.write(value);
        return;
    }
    let mut data = value;
    for (_, width, what) in emulated_pieces(dom.is_hardware(), port, size) {
        let io = &mut dom.vcpu.io;
        match what {
            Emulated::Nothing => {}
            Emulated::PciAddress => io.pci_cf8 = data,
            Emulated::PciData { offset } => pci_conf_write(io.pci_cf8, offset, width, data),
            Emulated::RtcIndex => io.cmos_index = data as u8,
            Emulated::RtcData => cmos_write(io.cmos_index, data as u8),
        }
        data = data.checked_shr(u32::from(width) * 8).unwrap_or(0);
    }
}

fn segment_base(seg: Option<Seg>) -> u64 {
    match seg {
        Some(Seg::Fs) => rdmsr_safe(MSR_FS_BASE).unwrap_or(0),
        Some(Seg::Gs) => rdmsr_safe(MSR_GS_BASE).unwrap_or(0),
        _ => 0,
    }
}

/// Emulates an `in`, `out`, `ins` or `outs`; anything else is not ours.
pub fn emulate(dom: &mut Domain, regs: &mut GuestRegs, insn: PrivInsn) -> Outcome {
    let len = u64::from(insn.len);
    match insn.op {
        PrivOp::In { port, size } | PrivOp::Out { port, size } => {
            let port = match port {
                Port::Imm(p) => u16::from(p),
                Port::Dx => regs.rdx as u16,
            };
            if !guest_io_okay(dom, port, size) {
                return Outcome::NotEmulated;
            }
            if matches!(insn.op, PrivOp::In { .. }) {
                let value = read_port(dom, port, size);
                write_gpr(regs, 0, size, false, u64::from(value));
            } else {
                write_port(dom, port, size, regs.rax as u32);
            }
            regs.advance_rip(len);
            Outcome::Resume
        }
        PrivOp::Ins { size, rep, addr32 } => {
            string_io(dom, regs, len, size, rep, addr32, Direction::In)
        }
        PrivOp::Outs {
            size,
            rep,
            addr32,
            seg,
        } => string_io(dom, regs, len, size, rep, addr32, Direction::Out(seg)),
        _ => Outcome::NotEmulated,
    }
}

enum Direction {
    In,
    Out(Option<Seg>),
}

/// `ins`/`outs`, with or without `rep`: element by element, stopping at a page fault (which
/// goes to the guest with the registers showing the elements done) or after [`REP_BUDGET`]
/// elements (the instruction then runs again).
fn string_io(
    dom: &mut Domain,
    regs: &mut GuestRegs,
    len: u64,
    size: u8,
    rep: bool,
    addr32: bool,
    dir: Direction,
) -> Outcome {
    let port = regs.rdx as u16;
    if !guest_io_okay(dom, port, size) {
        return Outcome::NotEmulated;
    }
    let mask = if addr32 { 0xffff_ffff } else { u64::MAX };
    let mut left = if rep { regs.rcx & mask } else { 1 };
    let step = if regs.rflags & RFLAGS_DF != 0 {
        u64::from(size).wrapping_neg()
    } else {
        u64::from(size)
    };
    let mut budget = REP_BUDGET;
    while left > 0 && budget > 0 {
        match dir {
            Direction::In => {
                let at = regs.rdi & mask;
                let value = read_port(dom, port, size);
                let bytes = value.to_le_bytes();
                if copy_to_guest(at, &bytes[..usize::from(size)]).is_err() {
                    return Outcome::Raise {
                        vector: hypercall_abi::traps::TRAP_PAGE_FAULT,
                        error: Some(PFEC_WRITE),
                        cr2: Some(at),
                    };
                }
                regs.rdi = regs.rdi.wrapping_add(step) & mask;
            }
            Direction::Out(seg) => {
                let at = segment_base(seg).wrapping_add(regs.rsi & mask);
                let mut bytes = [0u8; 4];
                if copy_from_guest(&mut bytes[..usize::from(size)], at).is_err() {
                    return Outcome::Raise {
                        vector: hypercall_abi::traps::TRAP_PAGE_FAULT,
                        error: Some(0),
                        cr2: Some(at),
                    };
                }
                write_port(dom, port, size, u32::from_le_bytes(bytes));
                regs.rsi = regs.rsi.wrapping_add(step) & mask;
            }
        }
        left -= 1;
        budget -= 1;
        if rep {
            regs.rcx = left;
        }
    }
    if left == 0 {
        regs.advance_rip(len);
    }
    Outcome::Resume
}
