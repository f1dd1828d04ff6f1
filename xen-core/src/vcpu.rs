//! The architectural state of a PV vCPU that the hypervisor keeps on the guest's behalf.

use hypercall_abi::segment::{FLAT_KERNEL_CS64, FLAT_KERNEL_SS64};

use crate::trap::debug_regs::{DR6_DEFAULT, DR7_DEFAULT};

/// One entry of the guest's virtual IDT (set_trap_table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapEntry {
    /// Handler address; 0 means no handler.
    pub address: u64,
    /// Code selector (RPL forced to 3).
    pub cs: u16,
    /// DPL in bits 0-1, "mask events" in bit 2.
    pub flags: u8,
}

/// A registered callback (callback_op / set_callbacks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Callback {
    /// Entry address; 0 means none.
    pub address: u64,
    /// Whether events are masked on entry.
    pub mask_events: bool,
}

/// Bytes of an FXSAVE image.
pub const FXSAVE_SIZE: usize = 512;
/// The x87 control word after FNINIT (all exceptions masked, 64-bit precision).
pub const FCW_DEFAULT: u16 = 0x037f;
/// MXCSR after reset (all SIMD exceptions masked, round to nearest).
pub const MXCSR_DEFAULT: u32 = 0x1f80;
/// Offset of the x87 control word in an FXSAVE image.
const FXSAVE_FCW: usize = 0;
/// Offset of MXCSR in an FXSAVE image.
const FXSAVE_MXCSR: usize = 24;

/// An FXSAVE/FXRSTOR memory image (x87, MMX and SSE registers), 16-byte aligned as those
/// instructions require.
#[repr(C, align(16))]
#[derive(Clone, PartialEq, Eq)]
pub struct FxsaveArea(pub [u8; FXSAVE_SIZE]);

const _: () = assert!(core::mem::size_of::<FxsaveArea>() == FXSAVE_SIZE);
const _: () = assert!(core::mem::align_of::<FxsaveArea>() == 16);

impl FxsaveArea {
    /// The state of a freshly initialised FPU (FNINIT, and MXCSR at its reset value): every
    /// vCPU starts with it, as in Xen.
    pub fn initial() -> Self {
        let mut bytes = [0u8; FXSAVE_SIZE];
        bytes[FXSAVE_FCW..FXSAVE_FCW + 2].copy_from_slice(&FCW_DEFAULT.to_le_bytes());
        bytes[FXSAVE_MXCSR..FXSAVE_MXCSR + 4].copy_from_slice(&MXCSR_DEFAULT.to_le_bytes());
        FxsaveArea(bytes)
    }

    /// The saved x87 control word.
    pub fn fcw(&self) -> u16 {
        u16::from_le_bytes([self.0[FXSAVE_FCW], self.0[FXSAVE_FCW + 1]])
    }

    /// The saved MXCSR.
    pub fn mxcsr(&self) -> u32 {
        let b = &self.0[FXSAVE_MXCSR..FXSAVE_MXCSR + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Whether FXRSTOR accepts this image on a CPU whose MXCSR_MASK is `mxcsr_mask`: a set
    /// reserved MXCSR bit makes it raise #GP. Images written by FXSAVE always pass.
    pub fn loadable(&self, mxcsr_mask: u32) -> bool {
        self.mxcsr() & !mxcsr_mask == 0
    }
}

impl Default for FxsaveArea {
    fn default() -> Self {
        FxsaveArea::initial()
    }
}

impl core::fmt::Debug for FxsaveArea {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FxsaveArea")
            .field("fcw", &self.fcw())
            .field("mxcsr", &self.mxcsr())
            .finish_non_exhaustive()
    }
}

/// A vCPU's FPU: its saved registers and its virtual CR0.TS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FpuState {
    /// The FPU/SSE registers while the vCPU is off the CPU (the context switch saves them here
    /// and loads them back); while it runs they live in the CPU, which xen-core never uses.
    pub area: FxsaveArea,
    /// The guest's CR0.TS, set and cleared with fpu_taskswitch. While it is set the CPU's TS is
    /// set too, so the guest's next FPU/SSE instruction raises #NM, which clears it and goes
    /// to the guest's trap 7.
    pub virtual_ts: bool,
}

