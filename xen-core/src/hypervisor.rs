//! The hypervisor's global state, behind one lock: memory bookkeeping and the domains.

use heapless::String;

use crate::arch::x86_64::cpu_local::CpuLocal;
use crate::domain::Domain;
use crate::mm_glue::HvMemory;
use alloc::boxed::Box;

use hypercall_abi::domid::DomId;
use xen_core::cmdline::Options;
use xen_core::domain_table::DomainTable;
use xen_core::mm::frame_alloc::FrameAllocator;
use xen_core::mm::frame_table::FrameTable;
use xen_core::multiboot::{MAX_CMDLINE, MAX_REGIONS, Region};
use xen_core::sched::credit::Scheduler;

/// Everything xen-core knows, owned in one place.
pub struct Hypervisor {
    /// Free machine frames.
    pub alloc: FrameAllocator<'static>,
    /// Owner and type of every machine frame.
    pub frames: FrameTable<'static>,
    /// Machine address of the M2P array (one u64 per machine frame).
    pub m2p_maddr: u64,
    /// The hypervisor's L4 entries (slots 256-271) that every guest L4 carries.
    pub xen_l4_slots: heapless::Vec<(usize, u64), 16>,
    /// The hypervisor command line.
    pub cmdline: String<MAX_CMDLINE>,
    /// The firmware memory map.
    pub regions: heapless::Vec<Region, MAX_REGIONS>,
    /// Parsed options.
    pub options: Options,
    /// Every domain but the running one, by id (the running one's id stays reserved there).
    pub domains: DomainTable<Domain>,
    /// The domain whose vCPU runs, once Dom0 is built. Kept out of the table so that a
    /// handler holds it and other domains at once, with nothing to move on each entry.
    pub current: Option<Box<Domain>>,
    /// The credit scheduler (one physical CPU).
    pub sched: Scheduler,
    /// When the running vCPU's slice ends (system time, ns).
    pub slice_end: u64,
}

/// The one instance, set once Dom0 is built. Entries from guests hold it for their whole stay
/// in xen-core.
pub static HV: CpuLocal<Option<Hypervisor>> = CpuLocal::new(None);

impl Hypervisor {
    /// The page-type core's view of memory, and the frame table it keeps.
    pub fn memory(&mut self) -> (HvMemory<'_>, &mut FrameTable<'static>) {
        (
            HvMemory {
                alloc: &mut self.alloc,
                xen_l4_slots: &self.xen_l4_slots,
                freed: Default::default(),
                m2p: (self.m2p_maddr, self.frames.len()),
            },
            &mut self.frames,
        )
    }

    /// Records machine frame `mfn` as pseudo-physical frame `pfn` in the M2P.
    pub fn set_m2p(&mut self, mfn: u64, pfn: u64) {
        set_m2p(self.m2p_maddr, self.frames.len(), mfn, pfn);
    }
}

/// Writes M2P entry `mfn` (of `nr_frames`) at `m2p_maddr`; frames past the end are ignored.
pub fn set_m2p(m2p_maddr: u64, nr_frames: usize, mfn: u64, pfn: u64) {
    if mfn < nr_frames as u64 {
        crate::arch::x86_64::direct_map::write_u64(m2p_maddr + mfn * 8, pfn);
    }
}

impl State<'_> {
    /// Records machine frame `mfn` as pseudo-physical frame `pfn` in the M2P.
    pub fn set_m2p(&mut self, mfn: u64, pfn: u64) {
        set_m2p(self.m2p_maddr, self.frames.len(), mfn, pfn);
    }
}

/// What a hypercall or trap handler may touch while it acts.
pub struct State<'a> {
    /// The calling (running) domain.
    pub dom: &'a mut Domain,
    /// Every other domain (the running one's slot is reserved, not present).
    pub domains: &'a mut DomainTable<Domain>,
    /// The frame table.
    pub frames: &'a mut FrameTable<'static>,
    /// Free machine frames.
    pub alloc: &'a mut FrameAllocator<'static>,
    /// xen-core's L4 entries that every guest L4 carries.
    pub xen_l4_slots: &'a [(usize, u64)],
    /// Machine address of the M2P array.
    pub m2p_maddr: u64,
    /// The firmware memory map.
    pub regions: &'a [Region],
    /// The hypervisor command line.
    pub cmdline: &'a str,
    /// The scheduler, told when a domain can run or not (`schedule::sync_runnable`).
    pub sched: &'a mut Scheduler,
}

impl State<'_> {
    /// Domain `id`: the running one or another.
    pub fn lookup(&mut self, id: DomId) -> Option<&mut Domain> {
        if id == self.dom.id {
            Some(self.dom)
        } else {
            self.domains.get_mut(id)
        }
    }
}

/// Runs `f` with the running domain and the state around it. Handlers call this only after
/// decoding their arguments, so requests that need no state never take it.
pub fn with_state<R>(f: impl FnOnce(State<'_>) -> R) -> R {
    HV.with(|hv| {
        // Guest entries only happen once Dom0 runs, so both are there.
        let Some(hv) = hv else {
            panic!("guest entry before the hypervisor state exists");
        };
        let Some(dom) = hv.current.as_deref_mut() else {
            panic!("guest entry with no running domain");
        };
        f(State {
            dom,
            domains: &mut hv.domains,
            frames: &mut hv.frames,
            alloc: &mut hv.alloc,
            xen_l4_slots: &hv.xen_l4_slots,
            m2p_maddr: hv.m2p_maddr,
            regions: hv.regions.as_slice(),
            cmdline: hv.cmdline.as_str(),
            sched: &mut hv.sched,
        })
    })
}
