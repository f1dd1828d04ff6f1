//! The page-type core wired to real memory: frames read through the direct map, freed to the allocator.

use hypercall_abi::domid::DomId;
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::frame_alloc::FrameAllocator;
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::page_type::Mm;

use crate::arch::x86_64::{cpu, direct_map};
use crate::domain::Domain;
use crate::hypervisor::{set_m2p, with_state};

/// The M2P value of a frame no domain owns (Xen's INVALID_M2P_ENTRY).
pub const INVALID_M2P_ENTRY: u64 = u64::MAX;

/// Machine memory as the page-type core sees it.
pub struct HvMemory<'a> {
    /// Where freed frames go.
    pub alloc: &'a mut FrameAllocator<'static>,
    /// xen-core's L4 entries, copied into every guest L4 on validation.
    pub xen_l4_slots: &'a [(usize, u64)],
    /// Frames freed during this operation, by owner (one domain today).
    pub freed: u64,
    /// Machine address of the M2P, and how many frames it covers.
    pub m2p: (u64, usize),
}

impl PageMemory for HvMemory<'_> {
    fn read(&self, mfn: u64, index: usize) -> u64 {
        direct_map::read_u64(mfn * PAGE_SIZE + (index as u64 % 512) * 8)
    }

    fn write(&mut self, mfn: u64, index: usize, value: u64) {
        direct_map::write_u64(mfn * PAGE_SIZE + (index as u64 % 512) * 8, value);
    }

    fn xen_l4_slots(&self) -> &[(usize, u64)] {
        self.xen_l4_slots
    }

    fn cache_attrs_allowed(&self, dom: DomId) -> bool {
        // Dom0 owns the devices (it has every I/O capability), as in Xen.
        dom == 0
    }

    fn free(&mut self, mfn: u64, _owner: DomId) {
        // A freed frame keeps nothing of its last owner.
        direct_map::zero_frame(mfn);
        // As Xen's allocator does, a free frame has no pseudo-physical frame.
        set_m2p(self.m2p.0, self.m2p.1, mfn, INVALID_M2P_ENTRY);
        self.alloc.free(mfn as usize);
        self.freed += 1;
    }
}

/// Runs `f` with the page-type core and the running domain. Afterwards, flushes every TLB entry
/// (global ones included) if a frame gave up its writable type or was freed: a stale writable
/// translation must never outlive the bookkeeping that allowed it.
pub fn with_mm<R>(f: impl FnOnce(&mut Mm<'_, HvMemory<'_>>, &mut Domain) -> R) -> R {
    with_state(|st| {
        let mut mem = HvMemory {
            alloc: st.alloc,
            xen_l4_slots: st.xen_l4_slots,
            freed: 0,
            m2p: (st.m2p_maddr, st.frames.len()),
        };
        let mut mm = Mm::new(st.frames, &mut mem);
        let result = f(&mut mm, st.dom);
        let flush = mm.flush_tlb;
        if flush || mem.freed != 0 {
            cpu::flush_tlb_global();
        }
        st.dom.tot_pages = st.dom.tot_pages.saturating_sub(mem.freed);
        result
    })
}
