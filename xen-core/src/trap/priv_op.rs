//! Decoding the privileged instructions a PV guest may execute at #GP, as Xen 4.17 emulates them.
//!
//! Xen 4.17 (`pv_emulate_privileged_op` and its `validate` hook in `arch/x86/pv/emul-priv-op.c`)
//! emulates port I/O (`in`, `out`, `ins`, `outs`), `clts`, `wbinvd`, moves to and from control
//! and debug registers, `rdmsr`, `wrmsr`, `rdtsc`, `cpuid`, and `cli`/`sti` (as no-ops, only
//! when the virtual IOPL allows them). Everything else, `hlt` included, is a #GP for the guest.
//! `cpuid` and `rdtsc` only fault when CPUID faulting or CR4.TSD is on, which xen-core never
//! turns on, so they are not decoded here; `int n` reaches the #GP handler through the IDT's
//! DPL and is decoded here too, since the same handler has to tell it apart.

use super::insn::{Prefixes, Seg, prefixes};

/// Where an `in`/`out` takes its port from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// An 8-bit immediate.
    Imm(u8),
    /// DX.
    Dx,
}

/// A privileged instruction to emulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivOp {
    /// `rdmsr`.
    Rdmsr,
    /// `wrmsr`.
    Wrmsr,
    /// `wbinvd`.
    Wbinvd,
    /// `clts`.
    Clts,
    /// `cli`.
    Cli,
    /// `sti`.
    Sti,
    /// `mov %crN, %reg`.
    ReadCr {
        /// Control register number (REX.R included).
        cr: u8,
        /// Destination register.
        gpr: u8,
    },
    /// `mov %reg, %crN`.
    WriteCr {
        /// Control register number.
        cr: u8,
        /// Source register.
        gpr: u8,
    },
    /// `mov %drN, %reg`.
    ReadDr {
        /// Debug register number.
        dr: u8,
        /// Destination register.
        gpr: u8,
    },
    /// `mov %reg, %drN`.
    WriteDr {
        /// Debug register number.
        dr: u8,
        /// Source register.
        gpr: u8,
    },
    /// `in` into AL/AX/EAX.
    In {
        /// The port.
        port: Port,
        /// 1, 2 or 4 bytes.
        size: u8,
    },
    /// `out` from AL/AX/EAX.
    Out {
        /// The port.
        port: Port,
        /// 1, 2 or 4 bytes.
        size: u8,
    },
    /// `ins` to ES:[RDI] from port DX.
    Ins {
        /// 1, 2 or 4 bytes per element.
        size: u8,
        /// With a REP prefix (RCX elements).
        rep: bool,
        /// 32-bit addressing: RDI/RCX taken as EDI/ECX.
        addr32: bool,
    },
    /// `outs` from seg:[RSI] to port DX.
    Outs {
        /// 1, 2 or 4 bytes per element.
        size: u8,
        /// With a REP prefix.
        rep: bool,
        /// 32-bit addressing.
        addr32: bool,
        /// Segment override (DS by default, flat in 64-bit mode except FS and GS).
        seg: Option<Seg>,
    },
    /// `lock mov` to or from a control register (AMD's alternative CR8 encoding, which the
    /// CPU may run into a #GP): Xen's emulator, which does not offer that encoding to PV
    /// guests, raises #UD.
    LockedCrMove,
    /// `int $vector`.
    SoftInt {
        /// The vector.
        vector: u8,
    },
}

/// A decoded instruction and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrivInsn {
    /// What to do.
    pub op: PrivOp,
    /// Its length in bytes (to advance RIP by).
    pub len: u8,
}

fn io_size(opcode: u8, p: &Prefixes) -> u8 {
    if opcode & 1 == 0 {
        1
    } else if p.operand_size {
        2
    } else {
        4
    }
}

