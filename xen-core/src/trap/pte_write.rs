//! The guest instruction behind a write fault on one of its read-only L1 tables: decode, apply.
//!
//! Xen 4.17 emulates such a write (`ptwr_do_page_fault` in `arch/x86/pv/ro-page-fault.c`)
//! with its full x86 emulator, accepting any instruction that writes memory, as long as the
//! write is naturally aligned, 1, 2, 4 or 8 bytes, and inside the faulting page; a narrower
//! write is merged into the whole 8-byte entry (`ptwr_emulated_update`). xen-core decodes the
//! writes a kernel uses on page-table entries: `mov` (register or immediate), `xchg`,
//! `cmpxchg`, and the read-modify-write `add`, `or`, `and`, `sub`, `xor` (register or
//! immediate source). Flags are computed as the CPU would.

use super::insn::{MAX_INSN_LEN, MemRef, Rm, Seg, gpr, modrm, prefixes, size_mask};
use crate::guest_regs::GuestRegs;

/// RFLAGS.CF
pub const RFLAGS_CF: u64 = 1 << 0;
/// RFLAGS.PF
pub const RFLAGS_PF: u64 = 1 << 2;
/// RFLAGS.AF
pub const RFLAGS_AF: u64 = 1 << 4;
/// RFLAGS.ZF
pub const RFLAGS_ZF: u64 = 1 << 6;
/// RFLAGS.SF
pub const RFLAGS_SF: u64 = 1 << 7;
/// RFLAGS.OF
pub const RFLAGS_OF: u64 = 1 << 11;
/// The arithmetic flags an ALU instruction sets.
pub const RFLAGS_ARITH: u64 = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF;

/// What the instruction does with the memory operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// `mov`: store the source.
    Mov,
    /// `xchg`: store the source, load the old value into it.
    Xchg,
    /// `cmpxchg`: store the source if the accumulator equals the old value, else load it.
    Cmpxchg,
    /// `add`.
    Add,
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `sub`.
    Sub,
    /// `xor`.
    Xor,
}

/// The value written, or combined with the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A register; `high8` names AH/CH/DH/BH (`n` is then 0..=3).
    Reg {
        /// Register number.
        n: u8,
        /// The second byte of the register.
        high8: bool,
    },
    /// An immediate, already sign-extended to the operand size.
    Imm(u64),
}

/// A decoded memory-writing instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteWrite {
    /// The operation.
    pub op: WriteOp,
    /// Operand size: 1, 2, 4 or 8 bytes.
    pub size: u8,
    /// The memory operand.
    pub mem: MemRef,
    /// Segment override (only FS and GS have a base in 64-bit mode).
    pub segment: Option<Seg>,
    /// The source operand.
    pub src: Source,
    /// Instruction length.
    pub len: u8,
}

/// The effect of a [`PteWrite`] on an old memory value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The value to store (`size` bytes), or `None` when nothing is written (a failed
    /// `cmpxchg`).
    pub store: Option<u64>,
    /// A register to load: (register, high8, value), `size` bytes wide.
    pub load: Option<(u8, bool, u64)>,
    /// The new arithmetic flags (only [`RFLAGS_ARITH`] bits), when the instruction sets them.
    pub flags: Option<u64>,
}

fn reg_source(reg: u8, size: u8, rex: u8) -> Source {
    if size == 1 && rex == 0 && (4..8).contains(&reg) {
        Source::Reg {
            n: reg - 4,
            high8: true,
        }
    } else {
        Source::Reg {
            n: reg,
            high8: false,
        }
    }
}

fn imm(bytes: &[u8], at: usize, len: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(len)?)?;
    Some(match len {
        1 => b[0] as i8 as i64 as u64,
        2 => i16::from_le_bytes([b[0], b[1]]) as i64 as u64,
        _ => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64 as u64,
    })
}

