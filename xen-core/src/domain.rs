//! A running PV domain: its memory, its one vCPU's state, and how it ends.

use hypercall_abi::domctl::{
    XEN_DOMINF_BLOCKED, XEN_DOMINF_DYING, XEN_DOMINF_PAUSED, XEN_DOMINF_RUNNING,
    XenDomctlGetdomaininfo,
};
use hypercall_abi::domid::DomId;
use xen_core::grant::domain::DomainGrants;
use xen_core::layout::PAGE_SIZE;
use xen_core::time::guest_time::GuestTime;
use xen_core::vcpu::VcpuState;

use core::sync::atomic::Ordering;

use xen_core::event::port_table::PortTable;
use xen_core::event::two_level::Delivery;
use xen_core::pirq::table::PirqTable;

use crate::arch::x86_64::entry::GUEST_USER_MODE;
use hypercall_abi::sched::ShutdownReason;
use xen_core::guest_regs::GuestRegs;

use crate::arch::x86_64::context::SegState;
use crate::arch::x86_64::event_bits::SharedInfoBits;
use crate::arch::x86_64::platform;
use crate::arch::x86_64::{cpu, direct_map, paging};
use crate::hypercall::dispatch::Exit;

bitflags::bitflags! {
    /// A domain's capabilities: privilege is held, not inferred from its id.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Caps: u32 {
        /// The control domain: domctl, sysctl, other domains' memory, the hypervisor's
        /// console and command line (Xen's `is_control_domain`).
        const CONTROL = 1 << 0;
        /// The hardware domain: I/O ports, cache flushes, the machine memory map,
        /// XENFEAT_dom0 (Xen's `is_hardware_domain`).
        const HARDWARE = 1 << 1;
    }
}

/// How a domain left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// sched_op shutdown poweroff.
    PowerOff,
    /// sched_op shutdown reboot (or suspend, soft reset: Dom0 reboots the machine for those).
    Reboot,
    /// It crashed or asked to.
    Crash,
}

impl Shutdown {
    /// The `SHUTDOWN_*` code getdomaininfo reports for it.
    pub fn code(self) -> u32 {
        match self {
            Shutdown::PowerOff => ShutdownReason::Poweroff as u32,
            Shutdown::Reboot => ShutdownReason::Reboot as u32,
            Shutdown::Crash => ShutdownReason::Crash as u32,
        }
    }
}

/// A PV domain with one vCPU.
pub struct Domain {
    /// Domain id.
    pub id: DomId,
    /// What it may do beyond its own memory (Xen's control and hardware domain roles).
    pub caps: Caps,
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
    /// The toolstack's handle for it (a UUID).
    pub handle: [u8; 16],
    /// Pauses by the control domain not yet undone (a new domain starts with one).
    pub ctl_pauses: u8,
    /// Why it shut down (`SHUTDOWN_*`), once it has.
    pub shutdown_code: Option<u32>,
    /// Being destroyed.
    pub dying: bool,
    /// Its vCPU waits for an event (SCHEDOP_block).
    pub blocked: bool,
    /// CPU time used, in nanoseconds.
    pub cpu_time: u64,
    /// Its vCPU has a context (Dom0's from the builder, a DomU's from setvcpucontext).
    pub online: bool,
    /// Whether the scheduler was last told that its vCPU can run.
    pub sched_runnable: bool,
    /// The vCPU's registers while it is off the CPU (a complete frame).
    pub regs: GuestRegs,
    /// The vCPU's data selectors and FS/GS bases while it is off the CPU.
    pub seg: SegState,
    /// The control domain was told (VIRQ_DOM_EXC) that it shut down.
    pub dom_exc_sent: bool,
    /// Its event channel ports (`event_glue::new_port_table` makes one).
    pub events: PortTable,
    /// An event made its vCPU's `evtchn_upcall_pending` go from 0 to 1 (Xen's `vcpu_kick`):
    /// it needs to run, to be woken if blocked or polling. The scheduler reads and clears it.
    pub event_kick: bool,
    /// One of its ports became pending, masked or not: a vCPU polling ports (SCHEDOP_poll)
    /// must look again. The scheduler reads and clears it.
    pub poll_wake: bool,
    /// Its vCPU's timers, runstate and published time records: `GuestTime::new(now)` for a
    /// new domain, then `time_glue::init_domain` once its shared_info page exists.
    pub time: GuestTime,
    /// Its grant table and the grants it maps (`grant_glue::new_grants` makes them).
    pub grants: DomainGrants,
    /// Its PIRQs and the GSIs they are mapped to (only the hardware domain maps any).
    pub pirqs: PirqTable,
}

/// Width of a PV guest's pseudo-physical address space as getdomaininfo reports it.
const PADDR_BITS: u8 = 52;

/// Offsets in shared_info's vcpu_info[0] (xen-pv-abi.md).
const UPCALL_MASK: u64 = 1;
const ARCH_CR2: u64 = 16;

