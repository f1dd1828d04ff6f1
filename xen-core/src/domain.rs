//! A running PV domain: its memory, its one vCPU's state, and how it ends.

use hypercall_abi::domid::DomId;
use xen_core::layout::PAGE_SIZE;
use xen_core::vcpu::VcpuState;

use core::sync::atomic::Ordering;

use crate::arch::x86_64::entry::GUEST_USER_MODE;
use crate::arch::x86_64::platform::Exit;
use crate::arch::x86_64::{cpu, direct_map, paging};

/// How a domain left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// sched_op shutdown poweroff.
    PowerOff,
    /// sched_op shutdown reboot.
    Reboot,
    /// It crashed or asked to.
    Crash,
}

/// A PV domain with one vCPU.
pub struct Domain {
    /// Domain id.
    pub id: DomId,
    /// The control domain (SIF_PRIVILEGED).
    pub privileged: bool,
    /// Its shared_info page.
    pub shared_info_mfn: u64,
    /// Frames it owns now (Xen's tot_pages).
    pub tot_pages: u64,
    /// Frames it may own at most (Xen's max_pages).
    pub max_pages: u64,
    /// Enabled VM assists (`1 << VMASST_TYPE_*`).
    pub vm_assist: u64,
    /// The vCPU.
    pub vcpu: VcpuState,
}

/// Offsets in shared_info's vcpu_info[0] (xen-pv-abi.md).
const UPCALL_MASK: u64 = 1;
const ARCH_CR2: u64 = 16;

impl Domain {
    fn vcpu_info(&self) -> u64 {
        self.shared_info_mfn * PAGE_SIZE
    }

    /// vcpu_info[0].evtchn_upcall_mask.
    pub fn upcall_mask(&self) -> u8 {
        (direct_map::read_u64(self.vcpu_info()) >> (8 * UPCALL_MASK)) as u8
    }

    /// Sets vcpu_info[0].evtchn_upcall_mask.
    pub fn set_upcall_mask(&self, mask: u8) {
        let word = direct_map::read_u64(self.vcpu_info());
        let word = (word & !(0xff << (8 * UPCALL_MASK))) | (u64::from(mask) << (8 * UPCALL_MASK));
        direct_map::write_u64(self.vcpu_info(), word);
    }

    /// Sets vcpu_info[0].arch.cr2 (the faulting address of the page fault being delivered).
    pub fn set_cr2(&self, cr2: u64) {
        direct_map::write_u64(self.vcpu_info() + ARCH_CR2, cr2);
    }
}

impl Domain {
    /// Ends the domain and says why on the console. Dom0 takes the machine with it, as in Xen;
    /// the return value tells the caller how.
    pub fn shut_down(&self, how: Shutdown, why: core::fmt::Arguments<'_>) -> Exit {
        let id = self.id;
        match how {
            Shutdown::PowerOff => {
                log::info!("Domain {id} shut down: poweroff ({why})");
                log::info!("Hardware Dom0 halted: powering off");
                Exit::PowerOff
            }
            Shutdown::Reboot => {
                log::info!("Domain {id} shut down: reboot ({why})");
                log::info!("Hardware Dom0 shutdown: rebooting machine");
                Exit::Dom0Reboot
            }
            Shutdown::Crash => {
                log::info!("Domain {id} (vcpu#0) crashed: {why}");
                log::info!("Hardware Dom0 crashed: stopping the machine");
                Exit::Dom0Crashed
            }
        }
    }

    /// Switches the vCPU to guest user mode: the user page tables and the user GS base.
    pub fn enter_user_mode(&mut self) {
        self.vcpu.kernel_mode = false;
        GUEST_USER_MODE.store(true, Ordering::Relaxed);
        paging::load_guest_l4(self.vcpu.user_l4);
        cpu::swapgs();
    }

    /// Switches the vCPU to guest kernel mode.
    pub fn enter_kernel_mode(&mut self) {
        self.vcpu.kernel_mode = true;
        GUEST_USER_MODE.store(false, Ordering::Relaxed);
        paging::load_guest_l4(self.vcpu.kernel_l4);
        cpu::swapgs();
    }
}