/// Decodes a memory-writing instruction. `None` for any other instruction, a register
/// destination, or truncated bytes.
pub fn decode(bytes: &[u8]) -> Option<PteWrite> {
    let p = prefixes(bytes)?;
    let rest = bytes.get(p.len..)?;
    let (opcode, opcode_len) = match *rest.first()? {
        0x0f => (0x0f00 | u16::from(*rest.get(1)?), 2),
        b => (u16::from(b), 1),
    };
    let m = modrm(rest.get(opcode_len..)?, &p)?;
    let Rm::Mem(mem) = m.rm else {
        return None;
    };
    let wide = p.operand_bytes();
    let byte_op = opcode & 1 == 0;
    let size = if byte_op { 1 } else { wide };
    let imm_at = opcode_len + m.len;
    // (op, source, immediate length)
    let (op, src, imm_len) = match opcode {
        0x88 | 0x89 => (WriteOp::Mov, reg_source(m.reg, size, p.rex), 0),
        0x86 | 0x87 => (WriteOp::Xchg, reg_source(m.reg, size, p.rex), 0),
        0x0fb0 | 0x0fb1 => (WriteOp::Cmpxchg, reg_source(m.reg, size, p.rex), 0),
        0x00 | 0x01 | 0x08 | 0x09 | 0x20 | 0x21 | 0x28 | 0x29 | 0x30 | 0x31 => {
            let op = match opcode & !1 {
                0x00 => WriteOp::Add,
                0x08 => WriteOp::Or,
                0x20 => WriteOp::And,
                0x28 => WriteOp::Sub,
                _ => WriteOp::Xor,
            };
            (op, reg_source(m.reg, size, p.rex), 0)
        }
        0xc6 | 0xc7 if m.reg_raw == 0 => {
            let n = if size == 8 { 4 } else { size as usize };
            (WriteOp::Mov, Source::Imm(imm(rest, imm_at, n)?), n)
        }
        0x80 | 0x81 | 0x83 => {
            let op = match m.reg_raw {
                0 => WriteOp::Add,
                1 => WriteOp::Or,
                4 => WriteOp::And,
                5 => WriteOp::Sub,
                6 => WriteOp::Xor,
                _ => return None,
            };
            let size = if opcode == 0x80 { 1 } else { wide };
            let n = match opcode {
                0x81 if size == 2 => 2,
                0x81 => 4,
                _ => 1,
            };
            let value = imm(rest, imm_at, n)?;
            let len = p.len + imm_at + n;
            if len > MAX_INSN_LEN {
                return None;
            }
            return Some(PteWrite {
                op,
                size,
                mem,
                segment: p.segment,
                src: Source::Imm(value & size_mask(size)),
                len: len as u8,
            });
        }
        _ => return None,
    };
    let len = p.len + imm_at + imm_len;
    if len > MAX_INSN_LEN {
        return None;
    }
    let src = match src {
        Source::Imm(v) => Source::Imm(v & size_mask(size)),
        s => s,
    };
    Some(PteWrite {
        op,
        size,
        mem,
        segment: p.segment,
        src,
        len: len as u8,
    })
}

fn parity(v: u64) -> u64 {
    if (v as u8).count_ones().is_multiple_of(2) {
        RFLAGS_PF
    } else {
        0
    }
}

fn sign_bit(size: u8) -> u64 {
    1 << (u32::from(size) * 8 - 1)
}

fn result_flags(res: u64, size: u8) -> u64 {
    let mut f = parity(res);
    if res & size_mask(size) == 0 {
        f |= RFLAGS_ZF;
    }
    if res & sign_bit(size) != 0 {
        f |= RFLAGS_SF;
    }
    f
}

/// `a + b` or `a - b` at `size` bytes: the result and the flags the CPU sets.
fn add_sub(a: u64, b: u64, size: u8, sub: bool) -> (u64, u64) {
    let mask = size_mask(size);
    let (a, b) = (a & mask, b & mask);
    let res = if sub {
        a.wrapping_sub(b)
    } else {
        a.wrapping_add(b)
    } & mask;
    let mut f = result_flags(res, size);
    let carry = if sub {
        a < b
    } else {
        // A carry out of the operand size.
        res < a
    };
    if carry {
        f |= RFLAGS_CF;
    }
    let overflow = if sub {
        (a ^ b) & (a ^ res)
    } else {
        (a ^ res) & (b ^ res)
    };
    if overflow & sign_bit(size) != 0 {
        f |= RFLAGS_OF;
    }
    if (a ^ b ^ res) & 0x10 != 0 {
        f |= RFLAGS_AF;
    }
    (res, f)
}

impl PteWrite {
    /// The source value, `size` bytes wide.
    pub fn source(&self, regs: &GuestRegs) -> u64 {
        match self.src {
            Source::Imm(v) => v,
            Source::Reg { n, high8: true } => (gpr(regs, n) >> 8) & 0xff,
            Source::Reg { n, high8: false } => gpr(regs, n) & size_mask(self.size),
        }
    }

