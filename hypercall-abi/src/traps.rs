//! Virtual trap table entries, the iret hypercall's frame and x86 exception vectors.

use core::mem::{offset_of, size_of};

/// One entry of the table passed to set_trap_table (`struct trap_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapInfo {
    /// Exception vector.
    pub vector: u8,
    /// Bits 0-1: DPL allowed to raise it with `int`; bit 2: mask events on entry.
    pub flags: u8,
    /// Code selector of the handler.
    pub cs: u16,
    /// Padding (C alignment).
    pub pad: u32,
    /// Handler address; 0 ends the table.
    pub address: u64,
}
const _: () = assert!(size_of::<TrapInfo>() == 16);
const _: () = assert!(offset_of!(TrapInfo, vector) == 0);
const _: () = assert!(offset_of!(TrapInfo, flags) == 1);
const _: () = assert!(offset_of!(TrapInfo, cs) == 2);
const _: () = assert!(offset_of!(TrapInfo, pad) == 4);
const _: () = assert!(offset_of!(TrapInfo, address) == 8);

/// `TrapInfo::flags` bits holding the DPL.
pub const TI_DPL_MASK: u8 = 3;
/// `TrapInfo::flags` bit: set the upcall mask when the handler is entered.
pub const TI_MASK_EVENTS: u8 = 4;

impl TrapInfo {
    /// The DPL (0-3) that may raise this vector with `int n`.
    pub const fn dpl(&self) -> u8 {
        self.flags & TI_DPL_MASK
    }

    /// Whether entering the handler masks events.
    pub const fn masks_events(&self) -> bool {
        self.flags & TI_MASK_EVENTS != 0
    }
}

/// The frame the iret hypercall pops from the guest stack (lowest address first).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IretContext {
    /// Saved RAX (pushed by the stub); returned as the hypercall's result.
    pub rax: u64,
    /// Saved R11 (pushed by the stub).
    pub r11: u64,
    /// Saved RCX (pushed by the stub).
    pub rcx: u64,
    /// `VGCF_*` flags.
    pub flags: u64,
    /// Return RIP.
    pub rip: u64,
    /// Return CS; RPL 3 returns to guest user mode.
    pub cs: u64,
    /// Return RFLAGS; IF clear means events stay masked.
    pub rflags: u64,
    /// Return RSP.
    pub rsp: u64,
    /// Return SS.
    pub ss: u64,
}
const _: () = assert!(size_of::<IretContext>() == 72);
const _: () = assert!(offset_of!(IretContext, rax) == 0);
const _: () = assert!(offset_of!(IretContext, r11) == 8);
const _: () = assert!(offset_of!(IretContext, rcx) == 16);
const _: () = assert!(offset_of!(IretContext, flags) == 24);
const _: () = assert!(offset_of!(IretContext, rip) == 32);
const _: () = assert!(offset_of!(IretContext, cs) == 40);
const _: () = assert!(offset_of!(IretContext, rflags) == 48);
const _: () = assert!(offset_of!(IretContext, rsp) == 56);
const _: () = assert!(offset_of!(IretContext, ss) == 64);

/// `IretContext::flags` bit: the guest entered via syscall; keep RCX/R11 (sysret path).
pub const VGCF_IN_SYSCALL: u64 = 0x100;

/// #DE, divide error.
pub const TRAP_DIVIDE_ERROR: u8 = 0;
/// #DB, debug.
pub const TRAP_DEBUG: u8 = 1;
/// NMI.
pub const TRAP_NMI: u8 = 2;
/// #BP, int3.
pub const TRAP_INT3: u8 = 3;
/// #OF, overflow.
pub const TRAP_OVERFLOW: u8 = 4;
/// #BR, bound range.
pub const TRAP_BOUNDS: u8 = 5;
/// #UD, invalid opcode.
pub const TRAP_INVALID_OP: u8 = 6;
/// #NM, device not available.
pub const TRAP_NO_DEVICE: u8 = 7;
/// #DF, double fault.
pub const TRAP_DOUBLE_FAULT: u8 = 8;
/// Coprocessor segment overrun (legacy).
pub const TRAP_COPRO_SEG: u8 = 9;
/// #TS, invalid TSS.
pub const TRAP_INVALID_TSS: u8 = 10;
/// #NP, segment not present.
pub const TRAP_NO_SEGMENT: u8 = 11;
/// #SS, stack fault.
pub const TRAP_STACK_ERROR: u8 = 12;
/// #GP, general protection.
pub const TRAP_GP_FAULT: u8 = 13;
/// #PF, page fault.
pub const TRAP_PAGE_FAULT: u8 = 14;
/// Reserved vector 15 (spurious interrupt).
pub const TRAP_SPURIOUS_INT: u8 = 15;
/// #MF, x87 floating-point error.
pub const TRAP_COPRO_ERROR: u8 = 16;
/// #AC, alignment check.
pub const TRAP_ALIGNMENT_CHECK: u8 = 17;
/// #MC, machine check.
pub const TRAP_MACHINE_CHECK: u8 = 18;
/// #XM, SIMD floating-point error.
pub const TRAP_SIMD_ERROR: u8 = 19;
/// #VE, virtualisation exception.
pub const TRAP_VIRTUALISATION: u8 = 20;
/// #CP, control-flow protection.
pub const TRAP_CONTROL_FLOW: u8 = 21;

