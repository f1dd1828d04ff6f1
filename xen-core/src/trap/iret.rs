//! Returning to a PV guest: the iret hypercall's context, and the check every frame passes first.
//!
//! Xen's iret hypercall checks nothing but the stack it reads: it loads the context (forcing RPL
//! 3, IF, and dropping IOPL and VM) and leaves the rest to its final `iretq`. When that `iretq`
//! faults, Xen handles the fault as if the guest had raised it in the context it was returning
//! to. xen-core gets the same result without ever faulting: [`check_frame`] finds what `iretq`
//! would refuse and names the #GP, which the caller delivers to the guest instead.

use crate::guest_regs::GuestRegs;
use crate::trap::bounce::RFLAGS_IF;
use hypercall_abi::layout::is_canonical;
use hypercall_abi::segment::{FLAT_RING3_CS32, FLAT_RING3_CS64, FLAT_RING3_SS64};
use hypercall_abi::traps::{IretContext, VGCF_IN_SYSCALL};

/// RFLAGS bit 1, always set.
pub const RFLAGS_FIXED: u64 = 0x2;
/// RFLAGS.IOPL (two bits).
pub const RFLAGS_IOPL: u64 = 3 << 12;
/// RFLAGS.VM.
pub const RFLAGS_VM: u64 = 1 << 17;
/// The RFLAGS bits the architecture defines: 0-21 without the reserved bits 3, 5 and 15.
pub const RFLAGS_DEFINED: u64 = 0x003F_7FD7;
/// What a frame's RFLAGS keeps on the way to a guest: everything defined except IOPL and VM,
/// as Xen's iret (NT, RF, AC, VIF, VIP and ID included).
pub const RFLAGS_GUEST_MASK: u64 = RFLAGS_DEFINED & !(RFLAGS_IOPL | RFLAGS_VM);

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

/// Loads `ctx` into `regs` as Xen's iret does (RAX is left to the hypercall's return value).
/// Selectors are 16 bits (a bounce frame's CS carries the saved event mask in bits 32-39, which
/// a guest may hand straight back) and get RPL 3; whether the frame is usable is decided on the
/// way out, by [`check_frame`].
pub fn apply(regs: &mut GuestRegs, ctx: &IretContext) -> IretOutcome {
    regs.rip = ctx.rip;
    regs.cs = u64::from(ctx.cs as u16 | 3);
    regs.rflags = sanitize_rflags(ctx.rflags);
    regs.rsp = ctx.rsp;
    regs.ss = u64::from(ctx.ss as u16 | 3);
    if ctx.flags & VGCF_IN_SYSCALL == 0 {
        regs.rcx = ctx.rcx;
        regs.r11 = ctx.r11;
    }
    IretOutcome {
        to_user: ctx.cs & 3 == 3,
        upcall_mask: u8::from(ctx.rflags & RFLAGS_IF == 0),
        rax: ctx.rax,
    }
}

/// The RFLAGS a guest runs with: its defined bits without IOPL and VM, with IF (the guest's
/// own interrupt flag is its event mask) and the fixed bit 1.
pub fn sanitize_rflags(rflags: u64) -> u64 {
    (rflags & RFLAGS_GUEST_MASK) | RFLAGS_FIXED | RFLAGS_IF
}

/// What a selector in a return frame names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorKind {
    /// A DPL 3 64-bit code segment.
    Code64,
    /// A DPL 3 32-bit code segment with a 4 GiB limit.
    Code32,
    /// A DPL 3 writable data segment (usable as SS).
    StackData,
    /// Anything `iretq` to CPL 3 refuses.
    Unusable,
}

/// The selectors every PV guest has: Xen's flat ring-3 ones in the reserved GDT area.
pub fn flat_selector(selector: u16) -> SelectorKind {
    match selector {
        FLAT_RING3_CS64 => SelectorKind::Code64,
        FLAT_RING3_CS32 => SelectorKind::Code32,
        FLAT_RING3_SS64 => SelectorKind::StackData,
        _ => SelectorKind::Unusable,
    }
}

