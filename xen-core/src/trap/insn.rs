//! x86-64 instruction prefixes, REX and ModRM/SIB operands: the shared part of the decoders.
//!
//! Only what the emulated instructions need: legacy prefixes (operand and address size, LOCK,
//! REP, segment overrides), REX, and the ModRM/SIB/displacement forms of 64-bit mode. Guest
//! bytes are untrusted: every read is bounds-checked and an instruction longer than the CPU's
//! 15-byte limit is refused.

use crate::guest_regs::GuestRegs;

/// The longest instruction the CPU accepts.
pub const MAX_INSN_LEN: usize = 15;

/// A segment named by an override prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg {
    /// `0x26`
    Es,
    /// `0x2e`
    Cs,
    /// `0x36`
    Ss,
    /// `0x3e`
    Ds,
    /// `0x64`: its base is the FS base.
    Fs,
    /// `0x65`: its base is the active GS base.
    Gs,
}

/// The prefixes in front of an opcode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prefixes {
    /// `0x66`.
    pub operand_size: bool,
    /// `0x67`: 32-bit addressing.
    pub address_size: bool,
    /// `0xf0`.
    pub lock: bool,
    /// `0xf3` or `0xf2`, the last one given.
    pub rep: Option<u8>,
    /// The last segment override given.
    pub segment: Option<Seg>,
    /// The REX byte (`0x40..=0x4f`) right before the opcode, or 0.
    pub rex: u8,
    /// Bytes taken by all prefixes.
    pub len: usize,
}

impl Prefixes {
    /// REX.W: 64-bit operand size.
    pub fn rex_w(&self) -> bool {
        self.rex & 8 != 0
    }

    /// REX.R: extends ModRM.reg.
    pub fn rex_r(&self) -> u8 {
        (self.rex >> 2) & 1
    }

    /// REX.X: extends SIB.index.
    pub fn rex_x(&self) -> u8 {
        (self.rex >> 1) & 1
    }

    /// REX.B: extends ModRM.rm or SIB.base.
    pub fn rex_b(&self) -> u8 {
        self.rex & 1
    }

    /// Operand size in bytes of an instruction whose default is 32 bits (not byte-sized):
    /// REX.W wins over `0x66`.
    pub fn operand_bytes(&self) -> u8 {
        if self.rex_w() {
            8
        } else if self.operand_size {
            2
        } else {
            4
        }
    }
}

/// Decodes the prefixes at the start of `bytes`. A REX byte counts only right before the
/// opcode (a legacy prefix after it cancels it, as on the CPU). `None` if nothing but prefixes
/// fits in the bytes given or in 15 bytes.
pub fn prefixes(bytes: &[u8]) -> Option<Prefixes> {
    let mut p = Prefixes::default();
    for (i, &b) in bytes.iter().enumerate().take(MAX_INSN_LEN) {
        let legacy = match b {
            0x66 => {
                p.operand_size = true;
                true
            }
            0x67 => {
                p.address_size = true;
                true
            }
            0xf0 => {
                p.lock = true;
                true
            }
            0xf2 | 0xf3 => {
                p.rep = Some(b);
                true
            }
            0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 => {
                p.segment = Some(match b {
                    0x26 => Seg::Es,
                    0x2e => Seg::Cs,
                    0x36 => Seg::Ss,
                    0x3e => Seg::Ds,
                    0x64 => Seg::Fs,
                    _ => Seg::Gs,
                });
                true
            }
            0x40..=0x4f => {
                p.rex = b;
                p.len = i + 1;
                continue;
            }
            _ => {
                p.len = i;
                return Some(p);
            }
        };
        if legacy {
            p.rex = 0;
            p.len = i + 1;
        }
    }
    None
}