/// #PF error code bit: the fault was on a present page (protection violation).
pub const PFEC_PRESENT: u64 = 1 << 0;
/// #PF error code bit: the access was a write.
pub const PFEC_WRITE: u64 = 1 << 1;
/// #PF error code bit: the access came from user mode.
pub const PFEC_USER: u64 = 1 << 2;
/// #PF error code bit: a reserved bit was set in a paging entry.
pub const PFEC_RESERVED: u64 = 1 << 3;
/// #PF error code bit: the access was an instruction fetch.
pub const PFEC_INSN_FETCH: u64 = 1 << 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_info_layout() {
        assert_eq!(size_of::<TrapInfo>(), 16);
        assert_eq!(offset_of!(TrapInfo, vector), 0);
        assert_eq!(offset_of!(TrapInfo, flags), 1);
        assert_eq!(offset_of!(TrapInfo, cs), 2);
        assert_eq!(offset_of!(TrapInfo, address), 8);
    }

    #[test]
    fn trap_info_flags() {
        assert_eq!(TI_DPL_MASK, 3);
        assert_eq!(TI_MASK_EVENTS, 4);
        let t = TrapInfo {
            flags: 3 | 4,
            ..TrapInfo::default()
        };
        assert_eq!(t.dpl(), 3);
        assert!(t.masks_events());
        let t = TrapInfo {
            flags: 1,
            ..TrapInfo::default()
        };
        assert_eq!(t.dpl(), 1);
        assert!(!t.masks_events());
    }

    #[test]
    fn iret_context_layout() {
        assert_eq!(size_of::<IretContext>(), 72);
        assert_eq!(offset_of!(IretContext, rax), 0);
        assert_eq!(offset_of!(IretContext, r11), 8);
        assert_eq!(offset_of!(IretContext, rcx), 16);
        assert_eq!(offset_of!(IretContext, flags), 24);
        assert_eq!(offset_of!(IretContext, rip), 32);
        assert_eq!(offset_of!(IretContext, cs), 40);
        assert_eq!(offset_of!(IretContext, rflags), 48);
        assert_eq!(offset_of!(IretContext, rsp), 56);
        assert_eq!(offset_of!(IretContext, ss), 64);
    }

    #[test]
    fn vgcf_in_syscall_is_bit_8() {
        assert_eq!(VGCF_IN_SYSCALL, 1 << 8);
        assert_eq!(VGCF_IN_SYSCALL, 0x100);
    }

    #[test]
    fn vectors() {
        let v = [
            TRAP_DIVIDE_ERROR,
            TRAP_DEBUG,
            TRAP_NMI,
            TRAP_INT3,
            TRAP_OVERFLOW,
            TRAP_BOUNDS,
            TRAP_INVALID_OP,
            TRAP_NO_DEVICE,
            TRAP_DOUBLE_FAULT,
            TRAP_COPRO_SEG,
            TRAP_INVALID_TSS,
            TRAP_NO_SEGMENT,
            TRAP_STACK_ERROR,
            TRAP_GP_FAULT,
            TRAP_PAGE_FAULT,
            TRAP_SPURIOUS_INT,
            TRAP_COPRO_ERROR,
            TRAP_ALIGNMENT_CHECK,
            TRAP_MACHINE_CHECK,
            TRAP_SIMD_ERROR,
            TRAP_VIRTUALISATION,
            TRAP_CONTROL_FLOW,
        ];
        assert_eq!(
            v,
            [
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21
            ]
        );
    }

    #[test]
    fn page_fault_error_code_bits() {
        assert_eq!(PFEC_PRESENT, 1);
        assert_eq!(PFEC_WRITE, 2);
        assert_eq!(PFEC_USER, 4);
        assert_eq!(PFEC_RESERVED, 8);
        assert_eq!(PFEC_INSN_FETCH, 16);
    }
}
