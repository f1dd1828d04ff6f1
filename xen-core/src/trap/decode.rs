//! Decoding the forced-emulation CPUID at #UD (the #GP instructions are in `priv_op`).

use hypercall_abi::cpuid::FORCED_EMULATION_PREFIX;

/// An instruction to emulate at #UD, decoded from guest bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instruction {
    /// `ud2; .ascii "xen"; cpuid` (7 bytes).
    ForcedCpuid,
}

/// Length of the forced-emulation CPUID sequence.
pub const FORCED_CPUID_LEN: u64 = 7;

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
    fn forced_cpuid() {
        let seq = [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2];
        assert_eq!(decode_ud(&seq), Some(Instruction::ForcedCpuid));
        assert_eq!(decode_ud(&seq[..6]), None);
        assert_eq!(decode_ud(&[0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa3]), None);
        assert_eq!(decode_ud(&[0x0f, 0x0b]), None);
    }
}