/// A memory operand: `segment:[base + index * scale + disp]`, or `[rip + disp]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRef {
    /// Base register (0 = rax ... 15 = r15).
    pub base: Option<u8>,
    /// Index register.
    pub index: Option<u8>,
    /// 1, 2, 4 or 8.
    pub scale: u8,
    /// Sign-extended displacement.
    pub disp: i64,
    /// Relative to the address of the next instruction.
    pub rip_relative: bool,
    /// 32-bit addressing (`0x67`): registers and the result are truncated to 32 bits.
    pub addr32: bool,
}

impl MemRef {
    /// The offset this operand names (before any segment base), for an instruction that ends
    /// at `next_rip`.
    pub fn offset(&self, regs: &GuestRegs, next_rip: u64) -> u64 {
        let mask = if self.addr32 { 0xffff_ffff } else { u64::MAX };
        let mut ea = self.disp as u64;
        if self.rip_relative {
            ea = ea.wrapping_add(next_rip);
        }
        if let Some(b) = self.base {
            ea = ea.wrapping_add(gpr(regs, b) & mask);
        }
        if let Some(i) = self.index {
            ea = ea.wrapping_add((gpr(regs, i) & mask).wrapping_mul(u64::from(self.scale)));
        }
        ea & mask
    }
}

/// The r/m operand of a ModRM byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rm {
    /// A register (mod = 3).
    Reg(u8),
    /// Memory.
    Mem(MemRef),
}

/// A decoded ModRM byte with its SIB and displacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModRm {
    /// The reg field, extended by REX.R (0..=15).
    pub reg: u8,
    /// The raw reg field (0..=7), the opcode extension of group instructions.
    pub reg_raw: u8,
    /// The r/m operand.
    pub rm: Rm,
    /// Bytes taken by ModRM, SIB and displacement.
    pub len: usize,
}

fn byte(bytes: &[u8], at: usize) -> Option<u8> {
    bytes.get(at).copied()
}

fn disp32(bytes: &[u8], at: usize) -> Option<i64> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// Decodes the ModRM operand at `bytes[0]` (64-bit mode) under prefixes `p`.
pub fn modrm(bytes: &[u8], p: &Prefixes) -> Option<ModRm> {
    let m = byte(bytes, 0)?;
    let md = m >> 6;
    let reg_raw = (m >> 3) & 7;
    let reg = reg_raw | (p.rex_r() << 3);
    let rm_raw = m & 7;
    if md == 3 {
        return Some(ModRm {
            reg,
            reg_raw,
            rm: Rm::Reg(rm_raw | (p.rex_b() << 3)),
            len: 1,
        });
    }
    let mut len = 1;
    let mut mem = MemRef {
        base: None,
        index: None,
        scale: 1,
        disp: 0,
        rip_relative: false,
        addr32: p.address_size,
    };
    if rm_raw == 4 {
        let sib = byte(bytes, 1)?;
        len = 2;
        mem.scale = 1 << (sib >> 6);
        let index = ((sib >> 3) & 7) | (p.rex_x() << 3);
        if index != 4 {
            mem.index = Some(index);
        }
        let base_raw = sib & 7;
        if base_raw == 5 && md == 0 {
            mem.disp = disp32(bytes, len)?;
            len += 4;
        } else {
            mem.base = Some(base_raw | (p.rex_b() << 3));
        }
    } else if rm_raw == 5 && md == 0 {
        mem.rip_relative = true;
        mem.disp = disp32(bytes, len)?;
        len += 4;
    } else {
        mem.base = Some(rm_raw | (p.rex_b() << 3));
    }
    match md {
        1 => {
            mem.disp = i64::from(byte(bytes, len)? as i8);
            len += 1;
        }
        2 => {
            mem.disp = disp32(bytes, len)?;
            len += 4;
        }
        _ => {}
    }
    Some(ModRm {
        reg,
        reg_raw,
        rm: Rm::Mem(mem),
        len,
    })
}

