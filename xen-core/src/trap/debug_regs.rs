//! Xen's rules for a PV guest's debug registers, shared by set/get_debugreg and emulated `mov %dr`.
// Xen 4.17 routes both the hypercalls and the emulated moves through one `set_debugreg`: a
// refusal is an errno for the hypercall and #GP for the move, and DR4/DR5 with CR4.DE set are
// -ENODEV for the hypercall and #UD for the move.

use hypercall_abi::errno::Errno;
use hypercall_abi::layout::guest_range_ok;

/// DR6 at reset (its reserved bits read as one).
pub const DR6_DEFAULT: u64 = 0xffff_0ff0;
/// DR6 bits that always read as zero (bit 12 without the bus-lock feature).
pub const DR6_ZEROS: u64 = 0x1000;
/// DR6 status bits the CPU reports: B0-B3, BD, BS, BT.
pub const DR6_STATUS: u64 = 0xe00f;
/// DR7 at reset (bit 10 reads as one).
pub const DR7_DEFAULT: u64 = 0x400;
/// DR7 bits that always read as zero (11, 12, 14, 15).
pub const DR7_ZEROS: u64 = 0xd800;
/// DR7's local and global enables of the four breakpoints.
pub const DR7_ACTIVE: u64 = 0xff;
/// CR4.DE: DR4/DR5 no longer alias DR6/DR7.
pub const CR4_DE: u64 = 1 << 3;

/// The register `reg` names, after DR4/DR5 aliasing; `-ENODEV` when CR4.DE turns the alias
/// off and past DR7 (observed on Xen 4.17).
pub fn resolve(reg: u64, cr4: u64) -> Result<usize, Errno> {
    match reg {
        4 | 5 if cr4 & CR4_DE != 0 => Err(Errno::NoDev),
        4 | 5 => Ok(reg as usize + 2),
        0..=3 | 6 | 7 => Ok(reg as usize),
        _ => Err(Errno::NoDev),
    }
}

/// What `value` becomes when written to debug register `reg` (already resolved), or why it
/// is refused.
///
/// DR0-DR3 must hold a guest address (`-EPERM`). DR6 and DR7 take 32-bit values (`-EINVAL`)
/// with their fixed bits forced. Armed breakpoints (any DR7 enable bit) are refused with
/// `-EPERM`: xen-core does not load guest breakpoints into the CPU (Xen does).
pub fn write_value(reg: usize, value: u64) -> Result<u64, Errno> {
    match reg {
        0..=3 if guest_range_ok(value, 8) => Ok(value),
        0..=3 => Err(Errno::Perm),
        6 if value >> 32 == 0 => Ok((value | DR6_DEFAULT) & !DR6_ZEROS),
        7 if value >> 32 == 0 => {
            let value = (value & !DR7_ZEROS) | DR7_DEFAULT;
            if value & DR7_ACTIVE != 0 {
                return Err(Errno::Perm);
            }
            Ok(value)
        }
        _ => Err(Errno::Inval),
    }
}

/// The guest's DR6 after a #DB whose hardware DR6 was `hw`: the new status bits join the ones
/// the guest has not cleared, as the CPU itself accumulates them.
pub fn after_debug_trap(guest_dr6: u64, hw: u64) -> u64 {
    ((guest_dr6 | (hw & DR6_STATUS)) | DR6_DEFAULT) & !DR6_ZEROS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dr4_and_dr5_alias_dr6_and_dr7_until_cr4_de() {
        assert_eq!(resolve(4, 0), Ok(6));
        assert_eq!(resolve(5, 0), Ok(7));
        assert_eq!(resolve(4, CR4_DE), Err(Errno::NoDev));
        assert_eq!(resolve(5, CR4_DE), Err(Errno::NoDev));
        assert_eq!(resolve(6, CR4_DE), Ok(6));
        assert_eq!(resolve(8, 0), Err(Errno::NoDev));
        assert_eq!(resolve(u64::MAX, 0), Err(Errno::NoDev));
    }

    #[test]
    fn address_registers_take_guest_addresses_only() {
        assert_eq!(write_value(0, 0x40_0000), Ok(0x40_0000));
        assert_eq!(
            write_value(3, 0xffff_ffff_ffff_f000),
            Ok(0xffff_ffff_ffff_f000)
        );
        assert_eq!(write_value(1, 0xffff_8000_0000_0000), Err(Errno::Perm));
        assert_eq!(write_value(2, 0x0000_8000_0000_0000), Err(Errno::Perm));
    }

    #[test]
    fn dr6_forces_its_fixed_bits() {
        assert_eq!(write_value(6, 0), Ok(DR6_DEFAULT));
        assert_eq!(write_value(6, 0x4000), Ok(0xffff_4ff0));
        assert_eq!(write_value(6, 0x1000), Ok(DR6_DEFAULT));
        assert_eq!(write_value(6, 1 << 32), Err(Errno::Inval));
    }

    #[test]
    fn dr7_is_stored_unless_armed() {
        assert_eq!(write_value(7, 0), Ok(DR7_DEFAULT));
        assert_eq!(write_value(7, 0xd800), Ok(DR7_DEFAULT));
        assert_eq!(write_value(7, 0x300), Ok(0x700));
        assert_eq!(write_value(7, 0x1), Err(Errno::Perm));
        assert_eq!(write_value(7, 0x80), Err(Errno::Perm));
        assert_eq!(write_value(7, 1 << 40), Err(Errno::Inval));
    }

    #[test]
    fn single_step_shows_bs_and_keeps_earlier_status() {
        assert_eq!(after_debug_trap(DR6_DEFAULT, 0xffff_4ff0), 0xffff_4ff0);
        assert_eq!(after_debug_trap(0xffff_4ff0, 0xffff_0ff1), 0xffff_4ff1);
        assert_eq!(after_debug_trap(DR6_DEFAULT, u64::MAX), 0xffff_eff0 | 0xf);
    }
}
