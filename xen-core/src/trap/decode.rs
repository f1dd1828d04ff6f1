//! Decoding the few guest instructions xen-core emulates: CR3 reads, `int n`, forced CPUID.

use hypercall_abi::cpuid::FORCED_EMULATION_PREFIX;

/// An instruction to emulate, decoded from guest bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instruction {
    /// `mov %cr3, %reg`: write the guest's CR3 into `reg`.
    ReadCr3 {
        /// Destination register number (0 = rax ... 15 = r15).
        reg: u8,
        /// Instruction length.
        len: u8,
    },
    /// `int $vector` (2 bytes).
    SoftInt {
        /// The vector.
        vector: u8,
    },
    /// `ud2; .ascii "xen"; cpuid` (7 bytes).
    ForcedCpuid,
}

/// Length of the forced-emulation CPUID sequence.
pub const FORCED_CPUID_LEN: u64 = 7;

/// Decodes the instruction at a #GP from guest kernel mode.
pub fn decode_gp(bytes: &[u8]) -> Option<Instruction> {
    let (rex, rest) = match bytes.first()? {
        r @ 0x40..=0x4f => (*r, &bytes[1..]),
        _ => (0, bytes),
    };
    match rest {
        [0x0f, 0x20, modrm, ..] => {
            let cr = ((modrm >> 3) & 7) | if rex & 0x4 != 0 { 8 } else { 0 };
            if cr != 3 {
                return None;
            }
            let reg = (modrm & 7) | if rex & 0x1 != 0 { 8 } else { 0 };
            Some(Instruction::ReadCr3 {
                reg,
                len: if rex != 0 { 4 } else { 3 },
            })
        }
        [0xcd, vector, ..] if rex == 0 => Some(Instruction::SoftInt { vector: *vector }),
        _ => None,
    }
}

/// Decodes the instruction at a #UD: only the forced-emulation CPUID is known.
pub fn decode_ud(bytes: &[u8]) -> Option<Instruction> {
    let prefix = bytes.get(..FORCED_EMULATION_PREFIX.len())?;
    let cpuid = bytes.get(FORCED_EMULATION_PREFIX.len()..FORCED_CPUID_LEN as usize)?;
    (prefix == FORCED_EMULATION_PREFIX && cpuid == [0x0f, 0xa2]).then_some(Instruction::ForcedCpuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cr3_reads() {
        assert_eq!(
            decode_gp(&[0x0f, 0x20, 0xd8]),
            Some(Instruction::ReadCr3 { reg: 0, len: 3 })
        );
        assert_eq!(
            decode_gp(&[0x0f, 0x20, 0xdb, 0x90]),
            Some(Instruction::ReadCr3 { reg: 3, len: 3 })
        );
        assert_eq!(
            decode_gp(&[0x41, 0x0f, 0x20, 0xdc]),
            Some(Instruction::ReadCr3 { reg: 12, len: 4 })
        );
        assert_eq!(decode_gp(&[0x0f, 0x20, 0xc0]), None, "cr0 is not emulated");
        assert_eq!(
            decode_gp(&[0x44, 0x0f, 0x20, 0xd8]),
            None,
            "cr11 does not exist"
        );
        assert_eq!(
            decode_gp(&[0x0f, 0x22, 0xd8]),
            None,
            "writes are not emulated"
        );
    }

    #[test]
    fn soft_ints_and_junk() {
        assert_eq!(
            decode_gp(&[0xcd, 0x80]),
            Some(Instruction::SoftInt { vector: 0x80 })
        );
        assert_eq!(decode_gp(&[0xcd]), None);
        assert_eq!(decode_gp(&[]), None);
        assert_eq!(decode_gp(&[0x48]), None);
        assert_eq!(decode_gp(&[0xf4]), None);
    }

    #[test]
    fn forced_cpuid() {
        let seq = [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2];
        assert_eq!(decode_ud(&seq), Some(Instruction::ForcedCpuid));
        assert_eq!(decode_ud(&seq[..6]), None);
        assert_eq!(decode_ud(&[0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa3]), None);
        assert_eq!(decode_ud(&[0x0f, 0x0b]), None);
    }
}