/// General-purpose register `n` in the encoding's numbering (0 = rax, 1 = rcx, 2 = rdx,
/// 3 = rbx, 4 = rsp, 5 = rbp, 6 = rsi, 7 = rdi, 8..=15 = r8..r15).
pub fn gpr(regs: &GuestRegs, n: u8) -> u64 {
    match n & 15 {
        0 => regs.rax,
        1 => regs.rcx,
        2 => regs.rdx,
        3 => regs.rbx,
        4 => regs.rsp,
        5 => regs.rbp,
        6 => regs.rsi,
        7 => regs.rdi,
        8 => regs.r8,
        9 => regs.r9,
        10 => regs.r10,
        11 => regs.r11,
        12 => regs.r12,
        13 => regs.r13,
        14 => regs.r14,
        _ => regs.r15,
    }
}

/// Writes the low `size` bytes of register `n` as the CPU does: a 32-bit write clears the
/// upper half, 8- and 16-bit writes keep the rest. `high8` names AH/CH/DH/BH (n = 0..=3).
pub fn write_gpr(regs: &mut GuestRegs, n: u8, size: u8, high8: bool, value: u64) {
    let old = gpr(regs, n);
    let new = match (size, high8) {
        (1, true) => (old & !0xff00) | ((value & 0xff) << 8),
        (1, false) => (old & !0xff) | (value & 0xff),
        (2, _) => (old & !0xffff) | (value & 0xffff),
        (4, _) => value & 0xffff_ffff,
        _ => value,
    };
    regs.set_gpr(n & 15, new);
}