/// What xen-core keeps per PV vCPU besides the live registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcpuState {
    /// The virtual IDT.
    pub trap_table: [TrapEntry; 256],
    /// Event upcall entry.
    pub event_callback: Callback,
    /// Where to go when returning to the guest fails.
    pub failsafe_callback: Callback,
    /// 64-bit `syscall` from guest user mode.
    pub syscall_callback: Callback,
    /// 32-bit `syscall` from compat user mode.
    pub syscall32_callback: Callback,
    /// `sysenter` from compat user mode.
    pub sysenter_callback: Callback,
    /// NMI entry.
    pub nmi_callback: Callback,
    /// Kernel stack segment for bounces from user mode (stack_switch).
    pub kernel_ss: u64,
    /// Kernel stack pointer for bounces from user mode (stack_switch).
    pub kernel_sp: u64,
    /// True while the guest runs its kernel, false in guest user mode.
    pub kernel_mode: bool,
    /// The kernel's L4 frame.
    pub kernel_l4: u64,
    /// The user L4 frame, 0 if none yet.
    pub user_l4: u64,
    /// FPU/SSE state and the virtual CR0.TS.
    pub fpu: FpuState,
    /// Virtual IOPL, I/O bitmap and the emulated-port latches.
    pub io: crate::trap::port_io::IoState,
    /// The guest's GDT and LDT.
    pub desc: crate::desc_tables::DescTables,
    /// Virtual CR2 (Xen's `ctrlreg[2]`): the address of the last page fault delivered, or what
    /// the guest wrote with `mov %reg, %cr2`.
    pub cr2: u64,
    /// The CR4 bits the guest controls (TSD, DE, FSGSBASE, OSXSAVE), as it last wrote them.
    pub cr4_guest: u64,
    /// Virtual debug registers DR0-DR7 as `mov` to and from them sees them (4 and 5 unused);
    /// no breakpoint is ever armed in the CPU.
    pub debug_regs: [u64; 8],
}

impl Default for VcpuState {
    fn default() -> Self {
        VcpuState {
            trap_table: [TrapEntry::default(); 256],
            event_callback: Callback::default(),
            failsafe_callback: Callback::default(),
            syscall_callback: Callback::default(),
            syscall32_callback: Callback::default(),
            sysenter_callback: Callback::default(),
            nmi_callback: Callback::default(),
            kernel_ss: u64::from(FLAT_KERNEL_SS64),
            kernel_sp: 0,
            kernel_mode: true,
            kernel_l4: 0,
            user_l4: 0,
            fpu: FpuState::default(),
            io: Default::default(),
            desc: Default::default(),
            cr2: 0,
            cr4_guest: 0,
            debug_regs: [0, 0, 0, 0, 0, 0, DR6_DEFAULT, DR7_DEFAULT],
        }
    }
}

impl VcpuState {
    /// The L4 frame of the mode the guest runs in now.
    pub fn current_l4(&self) -> u64 {
        if self.kernel_mode {
            self.kernel_l4
        } else {
            self.user_l4
        }
    }

    /// The code selector a new kernel-mode frame starts with.
    pub fn kernel_cs(&self) -> u64 {
        u64::from(FLAT_KERNEL_CS64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_vcpu_has_a_reset_fpu_and_ts_clear() {
        let v = VcpuState::default();
        assert!(!v.fpu.virtual_ts);
        assert_eq!(v.fpu.area.fcw(), 0x037f);
        assert_eq!(v.fpu.area.mxcsr(), 0x1f80);
        assert!(v.fpu.area.0[2..24].iter().all(|&b| b == 0));
        assert!(v.fpu.area.0[28..].iter().all(|&b| b == 0));
    }

    #[test]
    fn fxrstor_refuses_reserved_mxcsr_bits() {
        let mut area = FxsaveArea::initial();
        assert!(area.loadable(0xffff));
        area.0[24 + 2] = 1;
        assert!(!area.loadable(0xffff));
        assert!(area.loadable(0x1_ffff));
    }

    #[test]
    fn the_area_is_aligned_for_fxsave() {
        let v = VcpuState::default();
        assert_eq!(&v.fpu.area as *const FxsaveArea as usize % 16, 0);
    }
}
