//! The guest register frame saved at the top of the hypervisor stack on every entry from a guest.

/// Saved guest registers, lowest address first (the order of Xen's `cpu_user_regs`). The entry
/// stubs in `arch/x86_64/entry.rs` build it and the exit paths restore it, so its layout is ABI
/// between Rust and assembly: see the offset checks below.
///
/// A frame built by the `syscall` entry is *partial* ([`GuestRegs::is_partial`]): the
/// callee-saved slots (r15, r14, r13, r12, rbp, rbx) are not written on entry and not restored on
/// exit, since the guest's values stay live in the CPU while the Rust side runs. Those six
/// fields of a partial frame hold stale stack contents: nothing may read them, and nothing may
/// copy a partial frame anywhere a guest can see it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    /// Hardware error code (0 when the vector has none).
    pub error_code: u32,
    /// The vector that entered ([`ENTRY_SYSCALL`] marks a `syscall`, and a partial frame).
    pub entry_vector: u32,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// `entry_vector` of a frame built by the `syscall` entry (Xen's `TRAP_syscall`).
pub const ENTRY_SYSCALL: u32 = 0x100;

/// The 64-bit `syscall` instruction's length (`0f 05`): a hypercall continuation or a `#UD` for
/// a `syscall` without a callback points RIP back at it.
pub const SYSCALL_INSN_LEN: u64 = 2;

/// Size of the frame in bytes.
pub const GUEST_REGS_SIZE: usize = core::mem::size_of::<GuestRegs>();

const _: () = assert!(GUEST_REGS_SIZE == 21 * 8);
const _: () = assert!(core::mem::offset_of!(GuestRegs, rax) == 10 * 8);
const _: () = assert!(core::mem::offset_of!(GuestRegs, rdi) == 14 * 8);
const _: () = assert!(core::mem::offset_of!(GuestRegs, error_code) == 15 * 8);
const _: () = assert!(core::mem::offset_of!(GuestRegs, entry_vector) == 15 * 8 + 4);
const _: () = assert!(core::mem::offset_of!(GuestRegs, rip) == 16 * 8);
const _: () = assert!(core::mem::offset_of!(GuestRegs, ss) == 20 * 8);

impl GuestRegs {
    /// Hypercall arguments in Xen's order: rdi, rsi, rdx, r10, r8, r9.
    pub fn hypercall_args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }
}

impl GuestRegs {
    /// Whether the `syscall` entry built this frame (its callee-saved slots are not valid).
    pub fn is_partial(&self) -> bool {
        self.entry_vector == ENTRY_SYSCALL
    }

    /// Whether the frame's code selector is the flat 32-bit one (compat code, whose RIP is an
    /// EIP that wraps at 4 GiB).
    pub fn in_compat_code(&self) -> bool {
        self.cs == u64::from(hypercall_abi::segment::FLAT_RING3_CS32)
    }

    /// Moves RIP past an emulated instruction of `len` bytes, wrapping as the CPU does: at 4 GiB
    /// in compat code, at 2^64 otherwise. A result that is not canonical is left for the exit
    /// check (`trap::iret::check_frame`), which turns it into the #GP the CPU would raise.
    pub fn advance_rip(&mut self, len: u64) {
        let next = self.rip.wrapping_add(len);
        self.rip = if self.in_compat_code() {
            next & 0xffff_ffff
        } else {
            next
        };
    }

    /// Moves RIP back by `len` bytes (to re-execute or to report the instruction), with the same
    /// wrapping as [`GuestRegs::advance_rip`].
    pub fn rewind_rip(&mut self, len: u64) {
        self.advance_rip(len.wrapping_neg());
    }

    /// Sets general-purpose register `n` in the instruction encoding's numbering (0 = rax,
    /// 1 = rcx, 2 = rdx, 3 = rbx, 4 = rsp, 5 = rbp, 6 = rsi, 7 = rdi, 8..=15 = r8..r15).
    pub fn set_gpr(&mut self, n: u8, value: u64) {
        let slot = match n {
            0 => &mut self.rax,
            1 => &mut self.rcx,
            2 => &mut self.rdx,
            3 => &mut self.rbx,
            4 => &mut self.rsp,
            5 => &mut self.rbp,
            6 => &mut self.rsi,
            7 => &mut self.rdi,
            8 => &mut self.r8,
            9 => &mut self.r9,
            10 => &mut self.r10,
            11 => &mut self.r11,
            12 => &mut self.r12,
            13 => &mut self.r13,
            14 => &mut self.r14,
            _ => &mut self.r15,
        };
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpr_numbering_follows_the_encoding() {
        let mut r = GuestRegs::default();
        for n in 0..16u8 {
            r.set_gpr(n, 100 + u64::from(n));
        }
        assert_eq!((r.rax, r.rcx, r.rdx, r.rbx), (100, 101, 102, 103));
        assert_eq!((r.rsp, r.rbp, r.rsi, r.rdi), (104, 105, 106, 107));
        assert_eq!((r.r8, r.r15), (108, 115));
        assert_eq!(r.hypercall_args(), [107, 106, 102, 110, 108, 109]);
    }

    #[test]
    fn rip_arithmetic_wraps_like_the_cpu() {
        let mut r = GuestRegs {
            rip: u64::MAX - 1,
            cs: 0xe033,
            ..Default::default()
        };
        r.advance_rip(7);
        assert_eq!(r.rip, 5, "64-bit code wraps at 2^64");
        r.rewind_rip(7);
        assert_eq!(r.rip, u64::MAX - 1);
        r.rip = 0x7fff_ffff_fffe;
        r.advance_rip(2);
        assert_eq!(
            r.rip, 0x8000_0000_0000,
            "a non-canonical result is kept for the exit check"
        );
        r.cs = 0xe023;
        r.rip = 0xffff_fffe;
        r.advance_rip(3);
        assert_eq!(r.rip, 1, "compat code wraps at 4 GiB");
        r.rewind_rip(2);
        assert_eq!(r.rip, 0xffff_ffff);
    }

    #[test]
    fn the_syscall_entry_marks_its_frames() {
        let mut r = GuestRegs::default();
        assert!(!r.is_partial());
        r.entry_vector = ENTRY_SYSCALL;
        assert!(r.is_partial());
    }
}