/// What guest descriptor `raw` (from the guest's GDT or LDT) is as an `iretq` target to CPL 3:
/// present code or data segments of DPL 3 only (Xen stores every guest code/data descriptor
/// with DPL 3). A 32-bit code segment counts as [`SelectorKind::Code32`] whatever its limit;
/// the RIP check then uses 4 GiB, which is what a flat one allows and more than a shorter
/// one does, so a RIP past a short limit is left to the CPU, whose #GP then comes from the
/// guest's own `iretq` bounce (handled as a faulting guest return).
pub fn descriptor_kind(raw: u64) -> SelectorKind {
    let hi = (raw >> 32) as u32;
    let present = hi & (1 << 15) != 0;
    let code_or_data = hi & (1 << 12) != 0;
    let dpl3 = (hi >> 13) & 3 == 3;
    if !present || !code_or_data || !dpl3 {
        return SelectorKind::Unusable;
    }
    let is_code = hi & (1 << 11) != 0;
    if is_code {
        let long = hi & (1 << 21) != 0;
        let default32 = hi & (1 << 22) != 0;
        match (long, default32) {
            (true, false) => SelectorKind::Code64,
            (false, true) => SelectorKind::Code32,
            // 16-bit code, or L and D both set (reserved): refused here.
            _ => SelectorKind::Unusable,
        }
    } else if hi & (1 << 9) != 0 {
        SelectorKind::StackData
    } else {
        SelectorKind::Unusable
    }
}

/// The #GP that `iretq` would raise for a frame, with its error code (a selector without its
/// RPL, or 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameFault {
    /// The #GP error code.
    pub error_code: u16,
}

/// A frame [`check_frame`] refused, handed back with the fault so that the caller can deliver
/// it and check again.
#[derive(Debug)]
pub struct Refused<'a> {
    /// The #GP `iretq` would raise.
    pub fault: FrameFault,
    /// The (sanitized) frame.
    pub regs: &'a mut GuestRegs,
}

/// A frame that passed [`check_frame`]: `iretq` to it (and `sysretq`, whose target is its
/// RIP) cannot fault in xen-core.
#[derive(Debug)]
pub struct CheckedFrame<'a>(&'a GuestRegs);

impl CheckedFrame<'_> {
    /// The checked registers.
    pub fn regs(&self) -> &GuestRegs {
        self.0
    }
}

/// Makes `regs` ready for `iretq` to a guest with only the flat selectors: see
/// [`check_frame_with`].
pub fn check_frame(regs: &mut GuestRegs) -> Result<CheckedFrame<'_>, Refused<'_>> {
    check_frame_with(regs, flat_selector)
}

/// Makes `regs` ready for `iretq` to a guest: RFLAGS is sanitized (no IOPL, no VM, IF set) and
/// CS and SS are cut to 16 bits, then the frame is checked in the order the CPU checks it: CS
/// (null: #GP(0); not a DPL 3 code segment with RPL 3: #GP(CS)), SS (null: #GP(0); not a DPL 3
/// data segment with RPL 3: #GP(SS)), then RIP (not canonical for 64-bit code, or past 4 GiB for
/// 32-bit code: #GP(0)). `classify` says what a selector names in the guest's descriptor tables.
/// RSP is not checked: `iretq` does not check it either.
pub fn check_frame_with(
    regs: &mut GuestRegs,
    classify: impl Fn(u16) -> SelectorKind,
) -> Result<CheckedFrame<'_>, Refused<'_>> {
    regs.rflags = sanitize_rflags(regs.rflags);
    regs.cs &= 0xffff;
    regs.ss &= 0xffff;
    match first_fault(regs, classify) {
        None => Ok(CheckedFrame(regs)),
        Some(selector) => Err(Refused {
            fault: FrameFault {
                error_code: selector & !3,
            },
            regs,
        }),
    }
}

