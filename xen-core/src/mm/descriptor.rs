//! Xen's check of a GDT/LDT descriptor that a 64-bit PV guest wants in its descriptor tables.
//!
//! Facts (Xen 4.17, `check_descriptor` in `arch/x86/pv/descriptor-tables.c`), in our words:
//! - A descriptor without the present bit always faults when loaded: accepted as it is.
//! - Otherwise its DPL is raised to the guest kernel's RPL, 3 for a 64-bit PV guest, so a
//!   guest can never describe a ring-0 segment.
//! - Code and data segments (S bit set) are then accepted with no base/limit check.
//! - A system descriptor of type 0 is accepted unchanged (not even the DPL fix-up is stored):
//!   that is how the upper half of a 64-bit call gate looks (its type field must be 0).
//! - The only other system type accepted is the call gate (type 12). Its target selector must be
//!   a guest GDT entry (below the reserved area), an LDT selector, or the flat kernel code
//!   selector; its DPL is stored as 0, so every use faults and Xen emulates it, and the wanted
//!   DPL goes into the RPL of the target selector. Bits 0..=7 of its high word must be 0.
//! - Everything else (TSS, LDT descriptors, interrupt and trap gates, task gates) is refused.
//!
//! Xen judges each 8-byte slot on its own, including the two halves of a 64-bit call gate: the
//! upper half passes because it is not present or has type 0, and the CPU itself refuses a gate
//! whose upper half has another type. A validated page therefore stays valid slot by slot.

use hypercall_abi::segment::{FIRST_RESERVED_GDT_ENTRY, FLAT_KERNEL_CS64};

/// High word: present.
const SEG_P: u32 = 1 << 15;
/// High word: code/data (set) or system (clear).
const SEG_S: u32 = 1 << 12;
/// High word: descriptor privilege level.
const SEG_DPL: u32 = 3 << 13;
/// High word: type field.
const SEG_TYPE: u32 = 0xF << 8;
/// Type field of a call gate.
const TYPE_CALL_GATE: u32 = 0xC << 8;
/// Ring of a 64-bit PV guest kernel (Xen's `GUEST_KERNEL_RPL`).
const GUEST_KERNEL_RPL: u32 = 3;
/// Reserved bits of a 64-bit call gate's high word.
const GATE_RESERVED: u32 = 0xFF;

/// Checks descriptor `raw` for a 64-bit PV guest's GDT or LDT. Returns the value to store (the
/// DPL fixed up as Xen does) or `None` when Xen refuses it.
///
/// `next` is the descriptor in the following slot when the caller has it. Xen 4.17 judges every
/// slot on its own (see the module notes), so it does not change the answer.
pub fn check_descriptor(raw: u64, next: Option<u64>) -> Option<u64> {
    let _ = next;
    let a = raw as u32;
    let b = (raw >> 32) as u32;
    if b & SEG_P == 0 {
        return Some(raw);
    }
    let dpl = ((b & SEG_DPL) >> 13).max(GUEST_KERNEL_RPL);
    let b = (b & !SEG_DPL) | (dpl << 13);
    if b & SEG_S != 0 {
        return Some(join(a, b));
    }
    match b & SEG_TYPE {
        0 => Some(raw),
        TYPE_CALL_GATE => {
            let cs = a >> 16;
            if !gate_selector_ok(cs) {
                return None;
            }
            let b = b & !SEG_DPL;
            if b & GATE_RESERVED != 0 {
                return None;
            }
            let cs = (cs & !3) | dpl;
            Some(join((a & 0xFFFF) | (cs << 16), b))
        }
        _ => None,
    }
}

/// May a call gate of the guest target selector `sel`? (Xen's `guest_gate_selector_okay`: the
/// gate ignores the selector's RPL, so it must not name a hypervisor GDT entry.)
fn gate_selector_ok(sel: u32) -> bool {
    u64::from(sel >> 3) < FIRST_RESERVED_GDT_ENTRY
        || sel == u32::from(FLAT_KERNEL_CS64)
        || sel & 4 != 0
}

