//! The bounce frame: how an exception or callback is delivered onto a PV guest's kernel stack.

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

/// Words in the largest frame: RCX, R11, error code, RIP, CS, RFLAGS, RSP, SS.
const MAX_WORDS: usize = 8;

/// The frame to write on the guest stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BounceFrame {
    /// Guest address of the lowest word.
    pub rsp: u64,
    /// The words as stored, lowest address first: RCX, R11, [error], RIP, CS, RFLAGS, RSP, SS.
    bytes: [u8; MAX_WORDS * 8],
    /// How many words there are (7, or 8 with an error code).
    len: usize,
}

impl BounceFrame {
    /// The bytes to write at [`BounceFrame::rsp`].
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len * 8]
    }

    /// Word `i` of the frame (lowest address first), if there is one.
    pub fn word(&self, i: usize) -> Option<u64> {
        let b = self.bytes().get(i * 8..i * 8 + 8)?;
        Some(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame is empty (never: it has at least seven words).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
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
    let mut words = [0u64; MAX_WORDS];
    words[0] = regs.rcx;
    words[1] = regs.r11;
    let tail = match b.error_code {
        Some(e) => {
            words[2] = e;
            3
        }
        None => 2,
    };
    let rest = [regs.rip, cs_word, rflags, regs.rsp, regs.ss];
    words[tail..tail + rest.len()].copy_from_slice(&rest);
    let len = tail + rest.len();
    let rsp = base.checked_sub(8 * len as u64)?;
    let mut bytes = [0u8; MAX_WORDS * 8];
    for (chunk, w) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    Some(BounceFrame { rsp, bytes, len })
}

/// Points `regs` at the handler on the new frame, in guest kernel mode.
pub fn enter_handler(regs: &mut GuestRegs, frame: &BounceFrame, handler: u64) {
    regs.rip = handler;
    regs.cs = u64::from(FLAT_KERNEL_CS64);
    regs.ss = u64::from(FLAT_KERNEL_SS64);
    regs.rsp = frame.rsp;
    regs.rflags = (regs.rflags & !RFLAGS_CLEARED_ON_BOUNCE) | RFLAGS_IF;
}

/// RFLAGS.DF.
pub const RFLAGS_DF: u64 = 1 << 10;

/// What a `syscall` bounce changes on top of [`enter_handler`]: the guest kernel's callback
/// starts with DF clear. Xen's PV ABI fixes the guest's (virtual) SYSCALL_MASK to DF alone; the
/// IF part is the callback's mask_events flag. Xen 4.17 clears DF for the #UD it raises when no
/// callback is registered too (Xen 4.19 stopped doing that).
pub fn enter_syscall_callback(regs: &mut GuestRegs) {
    regs.rflags &= !RFLAGS_DF;
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
        let words: std::vec::Vec<u64> = (0..f.len()).filter_map(|i| f.word(i)).collect();
        assert_eq!(words, [0x11, 0x22, 7, r.rip, cs, flags, r.rsp, 0xe02b]);
        assert_eq!(f.bytes().len(), 64);
        assert_eq!(f.bytes()[..8], 0x11u64.to_le_bytes());
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
        assert_eq!(f.len(), 7);
        assert_eq!(f.word(3), Some(0xe033), "user CS keeps RPL 3");
        assert_ne!(f.word(4).unwrap() & RFLAGS_IF, 0);
        assert_eq!(f.word(7), None);
    }

    #[test]
    fn syscall_callbacks_start_with_df_clear() {
        let mut r = regs();
        r.rflags |= RFLAGS_DF | (1 << 0);
        enter_syscall_callback(&mut r);
        assert_eq!(r.rflags & RFLAGS_DF, 0);
        assert_ne!(r.rflags & 1, 0, "other flags stay");
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
