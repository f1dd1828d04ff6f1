//! The architectural state of a PV vCPU that the hypervisor keeps on the guest's behalf.

use hypercall_abi::segment::{FLAT_KERNEL_CS64, FLAT_KERNEL_SS64};

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