fn join(a: u32, b: u32) -> u64 {
    u64::from(a) | (u64::from(b) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat 64-bit code segment with `dpl`.
    fn code64(dpl: u64) -> u64 {
        0x00AF_9A00_0000_FFFF | (dpl << 45)
    }

    /// A call gate to `sel:offset 0x1234` with `dpl`.
    fn gate(sel: u64, dpl: u64) -> u64 {
        0x0000_8C00_0000_1234 | (sel << 16) | (dpl << 45)
    }

    #[test]
    fn not_present_is_kept_as_is() {
        for raw in [
            0,
            0x1234_5678_9ABC_DEF0 & !(1 << 47),
            code64(0) & !(1 << 47),
        ] {
            assert_eq!(check_descriptor(raw, None), Some(raw));
        }
    }

    #[test]
    fn code_and_data_get_dpl_3() {
        for dpl in 0..4 {
            assert_eq!(check_descriptor(code64(dpl), None), Some(code64(3)));
        }
        // Data segment, DPL 0 -> 3; everything else untouched.
        let data = 0x00CF_9200_0000_FFFF;
        assert_eq!(check_descriptor(data, None), Some(data | (3 << 45)));
        // Long-mode bit allowed for a 64-bit guest.
        assert_eq!(check_descriptor(code64(1), Some(0)), Some(code64(3)));
    }

    #[test]
    fn type_0_is_kept_without_fixup() {
        // Present system descriptor of type 0 and DPL 0: stored exactly as given.
        let raw = 0xFFFF_8000_0000_0000 | 0x0000_8000_0000_0000;
        assert_eq!(check_descriptor(raw, None), Some(raw));
        let upper_half = 0x0000_0000_FFFF_FFFF;
        assert_eq!(check_descriptor(upper_half, None), Some(upper_half));
    }

    #[test]
    fn call_gates_are_checked_and_fixed() {
        // Guest selector (index 2, RPL 0), DPL 3: stored with DPL 0 and RPL 3.
        let got = check_descriptor(gate(0x10, 3), Some(0)).unwrap();
        assert_eq!(got, gate(0x13, 0));
        // DPL 0 asked: raised to 3 first, so the RPL says 3 as well.
        assert_eq!(check_descriptor(gate(0x10, 0), None), Some(gate(0x13, 0)));
        // The flat kernel code selector of the reserved area is allowed.
        assert_eq!(
            check_descriptor(gate(0xe033, 3), None),
            Some(gate(0xe033, 0))
        );
        // An LDT selector is allowed wherever it points.
        assert_eq!(
            check_descriptor(gate(0xe00c, 3), None),
            Some(gate(0xe00f, 0))
        );
        // Other selectors of the reserved area are refused (RPL matters: 0xe030 != 0xe033).
        assert_eq!(check_descriptor(gate(0xe008, 3), None), None);
        assert_eq!(check_descriptor(gate(0xe030, 3), None), None);
        assert_eq!(check_descriptor(gate(0xfff8, 3), None), None);
        // Reserved bits 32..=39 must be zero.
        assert_eq!(check_descriptor(gate(0x10, 3) | (1 << 32), None), None);
        assert_eq!(check_descriptor(gate(0x10, 3) | (0x80 << 32), None), None);
        // A checked gate checks again to itself.
        let once = check_descriptor(gate(0x10, 3), None).unwrap();
        assert_eq!(check_descriptor(once, None), Some(once));
    }

    #[test]
    fn other_system_types_are_refused() {
        for ty in 1..16u64 {
            if ty == 0xC {
                continue;
            }
            let raw = (1 << 47) | (3 << 45) | (ty << 40) | 0x0010_0000;
            assert_eq!(check_descriptor(raw, None), None, "type {ty}");
        }
    }

    #[test]
    fn fixed_values_are_stable() {
        for raw in [code64(0), code64(2), gate(0x28, 1), 0x00CF_F200_0000_FFFF] {
            let once = check_descriptor(raw, None).unwrap();
            assert_eq!(check_descriptor(once, None), Some(once), "{raw:#x}");
        }
    }
}
