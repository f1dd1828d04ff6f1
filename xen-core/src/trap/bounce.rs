//! The bounce frame: how an exception or callback is delivered onto a PV guest's kernel stack.

use heapless::Vec;

use crate::guest_regs::GuestRegs;
use hypercall_abi::segment::{FLAT_KERNEL_CS64, FLAT_KERNEL_SS64};

/// RFLAGS.IF.
pub const RFLAGS_IF: u64 = 1 << 9;
/// RFLAGS bits cleared on delivery, as the CPU does for an interrupt gate: TF, NT, RF, VM, AC.
pub const RFLAGS_CLEARED_ON_BOUNCE: u64 = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 18);

/// Everything needed to deliver one bounce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounce {
    /// Guest handler address.
    pub handler: u64,
    /// Error code to push, if the vector has one.
    pub error_code: Option<u64>,
    /// The guest was in user mode when it was interrupted.
    pub from_user: bool,
    /// The guest's event mask (vcpu_info.evtchn_upcall_mask) before delivery.
    pub saved_upcall_mask: u8,
    /// The stack to use when coming from user mode (stack_switch).
    pub kernel_sp: u64,
}

/// The frame to write and the register changes to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BounceFrame {
    /// Guest address of the lowest word.
    pub rsp: u64,
    /// The words, lowest address first: RCX, R11, [error], RIP, CS, RFLAGS, RSP, SS.
    pub words: Vec<u64, 8>,
}

/// Computes the bounce frame for `regs`; `None` if the guest stack pointer would wrap.
pub fn frame_for(regs: &GuestRegs, b: &Bounce) -> Option<BounceFrame> {
    let base = if b.from_user { b.kernel_sp } else { regs.rsp } & !15;
    // From kernel mode the saved CS shows RPL 0, as the guest kernel thinks of itself as ring 0.
    let cs = if b.from_user { regs.cs } else { regs.cs & !3 };
    let cs_word = cs | (u64::from(b.saved_upcall_mask) << 32);
    let rflags = if b.saved_upcall_mask != 0 {
        regs.rflags & !RFLAGS_IF
    } else {
        regs.rflags | RFLAGS_IF
    };
    let mut words: Vec<u64, 8> = Vec::new();
    let _ = words.push(regs.rcx);
    let _ = words.push(regs.r11);
    if let Some(e) = b.error_code {
        let _ = words.push(e);
    }
    for w in [regs.rip, cs_word, rflags, regs.rsp, regs.ss] {
        let _ = words.push(w);
    }
    let rsp = base.checked_sub(8 * words.len() as u64)?;
    Some(BounceFrame { rsp, words })
}

/// Points `regs` at the handler on the new frame, in guest kernel mode.
pub fn enter_handler(regs: &mut GuestRegs, frame: &BounceFrame, handler: u64) {
    regs.rip = handler;
    regs.cs = u64::from(FLAT_KERNEL_CS64);
    regs.ss = u64::from(FLAT_KERNEL_SS64);
    regs.rsp = frame.rsp;
    regs.rflags = (regs.rflags & !RFLAGS_CLEARED_ON_BOUNCE) | RFLAGS_IF;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> GuestRegs {
        GuestRegs {
            rcx: 0x11,
            r11: 0x22,
            rip: 0xFFFF_FFFF_8000_1234,
            cs: 0xe033,
            rflags: 0x246 | (1 << 8),
            rsp: 0xFFFF_FFFF_8010_0F18,
            ss: 0xe02b,
            ..Default::default()
        }
    }

    #[test]
    fn kernel_mode_fault_with_error_code() {
        let r = regs();
        let b = Bounce {
            handler: 0xFFFF_FFFF_8000_5000,
            error_code: Some(7),
            from_user: false,
            saved_upcall_mask: 1,
            kernel_sp: 0,
        };
        let f = frame_for(&r, &b).unwrap();
        assert_eq!(f.rsp, 0xFFFF_FFFF_8010_0F10 - 64);
        let cs = 0xe030 | (1 << 32);
        let flags = (0x246 | (1 << 8)) & !RFLAGS_IF;
        assert_eq!(
            f.words.as_slice(),
            &[0x11, 0x22, 7, r.rip, cs, flags, r.rsp, 0xe02b]
        );
        let mut r2 = r;
        enter_handler(&mut r2, &f, b.handler);
        assert_eq!(
            (r2.rip, r2.cs, r2.ss, r2.rsp),
            (b.handler, 0xe033, 0xe02b, f.rsp)
        );
        assert_eq!(r2.rflags & (1 << 8), 0, "TF cleared");
        assert_ne!(r2.rflags & RFLAGS_IF, 0, "IF stays set in hardware");
    }

    #[test]
    fn user_mode_uses_the_kernel_stack() {
        let mut r = regs();
        r.rsp = 0x7fff_0000;
        let b = Bounce {
            handler: 1,
            error_code: None,
            from_user: true,
            saved_upcall_mask: 0,
            kernel_sp: 0xFFFF_FFFF_8020_0008,
        };
        let f = frame_for(&r, &b).unwrap();
        assert_eq!(f.rsp, 0xFFFF_FFFF_8020_0000 - 56);
        assert_eq!(f.words[3], 0xe033, "user CS keeps RPL 3");
        assert_ne!(f.words[4] & RFLAGS_IF, 0);
    }

    #[test]
    fn wrapping_stack_is_refused() {
        let mut r = regs();
        r.rsp = 16;
        let b = Bounce {
            handler: 1,
            error_code: None,
            from_user: false,
            saved_upcall_mask: 0,
            kernel_sp: 0,
        };
        assert_eq!(frame_for(&r, &b), None);
    }
}