/// The selector (or 0) of the first check `iretq` would fail on `regs`, if any.
fn first_fault(regs: &GuestRegs, classify: impl Fn(u16) -> SelectorKind) -> Option<u16> {
    let (cs, ss) = (regs.cs as u16, regs.ss as u16);
    if cs & !3 == 0 {
        return Some(0);
    }
    let code = match classify(cs) {
        kind @ (SelectorKind::Code64 | SelectorKind::Code32) if cs & 3 == 3 => kind,
        _ => return Some(cs),
    };
    if ss & !3 == 0 {
        return Some(0);
    }
    if ss & 3 != 3 || classify(ss) != SelectorKind::StackData {
        return Some(ss);
    }
    let rip_ok = match code {
        SelectorKind::Code64 => is_canonical(regs.rip),
        _ => regs.rip <= 0xffff_ffff,
    };
    (!rip_ok).then_some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_descriptors_classify_as_the_cpu_sees_them() {
        // Flat DPL 3 descriptors as a guest writes them (present, S, type, limit 4 GiB).
        let code64 = 0x00af_fa00_0000_ffff;
        let code32 = 0x00cf_fa00_0000_ffff;
        let data = 0x00cf_f200_0000_ffff;
        assert_eq!(descriptor_kind(code64), SelectorKind::Code64);
        assert_eq!(descriptor_kind(code32), SelectorKind::Code32);
        assert_eq!(descriptor_kind(data), SelectorKind::StackData);
        // Read-only data, not present, DPL 0, system, 16-bit code, L+D.
        assert_eq!(
            descriptor_kind(0x00cf_f000_0000_ffff),
            SelectorKind::Unusable
        );
        assert_eq!(descriptor_kind(data & !(1 << 47)), SelectorKind::Unusable);
        assert_eq!(
            descriptor_kind(0x00cf_9200_0000_ffff),
            SelectorKind::Unusable
        );
        assert_eq!(
            descriptor_kind(0x00cf_e200_0000_ffff),
            SelectorKind::Unusable
        );
        assert_eq!(
            descriptor_kind(0x000f_fa00_0000_ffff),
            SelectorKind::Unusable
        );
        assert_eq!(
            descriptor_kind(0x00ef_fa00_0000_ffff),
            SelectorKind::Unusable
        );
        assert_eq!(descriptor_kind(0), SelectorKind::Unusable);
    }
    use crate::trap::bounce::RFLAGS_DF;

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

    fn frame() -> GuestRegs {
        GuestRegs {
            rip: 0xFFFF_FFFF_8000_1000,
            cs: 0xe033,
            rflags: 0x246,
            rsp: 0xFFFF_FFFF_8010_0000,
            ss: 0xe02b,
            ..Default::default()
        }
    }

    #[test]
    fn loads_a_kernel_return() {
        let mut r = GuestRegs::default();
        let out = apply(&mut r, &ctx());
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
        assert!(check_frame(&mut r).is_ok());
    }

    #[test]
    fn keeps_the_flags_xen_keeps() {
        let mut r = GuestRegs::default();
        let nt_rf_ac_id = (1 << 14) | (1 << 16) | (1 << 18) | (1 << 21);
        let c = IretContext {
            rflags: nt_rf_ac_id | RFLAGS_IOPL | RFLAGS_VM | RFLAGS_DF | 0x1,
            ..ctx()
        };
        apply(&mut r, &c);
        assert_eq!(
            r.rflags,
            nt_rf_ac_id | RFLAGS_DF | 0x1 | RFLAGS_FIXED | RFLAGS_IF
        );
        assert_eq!(
            sanitize_rflags(u64::MAX),
            RFLAGS_GUEST_MASK | RFLAGS_IF,
            "reserved bits never reach the CPU"
        );
        assert_eq!(RFLAGS_GUEST_MASK & (RFLAGS_IOPL | RFLAGS_VM), 0);
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
        let out = apply(&mut r, &c);
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
        apply(&mut r, &c);
        assert_eq!((r.cs, r.ss), (0xe033, 0xe02b));
    }

    #[test]
    fn bad_contexts_are_loaded_and_then_refused_on_the_way_out() {
        for (bad, error_code) in [
            (
                IretContext {
                    rip: 0x8000_0000_0000_0000,
                    ..ctx()
                },
                0,
            ),
            (IretContext { cs: 0x10, ..ctx() }, 0x10),
            (IretContext { cs: 0, ..ctx() }, 0),
            (IretContext { ss: 0, ..ctx() }, 0),
            (
                IretContext {
                    ss: 0xe033,
                    ..ctx()
                },
                0xe030,
            ),
            (
                IretContext {
                    cs: 0xe02b,
                    ..ctx()
                },
                0xe028,
            ),
            (
                IretContext {
                    cs: 0xe023,
                    rip: 0x1_0000_0000,
                    ..ctx()
                },
                0,
            ),
        ] {
            let mut r = GuestRegs::default();
            apply(&mut r, &bad);
            assert_eq!(
                check_frame(&mut r).map(|_| ()).map_err(|r| r.fault),
                Err(FrameFault { error_code }),
                "{bad:x?}"
            );
        }
    }

    #[test]
    fn rsp_is_not_checked() {
        let mut r = GuestRegs::default();
        apply(
            &mut r,
            &IretContext {
                rsp: 0x0001_0000_0000_0000,
                ..ctx()
            },
        );
        assert!(check_frame(&mut r).is_ok());
    }

    #[test]
    fn the_cpu_checks_cs_then_ss_then_rip() {
        let mut r = GuestRegs {
            cs: 0x13,
            ss: 0x1b,
            rip: 1 << 63,
            ..frame()
        };
        assert_eq!(
            check_frame(&mut r).map(|_| ()).map_err(|r| r.fault),
            Err(FrameFault { error_code: 0x10 })
        );
        let mut r = GuestRegs {
            ss: 0x1b,
            rip: 1 << 63,
            ..frame()
        };
        assert_eq!(
            check_frame(&mut r).map(|_| ()).map_err(|r| r.fault),
            Err(FrameFault { error_code: 0x18 })
        );
    }

    #[test]
    fn rpl_must_be_3() {
        let mut r = GuestRegs {
            cs: 0xe030,
            ..frame()
        };
        assert_eq!(
            check_frame(&mut r).map(|_| ()).map_err(|r| r.fault),
            Err(FrameFault { error_code: 0xe030 })
        );
        let mut r = GuestRegs {
            ss: 0xe028,
            ..frame()
        };
        assert_eq!(
            check_frame(&mut r).map(|_| ()).map_err(|r| r.fault),
            Err(FrameFault { error_code: 0xe028 })
        );
    }

    #[test]
    fn sanitizes_what_iretq_would_take_from_rflags() {
        let mut r = GuestRegs {
            rflags: RFLAGS_IOPL | RFLAGS_VM | 0x100,
            cs: 0x1_0000_e033,
            ..frame()
        };
        let checked = check_frame(&mut r).unwrap();
        assert_eq!(checked.regs().rflags, 0x100 | RFLAGS_IF | RFLAGS_FIXED);
        assert_eq!(checked.regs().cs, 0xe033);
    }

    #[test]
    fn compat_code_and_canonical_edges() {
        let mut r = GuestRegs {
            cs: 0xe023,
            rip: 0xffff_ffff,
            ..frame()
        };
        assert!(check_frame(&mut r).is_ok());
        for (rip, ok) in [
            (0x0000_7fff_ffff_ffff, true),
            (0x0000_8000_0000_0000, false),
            (0xffff_7fff_ffff_ffff, false),
            (0xffff_8000_0000_0000, true),
        ] {
            let mut r = GuestRegs { rip, ..frame() };
            assert_eq!(check_frame(&mut r).is_ok(), ok, "{rip:#x}");
        }
    }

    #[test]
    fn other_descriptor_tables_can_be_consulted() {
        let mut r = GuestRegs {
            cs: 0x33,
            ss: 0x2b,
            ..frame()
        };
        let classify = |sel: u16| match sel {
            0x33 => SelectorKind::Code64,
            0x2b => SelectorKind::StackData,
            other => flat_selector(other),
        };
        assert!(check_frame_with(&mut r, classify).is_ok());
        assert!(check_frame(&mut r).is_err());
    }
}