/// Mask of the low `size` bytes (1, 2, 4 or 8).
pub fn size_mask(size: u8) -> u64 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        4 => 0xffff_ffff,
        _ => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_prefixes_and_rex() {
        let p = prefixes(&[0x66, 0xf3, 0x48, 0x89]).unwrap();
        assert!(p.operand_size);
        assert_eq!(p.rep, Some(0xf3));
        assert_eq!(p.rex, 0x48);
        assert!(p.rex_w());
        assert_eq!(p.len, 3);
        assert_eq!(p.operand_bytes(), 8, "REX.W wins over 0x66");
        // A legacy prefix after REX cancels it.
        let p = prefixes(&[0x48, 0x66, 0x89]).unwrap();
        assert_eq!((p.rex, p.len, p.operand_bytes()), (0, 2, 2));
        let p = prefixes(&[0x64, 0xf0, 0x67, 0x0f]).unwrap();
        assert_eq!(p.segment, Some(Seg::Fs));
        assert!(p.lock && p.address_size);
        assert_eq!(p.len, 3);
        assert_eq!(prefixes(&[0x89]).unwrap().len, 0);
    }

    #[test]
    fn prefixes_only_or_too_long() {
        assert_eq!(prefixes(&[]), None);
        assert_eq!(prefixes(&[0x66, 0x66]), None);
        assert_eq!(prefixes(&[0x66; 15]), None);
        let mut long = [0x66u8; 16];
        long[15] = 0x90;
        assert_eq!(
            prefixes(&long),
            None,
            "15 prefixes leave no room for an opcode"
        );
        let mut ok = [0x66u8; 15];
        ok[14] = 0x90;
        assert_eq!(prefixes(&ok).unwrap().len, 14);
    }

    fn regs() -> GuestRegs {
        let mut r = GuestRegs::default();
        for n in 0..16u8 {
            r.set_gpr(n, 0x1000 * (u64::from(n) + 1));
        }
        r
    }

    #[test]
    fn register_and_simple_memory_forms() {
        let p = Prefixes::default();
        // 0xd8: mod 3, reg 3, rm 0.
        assert_eq!(
            modrm(&[0xd8], &p),
            Some(ModRm {
                reg: 3,
                reg_raw: 3,
                rm: Rm::Reg(0),
                len: 1
            })
        );
        // 0x03: [rbx], reg 0.
        let m = modrm(&[0x03], &p).unwrap();
        assert_eq!(m.len, 1);
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!(mem.offset(&regs(), 0), 0x4000);
        // 0x43 0xf8: [rbx - 8].
        let m = modrm(&[0x43, 0xf8], &p).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!((m.len, mem.offset(&regs(), 0)), (2, 0x3ff8));
        // 0x83 disp32: [rbx + 0x12345678].
        let m = modrm(&[0x83, 0x78, 0x56, 0x34, 0x12], &p).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!((m.len, mem.offset(&regs(), 0)), (5, 0x1234_9678));
        assert_eq!(
            modrm(&[0x83, 0x78, 0x56], &p),
            None,
            "truncated displacement"
        );
    }

    #[test]
    fn rex_extends_fields() {
        let p = prefixes(&[0x4d, 0x89]).unwrap(); // REX.WRB
        // 0x03: reg 0 -> r8, rm 3 -> r11.
        let m = modrm(&[0x03], &p).unwrap();
        assert_eq!(m.reg, 8);
        assert_eq!(m.reg_raw, 0);
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!(mem.base, Some(11));
    }

    #[test]
    fn sib_forms() {
        let p = Prefixes::default();
        // 0x04 0x4b: [rbx + rcx*2].
        let m = modrm(&[0x04, 0x4b], &p).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!((m.len, mem.offset(&regs(), 0)), (2, 0x4000 + 0x2000 * 2));
        // 0x04 0x24: [rsp] (index 4 = none).
        let m = modrm(&[0x04, 0x24], &p).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!((mem.index, mem.offset(&regs(), 0)), (None, 0x5000));
        // 0x04 0x25 disp32: absolute [disp32], no base.
        let m = modrm(&[0x04, 0x25, 0x00, 0x10, 0x00, 0x00], &p).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!((m.len, mem.base, mem.offset(&regs(), 0)), (6, None, 0x1000));
        // With REX.X, index 4 is r12.
        let px = prefixes(&[0x42, 0x89]).unwrap();
        let m = modrm(&[0x04, 0x23], &px).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!(mem.index, Some(12));
        // mod 1 with SIB base 5: [rbp + disp8].
        let m = modrm(&[0x44, 0x25, 0x10], &p).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert_eq!((m.len, mem.base), (3, Some(5)));
    }

    #[test]
    fn rip_relative_and_addr32() {
        let p = Prefixes::default();
        let m = modrm(&[0x05, 0x10, 0x00, 0x00, 0x00], &p).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        assert!(mem.rip_relative);
        assert_eq!(
            mem.offset(&regs(), 0xffff_ffff_8000_0000),
            0xffff_ffff_8000_0010
        );
        let p32 = prefixes(&[0x67, 0x89]).unwrap();
        let m = modrm(&[0x03], &p32).unwrap();
        let Rm::Mem(mem) = m.rm else { panic!() };
        let mut r = regs();
        r.rbx = 0xdead_0000_0000_1000;
        assert_eq!(mem.offset(&r, 0), 0x1000, "32-bit addressing truncates");
    }

    #[test]
    fn register_writes_follow_the_cpu() {
        let mut r = GuestRegs {
            rax: 0x1111_2222_3333_4444,
            ..Default::default()
        };
        write_gpr(&mut r, 0, 1, false, 0xff);
        assert_eq!(r.rax, 0x1111_2222_3333_44ff);
        write_gpr(&mut r, 0, 1, true, 0xab);
        assert_eq!(r.rax, 0x1111_2222_3333_abff);
        write_gpr(&mut r, 0, 2, false, 0x5555);
        assert_eq!(r.rax, 0x1111_2222_3333_5555);
        write_gpr(&mut r, 0, 4, false, 0x1_8888_9999);
        assert_eq!(r.rax, 0x8888_9999, "32-bit writes zero-extend");
        write_gpr(&mut r, 0, 8, false, u64::MAX);
        assert_eq!(r.rax, u64::MAX);
        assert_eq!(gpr(&r, 0), u64::MAX);
        assert_eq!(size_mask(2), 0xffff);
    }
}