/// Decodes the instruction a #GP was raised at. `None` for anything Xen does not emulate (the
/// guest then gets the #GP) or bytes that do not form a whole instruction.
pub fn decode(bytes: &[u8]) -> Option<PrivInsn> {
    let p = prefixes(bytes)?;
    let rest = bytes.get(p.len..)?;
    // LOCK makes every one of these #UD on the CPU before any #GP, except a move to or from
    // a control register on a CPU with AMD's alternative CR8 encoding.
    if p.lock {
        return match rest {
            [0x0f, 0x20 | 0x22, _, ..] if p.len + 3 <= super::insn::MAX_INSN_LEN => {
                Some(PrivInsn {
                    op: PrivOp::LockedCrMove,
                    len: (p.len + 3) as u8,
                })
            }
            _ => None,
        };
    }
    let (op, opcode_len) = match *rest.first()? {
        0x0f => {
            let op2 = *rest.get(1)?;
            match op2 {
                0x06 => (PrivOp::Clts, 2),
                0x09 => (PrivOp::Wbinvd, 2),
                0x30 => (PrivOp::Wrmsr, 2),
                0x32 => (PrivOp::Rdmsr, 2),
                0x20..=0x23 => {
                    // The ModRM's mod field is ignored: always a register operand, never a
                    // SIB or displacement.
                    let m = *rest.get(2)?;
                    let reg = ((m >> 3) & 7) | (p.rex_r() << 3);
                    let gpr = (m & 7) | (p.rex_b() << 3);
                    let op = match op2 {
                        0x20 => PrivOp::ReadCr { cr: reg, gpr },
                        0x22 => PrivOp::WriteCr { cr: reg, gpr },
                        0x21 => PrivOp::ReadDr { dr: reg, gpr },
                        _ => PrivOp::WriteDr { dr: reg, gpr },
                    };
                    (op, 3)
                }
                _ => return None,
            }
        }
        0xfa => (PrivOp::Cli, 1),
        0xfb => (PrivOp::Sti, 1),
        0xcd => (
            PrivOp::SoftInt {
                vector: *rest.get(1)?,
            },
            2,
        ),
        o @ (0xe4 | 0xe5) => (
            PrivOp::In {
                port: Port::Imm(*rest.get(1)?),
                size: io_size(o, &p),
            },
            2,
        ),
        o @ (0xe6 | 0xe7) => (
            PrivOp::Out {
                port: Port::Imm(*rest.get(1)?),
                size: io_size(o, &p),
            },
            2,
        ),
        o @ (0xec | 0xed) => (
            PrivOp::In {
                port: Port::Dx,
                size: io_size(o, &p),
            },
            1,
        ),
        o @ (0xee | 0xef) => (
            PrivOp::Out {
                port: Port::Dx,
                size: io_size(o, &p),
            },
            1,
        ),
        o @ (0x6c | 0x6d) => (
            PrivOp::Ins {
                size: io_size(o, &p),
                rep: p.rep.is_some(),
                addr32: p.address_size,
            },
            1,
        ),
        o @ (0x6e | 0x6f) => (
            PrivOp::Outs {
                size: io_size(o, &p),
                rep: p.rep.is_some(),
                addr32: p.address_size,
                seg: p.segment,
            },
            1,
        ),
        _ => return None,
    };
    let len = p.len + opcode_len;
    if len > super::insn::MAX_INSN_LEN || len > bytes.len() {
        return None;
    }
    Some(PrivInsn { op, len: len as u8 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(bytes: &[u8]) -> Option<(PrivOp, u8)> {
        decode(bytes).map(|i| (i.op, i.len))
    }

    #[test]
    fn msr_and_simple_ops() {
        assert_eq!(op(&[0x0f, 0x32]), Some((PrivOp::Rdmsr, 2)));
        assert_eq!(op(&[0x0f, 0x30, 0x90]), Some((PrivOp::Wrmsr, 2)));
        assert_eq!(op(&[0x48, 0x0f, 0x32]), Some((PrivOp::Rdmsr, 3)));
        assert_eq!(op(&[0x0f, 0x06]), Some((PrivOp::Clts, 2)));
        assert_eq!(op(&[0x0f, 0x09]), Some((PrivOp::Wbinvd, 2)));
        assert_eq!(op(&[0xfa]), Some((PrivOp::Cli, 1)));
        assert_eq!(op(&[0xfb]), Some((PrivOp::Sti, 1)));
        assert_eq!(op(&[0xf4]), None, "hlt is a #GP for the guest");
        assert_eq!(op(&[0x0f, 0x01, 0xf8]), None, "swapgs is a #GP");
        assert_eq!(op(&[0x0f, 0x01, 0x18]), None, "lidt is a #GP");
        assert_eq!(op(&[0x0f]), None);
        assert_eq!(op(&[]), None);
    }

    #[test]
    fn control_and_debug_registers() {
        assert_eq!(
            op(&[0x0f, 0x20, 0xd8]),
            Some((PrivOp::ReadCr { cr: 3, gpr: 0 }, 3))
        );
        assert_eq!(
            op(&[0x41, 0x0f, 0x20, 0xdc]),
            Some((PrivOp::ReadCr { cr: 3, gpr: 12 }, 4))
        );
        assert_eq!(
            op(&[0x44, 0x0f, 0x20, 0xc0]),
            Some((PrivOp::ReadCr { cr: 8, gpr: 0 }, 4))
        );
        assert_eq!(
            op(&[0x0f, 0x22, 0xe0]),
            Some((PrivOp::WriteCr { cr: 4, gpr: 0 }, 3))
        );
        // mod != 3 still names a register, with no SIB or displacement after it.
        assert_eq!(
            op(&[0x0f, 0x22, 0x03]),
            Some((PrivOp::WriteCr { cr: 0, gpr: 3 }, 3))
        );
        assert_eq!(
            op(&[0x0f, 0x22, 0x04]),
            Some((PrivOp::WriteCr { cr: 0, gpr: 4 }, 3))
        );
        assert_eq!(
            op(&[0x66, 0x0f, 0x20, 0xc0]),
            Some((PrivOp::ReadCr { cr: 0, gpr: 0 }, 4))
        );
        assert_eq!(
            op(&[0x0f, 0x21, 0xf8]),
            Some((PrivOp::ReadDr { dr: 7, gpr: 0 }, 3))
        );
        assert_eq!(
            op(&[0x0f, 0x23, 0xc1]),
            Some((PrivOp::WriteDr { dr: 0, gpr: 1 }, 3))
        );
        assert_eq!(
            op(&[0xf0, 0x0f, 0x20, 0xc0]),
            Some((PrivOp::LockedCrMove, 4)),
            "Xen 4.17 gives #UD"
        );
        assert_eq!(op(&[0xf0, 0x0f, 0x32]), None, "LOCK rdmsr is the CPU's #UD");
        assert_eq!(op(&[0x0f, 0x20]), None, "truncated");
    }

    #[test]
    fn port_io_forms() {
        let inb = |port| PrivOp::In { port, size: 1 };
        assert_eq!(op(&[0xe4, 0x80]), Some((inb(Port::Imm(0x80)), 2)));
        assert_eq!(
            op(&[0xe5, 0x71]),
            Some((
                PrivOp::In {
                    port: Port::Imm(0x71),
                    size: 4
                },
                2
            ))
        );
        assert_eq!(
            op(&[0x66, 0xe5, 0x71]),
            Some((
                PrivOp::In {
                    port: Port::Imm(0x71),
                    size: 2
                },
                3
            ))
        );
        assert_eq!(
            op(&[0x48, 0xed]),
            Some((
                PrivOp::In {
                    port: Port::Dx,
                    size: 4
                },
                2
            )),
            "REX.W does not widen port I/O"
        );
        assert_eq!(op(&[0xec]), Some((inb(Port::Dx), 1)));
        assert_eq!(
            op(&[0xe6, 0x80]),
            Some((
                PrivOp::Out {
                    port: Port::Imm(0x80),
                    size: 1
                },
                2
            ))
        );
        assert_eq!(
            op(&[0x66, 0xef]),
            Some((
                PrivOp::Out {
                    port: Port::Dx,
                    size: 2
                },
                2
            ))
        );
        assert_eq!(op(&[0xe4]), None, "missing port byte");
    }

    #[test]
    fn string_io() {
        assert_eq!(
            op(&[0xf3, 0x6c]),
            Some((
                PrivOp::Ins {
                    size: 1,
                    rep: true,
                    addr32: false
                },
                2
            ))
        );
        assert_eq!(
            op(&[0x67, 0x66, 0x6d]),
            Some((
                PrivOp::Ins {
                    size: 2,
                    rep: false,
                    addr32: true
                },
                3
            ))
        );
        assert_eq!(
            op(&[0x64, 0xf3, 0x6f]),
            Some((
                PrivOp::Outs {
                    size: 4,
                    rep: true,
                    addr32: false,
                    seg: Some(Seg::Fs)
                },
                3
            ))
        );
    }

    #[test]
    fn soft_int() {
        assert_eq!(
            op(&[0xcd, 0x80]),
            Some((PrivOp::SoftInt { vector: 0x80 }, 2))
        );
        assert_eq!(op(&[0xcd]), None);
    }
}