impl Domain {
    /// A domain with nothing running yet: no frames, offline until its vCPU gets a context,
    /// unpaused (createdomain adds the control domain's first pause).
    pub fn new(
        id: DomId,
        caps: Caps,
        shared_info_mfn: u64,
        events: PortTable,
        grants: DomainGrants,
        now: u64,
    ) -> Domain {
        Domain {
            id,
            caps,
            shared_info_mfn,
            tot_pages: 0,
            max_pages: 0,
            vm_assist: 0,
            vcpu: VcpuState::default(),
            handle: [0; 16],
            ctl_pauses: 0,
            shutdown_code: None,
            dying: false,
            blocked: false,
            cpu_time: 0,
            online: false,
            sched_runnable: false,
            regs: GuestRegs::default(),
            seg: SegState::default(),
            dom_exc_sent: false,
            events,
            event_kick: false,
            poll_wake: false,
            time: GuestTime::new(now),
            grants,
            pirqs: PirqTable::new(),
        }
    }

    /// What getdomaininfo reports of it; `running` when its vCPU is the one on the CPU.
    pub fn info(&self, running: bool) -> XenDomctlGetdomaininfo {
        let mut info = XenDomctlGetdomaininfo {
            domain: self.id,
            tot_pages: self.tot_pages,
            max_pages: self.max_pages,
            shared_info_frame: self.shared_info_mfn,
            cpu_time: self.cpu_time,
            nr_online_vcpus: 1,
            max_vcpu_id: 0,
            handle: self.handle,
            gpaddr_bits: PADDR_BITS,
            ..XenDomctlGetdomaininfo::default()
        };
        if self.dying {
            info.flags |= XEN_DOMINF_DYING;
        }
        if self.ctl_pauses != 0 {
            info.flags |= XEN_DOMINF_PAUSED;
        }
        if running {
            info.flags |= XEN_DOMINF_RUNNING;
        } else if self.blocked {
            info.flags |= XEN_DOMINF_BLOCKED;
        }
        if let Some(code) = self.shutdown_code {
            info.set_shutdown(code);
        }
        info
    }

    /// Whether its vCPU can run: online, not blocked, paused, shut down or dying.
    pub fn can_run(&self) -> bool {
        self.online
            && !self.blocked
            && self.ctl_pauses == 0
            && self.shutdown_code.is_none()
            && !self.dying
    }

    /// Whether it holds the control capability.
    pub fn is_control(&self) -> bool {
        self.caps.contains(Caps::CONTROL)
    }

    /// Whether it holds the hardware capability.
    pub fn is_hardware(&self) -> bool {
        self.caps.contains(Caps::HARDWARE)
    }

    fn vcpu_info(&self) -> u64 {
        self.shared_info_mfn * PAGE_SIZE
    }

    /// vcpu_info[0].evtchn_upcall_mask.
    pub fn upcall_mask(&self) -> u8 {
        direct_map::atomic_u8(self.vcpu_info() + UPCALL_MASK).load(Ordering::SeqCst)
    }

    /// Sets vcpu_info[0].evtchn_upcall_mask (one byte store: the pending byte beside it is
    /// set concurrently by event delivery).
    pub fn set_upcall_mask(&self, mask: u8) {
        direct_map::atomic_u8(self.vcpu_info() + UPCALL_MASK).store(mask, Ordering::SeqCst);
    }

    /// Its event bits (pending and mask bitmaps, pending_sel, upcall_pending) in shared_info.
    pub fn event_bits(&self) -> SharedInfoBits {
        SharedInfoBits::new(self.shared_info_mfn)
    }

    /// Records what an event delivery to this domain asks of the scheduler.
    pub fn note_delivery(&mut self, delivery: Delivery) {
        self.event_kick |= delivery.kick.is_some();
        self.poll_wake |= delivery.newly_pending.is_some();
    }

    /// Sets vcpu_info[0].arch.cr2 (the faulting address of the page fault being delivered).
    pub fn set_cr2(&self, cr2: u64) {
        direct_map::write_u64(self.vcpu_info() + ARCH_CR2, cr2);
    }
}

impl Domain {
    /// Ends the domain and says why on the console. The hardware domain takes the machine
    /// with it, as Dom0 does in Xen; any other domain stops running and waits for the control
    /// domain (told through VIRQ_DOM_EXC when xen-core next schedules) to destroy it. The
    /// return value tells the caller how to leave.
    pub fn shut_down(&mut self, how: Shutdown, why: core::fmt::Arguments<'_>) -> Exit {
        let id = self.id;
        if !self.is_hardware() {
            match how {
                Shutdown::Crash => log::info!("Domain {id} (vcpu#0) crashed: {why}"),
                _ => log::info!("Domain {id} shut down: reason {} ({why})", how.code()),
            }
            if self.shutdown_code.is_none() {
                self.shutdown_code = Some(how.code());
            }
            return Exit::Reschedule;
        }
        Exit::Stop(match how {
            Shutdown::PowerOff => {
                log::info!("Domain {id} shut down: poweroff ({why})");
                log::info!("Hardware Dom0 halted: powering off");
                platform::Exit::PowerOff
            }
            Shutdown::Reboot => {
                log::info!("Domain {id} shut down: reboot ({why})");
                log::info!("Hardware Dom0 shutdown: rebooting machine");
                platform::Exit::Dom0Reboot
            }
            Shutdown::Crash => {
                log::info!("Domain {id} (vcpu#0) crashed: {why}");
                log::info!("Hardware Dom0 crashed: stopping the machine");
                platform::Exit::Dom0Crashed
            }
        })
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