    /// What the instruction does given the `size`-byte value `old` in memory.
    pub fn apply(&self, old: u64, regs: &GuestRegs) -> Outcome {
        let size = self.size;
        let mask = size_mask(size);
        let old = old & mask;
        let src = self.source(regs);
        let logic = |res: u64| Outcome {
            store: Some(res & mask),
            load: None,
            flags: Some(result_flags(res & mask, size)),
        };
        match self.op {
            WriteOp::Mov => Outcome {
                store: Some(src),
                load: None,
                flags: None,
            },
            WriteOp::Xchg => Outcome {
                store: Some(src),
                // The decoder only makes xchg with a register source.
                load: match self.src {
                    Source::Reg { n, high8 } => Some((n, high8, old)),
                    Source::Imm(_) => None,
                },
                flags: None,
            },
            WriteOp::Cmpxchg => {
                let acc = regs.rax & mask;
                let (_, flags) = add_sub(acc, old, size, true);
                if acc == old {
                    Outcome {
                        store: Some(src),
                        load: None,
                        flags: Some(flags),
                    }
                } else {
                    Outcome {
                        store: None,
                        load: Some((0, false, old)),
                        flags: Some(flags),
                    }
                }
            }
            WriteOp::Or => logic(old | src),
            WriteOp::And => logic(old & src),
            WriteOp::Xor => logic(old ^ src),
            WriteOp::Add | WriteOp::Sub => {
                let (res, flags) = add_sub(old, src, size, self.op == WriteOp::Sub);
                Outcome {
                    store: Some(res),
                    load: None,
                    flags: Some(flags),
                }
            }
        }
    }
}

/// Xen's rule for an emulated page-table write: naturally aligned and in the page of the
/// faulting address `cr2`.
pub fn write_allowed(addr: u64, size: u8, cr2: u64) -> bool {
    matches!(size, 1 | 2 | 4 | 8)
        && (addr ^ cr2) & !0xfff == 0
        && addr.is_multiple_of(u64::from(size))
}

/// The 8-byte entry `full` with `size` bytes at byte `offset` replaced by `value`.
pub fn merge(full: u64, offset: u8, size: u8, value: u64) -> u64 {
    let shift = u32::from(offset) * 8;
    let mask = size_mask(size).checked_shl(shift).unwrap_or(0);
    (full & !mask) | ((value << shift) & mask)
}

