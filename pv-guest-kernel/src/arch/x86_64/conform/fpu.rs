//! x87/SSE state for the conformance guests: fxsave images, single FPU instructions, #MF.
// The target is soft-float with SSE disabled, so compiled code never keeps a value in an
// x87 or XMM register: the FPU state belongs to the asm here alone, and it stays as loaded
// across Rust code. (That is also why no asm below can name an XMM register as an operand.)

use core::arch::asm;

use super::insn::{Ran, Site, probe};

/// Size of an fxsave image.
pub const FXSAVE_BYTES: usize = 512;

/// An fxsave image (16-byte aligned, as FXSAVE/FXRSTOR require).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FxArea(pub [u8; FXSAVE_BYTES]);

impl Default for FxArea {
    fn default() -> Self {
        Self([0; FXSAVE_BYTES])
    }
}

/// FXSAVE into a fresh image; `None` if it faulted (for example #NM with TS set).
pub fn fxsave() -> Option<FxArea> {
    let mut area = FxArea::default();
    let p = &mut area as *mut FxArea;
    // SAFETY: FXSAVE writes the 512 bytes of the live, aligned image and nothing else.
    let (f, _) = unsafe { probe!("", "fxsave64 [{p}]", "", p = in(reg) p, options(nostack)) };
    (f == 0).then_some(area)
}

/// FXRSTOR from `area`; false if it faulted (a reserved MXCSR bit raises #GP, TS raises #NM).
pub fn fxrstor(area: &FxArea) -> bool {
    // SAFETY: FXRSTOR reads the live image; it changes only the FPU state, which no compiled
    // code uses (see the top of this file).
    let (f, _) = unsafe {
        probe!(
            "",
            "fxrstor64 [{p}]",
            "",
            p = in(reg) area as *const FxArea,
            options(nostack, readonly)
        )
    };
    f == 0
}

/// FNSTCW: the x87 control word.
pub fn fnstcw() -> Ran<u16> {
    let mut cw: u16 = 0;
    // SAFETY: FNSTCW writes the two bytes of the live local.
    let (f, site) = unsafe {
        probe!(
            "",
            "fnstcw word ptr [{p}]",
            "",
            p = in(reg) &mut cw as *mut u16,
            options(nostack)
        )
    };
    Ran::new(f, site, cw)
}

/// STMXCSR: the SSE control and status register.
pub fn stmxcsr() -> Ran<u32> {
    let mut csr: u32 = 0;
    // SAFETY: STMXCSR writes the four bytes of the live local.
    let (f, site) = unsafe {
        probe!(
            "",
            "stmxcsr dword ptr [{p}]",
            "",
            p = in(reg) &mut csr as *mut u32,
            options(nostack)
        )
    };
    Ran::new(f, site, csr)
}

/// `fnop`: an x87 instruction with no effect (#NM while TS is set).
pub fn x87_nop() -> Ran<()> {
    // SAFETY: FNOP changes nothing but the x87 last-instruction pointers.
    let (f, site) = unsafe { probe!("", "fnop", "", options(nomem, nostack)) };
    Ran::new(f, site, ())
}

/// `movaps xmm0, xmm0`: an SSE instruction with no effect (#NM while TS is set).
pub fn sse_nop() -> Ran<()> {
    // SAFETY: copies XMM0 onto itself; no compiled code uses XMM registers.
    let (f, site) = unsafe { probe!("", "movaps xmm0, xmm0", "", options(nomem, nostack)) };
    Ran::new(f, site, ())
}

/// The x87 control word with zero-divide unmasked (default 0x037f without ZM, bit 2).
pub const FCW_ZE_UNMASKED: u16 = 0x037f & !(1 << 2);

/// An x87 divide by zero with zero-divide unmasked, then `fwait`: #MF at the `fwait`. The
/// x87 state is reset (fninit) afterwards.
pub fn x87_divide_by_zero() -> Ran<()> {
    // SAFETY: the asm works on the x87 stack only (no compiled code uses it) and two stack
    // slots it frees again on both paths; `fnclex; fninit` leaves a clean x87 state.
    let (f, site) = unsafe {
        probe!(
            "sub rsp, 16\nmov dword ptr [rsp], 0\nmov word ptr [rsp + 8], {cw}\nfninit\nfldcw word ptr [rsp + 8]\nfld1\nfdiv dword ptr [rsp]",
            "fwait",
            "fnclex\nfninit\nadd rsp, 16",
            cw = const FCW_ZE_UNMASKED,
        )
    };
    Ran::new(f, site, ())
}
