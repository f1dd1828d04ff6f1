//! The iret hypercall: checking the guest's return context and applying it to the frame.

use crate::guest_regs::GuestRegs;
use crate::trap::bounce::RFLAGS_IF;
use hypercall_abi::layout::is_canonical;
use hypercall_abi::segment::{FLAT_RING3_CS32, FLAT_RING3_CS64, FLAT_RING3_SS64};
use hypercall_abi::traps::{IretContext, VGCF_IN_SYSCALL};

/// RFLAGS bits a guest may set: CF, PF, AF, ZF, SF, TF, DF, OF, AC, ID.
pub const RFLAGS_GUEST_MASK: u64 = 0x0024_0DD5;
/// RFLAGS bit 1, always set.
pub const RFLAGS_FIXED: u64 = 0x2;

/// Why an iret context cannot be used. Each one crashes the guest, as a faulting iret would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IretError {
    /// RIP or RSP is not canonical.
    NonCanonical,
    /// CS or SS is not a selector the guest may use.
    BadSelector,
}

/// What the iret changed besides the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IretOutcome {
    /// The guest returns to user mode (CS RPL 3).
    pub to_user: bool,
    /// The new vcpu_info.evtchn_upcall_mask: set when the context's IF is clear.
    pub upcall_mask: u8,
    /// The value for RAX, which the hypercall returns.
    pub rax: u64,
}

/// Checks `ctx` and loads it into `regs` (RAX is left to the hypercall's return value).
pub fn apply(regs: &mut GuestRegs, ctx: &IretContext) -> Result<IretOutcome, IretError> {
    if !is_canonical(ctx.rip) || !is_canonical(ctx.rsp) {
        return Err(IretError::NonCanonical);
    }
    // Selectors are 16 bits; a bounce frame's CS carries the saved event mask in bits 32-39,
    // which a guest may hand straight back.
    let cs = u64::from(ctx.cs as u16 | 3);
    let ss = u64::from(ctx.ss as u16 | 3);
    if !(cs == u64::from(FLAT_RING3_CS64) || cs == u64::from(FLAT_RING3_CS32))
        || ss != u64::from(FLAT_RING3_SS64)
    {
        return Err(IretError::BadSelector);
    }
    regs.rip = ctx.rip;
    regs.cs = cs;
    regs.rflags = (ctx.rflags & RFLAGS_GUEST_MASK) | RFLAGS_FIXED | RFLAGS_IF;
    regs.rsp = ctx.rsp;
    regs.ss = ss;
    if ctx.flags & VGCF_IN_SYSCALL == 0 {
        regs.rcx = ctx.rcx;
        regs.r11 = ctx.r11;
    }
    Ok(IretOutcome {
        to_user: ctx.cs & 3 == 3,
        upcall_mask: u8::from(ctx.rflags & RFLAGS_IF == 0),
        rax: ctx.rax,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> IretContext {
        IretContext {
            rax: 5,
            r11: 6,
            rcx: 7,
            flags: 0,
            rip: 0x40_1000,
            cs: 0xe030,
            rflags: 0x3246 | (1 << 17),
            rsp: 0x7fff_f000,
            ss: 0xe02b,
        }
    }

    #[test]
    fn loads_a_kernel_return() {
        let mut r = GuestRegs::default();
        let out = apply(&mut r, &ctx()).unwrap();
        assert_eq!(
            out,
            IretOutcome {
                to_user: false,
                upcall_mask: 0,
                rax: 5
            }
        );
        assert_eq!(
            (r.rip, r.cs, r.rsp, r.ss, r.rcx, r.r11),
            (0x40_1000, 0xe033, 0x7fff_f000, 0xe02b, 7, 6)
        );
        assert_eq!(r.rflags, 0x246, "IOPL and VM are dropped, IF kept");
    }

    #[test]
    fn user_return_and_masking() {
        let mut c = ctx();
        c.cs = 0xe033;
        c.rflags = 0x2;
        c.flags = VGCF_IN_SYSCALL;
        let mut r = GuestRegs {
            rcx: 1,
            r11: 2,
            ..Default::default()
        };
        let out = apply(&mut r, &c).unwrap();
        assert!(out.to_user);
        assert_eq!(out.upcall_mask, 1);
        assert_eq!((r.rcx, r.r11), (1, 2), "in_syscall leaves rcx/r11");
        assert_ne!(r.rflags & RFLAGS_IF, 0, "hardware IF stays on");
    }

    #[test]
    fn upper_bits_of_selectors_are_ignored() {
        let mut r = GuestRegs::default();
        let c = IretContext {
            cs: 0x1_0000_e030,
            ss: 0xffff_0000_0000_e02b,
            ..ctx()
        };
        assert!(apply(&mut r, &c).is_ok());
        assert_eq!((r.cs, r.ss), (0xe033, 0xe02b));
    }

    #[test]
    fn refuses_bad_contexts_without_touching_regs() {
        let before = GuestRegs {
            rip: 9,
            ..Default::default()
        };
        for bad in [
            IretContext {
                rip: 0x8000_0000_0000_0000,
                ..ctx()
            },
            IretContext {
                rsp: 0x0001_0000_0000_0000,
                ..ctx()
            },
            IretContext { cs: 0x10, ..ctx() },
            IretContext { ss: 0, ..ctx() },
        ] {
            let mut r = before;
            assert!(apply(&mut r, &bad).is_err());
            assert_eq!(r, before);
        }
    }
}