/// The `size` bytes at byte `offset` of the 8-byte entry `full`.
pub fn extract(full: u64, offset: u8, size: u8) -> u64 {
    full.checked_shr(u32::from(offset) * 8).unwrap_or(0) & size_mask(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> GuestRegs {
        GuestRegs {
            rax: 0x1111,
            rbx: 0xffff_ffff_8010_0ff8,
            rcx: 0x0000_0000_3e9f_f067,
            rdx: 0x8000_0000_0000_0025,
            r9: 0x1_0000_0000,
            ..Default::default()
        }
    }

    fn addr(w: &PteWrite, r: &GuestRegs, rip: u64) -> u64 {
        w.mem.offset(r, rip + u64::from(w.len))
    }

    #[test]
    fn mov_forms() {
        let r = regs();
        // mov %rcx, (%rbx)
        let w = decode(&[0x48, 0x89, 0x0b]).unwrap();
        assert_eq!((w.op, w.size, w.len), (WriteOp::Mov, 8, 3));
        assert_eq!(w.src, Source::Reg { n: 1, high8: false });
        assert_eq!(addr(&w, &r, 0), r.rbx);
        assert_eq!(w.apply(0, &r).store, Some(r.rcx));
        // mov %ecx, 4(%rbx)
        let w = decode(&[0x89, 0x4b, 0x04]).unwrap();
        assert_eq!((w.size, w.len), (4, 3));
        assert_eq!(addr(&w, &r, 0), r.rbx + 4);
        assert_eq!(w.apply(0, &r).store, Some(0x3e9f_f067));
        // mov %cx, (%rbx)
        let w = decode(&[0x66, 0x89, 0x0b]).unwrap();
        assert_eq!((w.size, w.len, w.apply(0, &r).store), (2, 3, Some(0xf067)));
        // mov %ch, (%rbx) (no REX: reg 5 is CH)
        let w = decode(&[0x88, 0x2b]).unwrap();
        assert_eq!(w.src, Source::Reg { n: 1, high8: true });
        assert_eq!(w.apply(0, &r).store, Some(0xf0));
        // mov %bpl, (%rbx) (REX: reg 5 is BPL)
        let w = decode(&[0x40, 0x88, 0x2b]).unwrap();
        assert_eq!(w.src, Source::Reg { n: 5, high8: false });
        // movq $-1, 8(%rbx): imm32 sign-extended
        let w = decode(&[0x48, 0xc7, 0x43, 0x08, 0xff, 0xff, 0xff, 0xff]).unwrap();
        assert_eq!((w.size, w.len), (8, 8));
        assert_eq!(w.apply(5, &r).store, Some(u64::MAX));
        // movl $0x67, (%rbx)
        let w = decode(&[0xc7, 0x03, 0x67, 0, 0, 0]).unwrap();
        assert_eq!((w.size, w.len, w.apply(0, &r).store), (4, 6, Some(0x67)));
        // movw $0x1234, (%rbx)
        let w = decode(&[0x66, 0xc7, 0x03, 0x34, 0x12]).unwrap();
        assert_eq!((w.size, w.len, w.apply(0, &r).store), (2, 5, Some(0x1234)));
        // movb $0x67, (%rbx)
        let w = decode(&[0xc6, 0x03, 0x67]).unwrap();
        assert_eq!((w.size, w.len, w.apply(0, &r).store), (1, 3, Some(0x67)));
        // mov %r9, (%rbx,%rax,8) with SIB
        let w = decode(&[0x4c, 0x89, 0x0c, 0xc3]).unwrap();
        assert_eq!(w.src, Source::Reg { n: 9, high8: false });
        assert_eq!(addr(&w, &r, 0), r.rbx + 0x1111 * 8);
        // RIP-relative: mov %rcx, 0x10(%rip)
        let w = decode(&[0x48, 0x89, 0x0d, 0x10, 0, 0, 0]).unwrap();
        assert_eq!(w.len, 7);
        assert_eq!(addr(&w, &r, 0x1000), 0x1000 + 7 + 0x10);
        // FS override is reported.
        let w = decode(&[0x64, 0x48, 0x89, 0x0b]).unwrap();
        assert_eq!((w.segment, w.len), (Some(Seg::Fs), 4));
    }

    #[test]
    fn not_memory_writes() {
        assert_eq!(decode(&[0x48, 0x89, 0xc8]), None, "register destination");
        assert_eq!(decode(&[0x48, 0x8b, 0x0b]), None, "a load");
        assert_eq!(decode(&[0x80, 0x3b, 0x01]), None, "cmp does not write");
        assert_eq!(decode(&[0xc7, 0x0b, 0, 0, 0, 0]), None, "c7 /1 is not mov");
        assert_eq!(
            decode(&[0x48, 0xc7, 0x03, 0x67]),
            None,
            "truncated immediate"
        );
        assert_eq!(decode(&[0x48, 0x89]), None, "truncated ModRM");
        assert_eq!(decode(&[0x0f, 0xb1]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn xchg_and_cmpxchg() {
        let mut r = regs();
        // xchg %rcx, (%rbx)
        let w = decode(&[0x48, 0x87, 0x0b]).unwrap();
        let o = w.apply(0x55, &r);
        assert_eq!(o.store, Some(r.rcx));
        assert_eq!(o.load, Some((1, false, 0x55)));
        assert_eq!(o.flags, None);
        // lock cmpxchg %rcx, (%rbx), hit
        let w = decode(&[0xf0, 0x48, 0x0f, 0xb1, 0x0b]).unwrap();
        assert_eq!((w.op, w.size, w.len), (WriteOp::Cmpxchg, 8, 5));
        r.rax = 0x77;
        let o = w.apply(0x77, &r);
        assert_eq!(o.store, Some(r.rcx));
        assert_eq!(o.load, None);
        assert_ne!(o.flags.unwrap() & RFLAGS_ZF, 0);
        // miss: no store, RAX gets the memory value, ZF clear.
        let o = w.apply(0x78, &r);
        assert_eq!(o.store, None);
        assert_eq!(o.load, Some((0, false, 0x78)));
        assert_eq!(o.flags.unwrap() & RFLAGS_ZF, 0);
        assert_ne!(o.flags.unwrap() & RFLAGS_CF, 0, "0x77 - 0x78 borrows");
        // 32-bit cmpxchg compares EAX only.
        let w = decode(&[0xf0, 0x0f, 0xb1, 0x0b]).unwrap();
        r.rax = 0xdead_0000_0000_0077;
        assert_eq!(w.apply(0x77, &r).store, Some(0x3e9f_f067));
    }

    #[test]
    fn read_modify_write() {
        let r = regs();
        // andq $~2, (%rbx): 48 83 23 fd
        let w = decode(&[0x48, 0x83, 0x23, 0xfd]).unwrap();
        assert_eq!((w.op, w.size, w.len), (WriteOp::And, 8, 4));
        let o = w.apply(0x8000_0000_3e9f_f067, &r);
        assert_eq!(o.store, Some(0x8000_0000_3e9f_f065));
        let f = o.flags.unwrap();
        assert_ne!(f & RFLAGS_SF, 0);
        assert_eq!(f & (RFLAGS_ZF | RFLAGS_CF | RFLAGS_OF), 0);
        // orq $2, (%rbx)
        let w = decode(&[0x48, 0x83, 0x0b, 0x02]).unwrap();
        assert_eq!(w.apply(0x65, &r).store, Some(0x67));
        // orl $0x80000000, (%rbx): 81 0b imm32
        let w = decode(&[0x81, 0x0b, 0, 0, 0, 0x80]).unwrap();
        assert_eq!((w.size, w.len), (4, 6));
        assert_eq!(w.apply(1, &r).store, Some(0x8000_0001));
        // xorb $1, (%rbx)
        let w = decode(&[0x80, 0x33, 0x01]).unwrap();
        let o = w.apply(1, &r);
        assert_eq!(o.store, Some(0));
        assert_ne!(o.flags.unwrap() & (RFLAGS_ZF | RFLAGS_PF), 0);
        // or %rdx, (%rbx)
        let w = decode(&[0x48, 0x09, 0x13]).unwrap();
        assert_eq!(w.apply(0x40, &r).store, Some(r.rdx | 0x40));
        // add/sub with carries.
        let w = decode(&[0x48, 0x01, 0x13]).unwrap();
        let o = w.apply(0x8000_0000_0000_0000, &r);
        assert_eq!(o.store, Some(0x25));
        assert_ne!(o.flags.unwrap() & RFLAGS_CF, 0);
        assert_ne!(o.flags.unwrap() & RFLAGS_OF, 0);
        let w = decode(&[0x48, 0x83, 0x2b, 0x01]).unwrap();
        let o = w.apply(0, &r);
        assert_eq!(o.store, Some(u64::MAX));
        assert_ne!(o.flags.unwrap() & RFLAGS_CF, 0);
        assert_ne!(o.flags.unwrap() & RFLAGS_AF, 0);
        // adc/sbb/cmp groups are not writes we take.
        assert_eq!(decode(&[0x48, 0x83, 0x13, 0x01]), None);
        assert_eq!(decode(&[0x48, 0x83, 0x3b, 0x01]), None);
    }

    #[test]
    fn xen_alignment_rule_and_merging() {
        let cr2 = 0xffff_ffff_8010_0ff8;
        assert!(write_allowed(cr2, 8, cr2));
        assert!(write_allowed(cr2 + 4, 4, cr2));
        assert!(write_allowed(cr2 - 0xff8, 1, cr2));
        assert!(!write_allowed(cr2 + 4, 8, cr2), "misaligned");
        assert!(!write_allowed(cr2 + 8, 8, cr2), "next page");
        assert!(!write_allowed(cr2, 3, cr2));
        let full = 0x8000_0000_3e9f_f067;
        assert_eq!(merge(full, 0, 8, 5), 5);
        assert_eq!(merge(full, 0, 4, 0x1234), 0x8000_0000_0000_1234);
        assert_eq!(merge(full, 4, 4, 0), 0x3e9f_f067);
        assert_eq!(merge(full, 0, 1, 0x65), 0x8000_0000_3e9f_f065);
        assert_eq!(merge(full, 6, 2, 0xffff_ffff), 0xffff_0000_3e9f_f067);
        assert_eq!(extract(full, 4, 4), 0x8000_0000);
        assert_eq!(extract(full, 0, 1), 0x67);
        assert_eq!(extract(full, 0, 8), full);
    }
}
