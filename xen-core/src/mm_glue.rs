//! The page-type core wired to real memory: frames read through the direct map, freed to the allocator.

use hypercall_abi::domid::DomId;
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::frame_alloc::FrameAllocator;
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::page_type::Mm;

use crate::arch::x86_64::{cpu, direct_map};
use crate::domain::Domain;
use xen_core::domain_table::DomainTable;

use crate::hypervisor::{State, set_m2p, with_state};

/// The M2P value of a frame no domain owns (Xen's INVALID_M2P_ENTRY).
pub const INVALID_M2P_ENTRY: u64 = u64::MAX;

/// Machine memory as the page-type core sees it.
pub struct HvMemory<'a> {
    /// Where freed frames go.
    pub alloc: &'a mut FrameAllocator<'static>,
    /// xen-core's L4 entries, copied into every guest L4 on validation.
    pub xen_l4_slots: &'a [(usize, u64)],
    /// Frames freed during this operation, by owner.
    pub freed: Freed,
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
        self.freed.add(_owner);
    }
}

/// Frames freed during one operation, counted by owner so that each domain's tot_pages follows.
/// Small and plain, since every page-table operation makes one (a larger array would be zeroed
/// with `rep stos`, a hundred guest-visible instructions per hypercall under icount).
#[derive(Default)]
pub struct Freed {
    counts: [(DomId, u64); FREED_OWNERS],
    len: usize,
}

/// Owners one operation frees frames of, at most: the caller, a foreign domain, and the
/// granters of what they mapped.
const FREED_OWNERS: usize = 4;

impl Freed {
    fn add(&mut self, owner: DomId) {
        let used = &mut self.counts[..self.len.min(FREED_OWNERS)];
        if let Some(entry) = used.iter_mut().find(|(d, _)| *d == owner) {
            entry.1 += 1;
        } else if self.len < FREED_OWNERS {
            self.counts[self.len] = (owner, 1);
            self.len += 1;
        } else {
            // Not reached (see FREED_OWNERS). The count is lost, not the frame.
            log::warn!("frames of domain {owner} freed but not counted");
        }
    }

    /// Whether any frame was freed.
    pub fn any(&self) -> bool {
        self.len != 0
    }

    /// Takes the frames freed from each owner's tot_pages (`running` or one of `others`), and
    /// removes a dying domain once it owns nothing.
    pub fn apply(&self, running: &mut Domain, others: &mut DomainTable<Domain>) {
        for &(owner, n) in &self.counts[..self.len.min(FREED_OWNERS)] {
            if owner == running.id {
                running.tot_pages = running.tot_pages.saturating_sub(n);
            } else if let Some(dom) = others.get_mut(owner) {
                dom.tot_pages = dom.tot_pages.saturating_sub(n);
                // A destroyed domain whose last frame just went is gone for good.
                if dom.dying && dom.tot_pages == 0 {
                    others.remove(owner);
                    log::info!("Domain {owner} destroyed: every frame returned");
                }
            }
        }
    }
}

/// Runs `f` with the page-type core and the running domain. Afterwards, flushes every TLB entry
/// (global ones included) if a frame gave up its writable type or was freed: a stale writable
/// translation must never outlive the bookkeeping that allowed it.
pub fn with_mm<R>(f: impl FnOnce(&mut Mm<'_, HvMemory<'_>>, &mut Domain) -> R) -> R {
    // The running domain's own operations, the page-table hot path: no lookup by id.
    with_state(|st| {
        let mut mem = HvMemory {
            alloc: st.alloc,
            xen_l4_slots: st.xen_l4_slots,
            freed: Freed::default(),
            m2p: (st.m2p_maddr, st.frames.len()),
        };
        let mut mm = Mm::new(st.frames, &mut mem);
        let result = f(&mut mm, st.dom);
        if mm.flush_tlb || mem.freed.any() {
            cpu::flush_tlb_global();
        }
        mem.freed.apply(st.dom, st.domains);
        result
    })
}

/// As [`with_mm`], with domain `id` (the running one or another) instead of the running one;
/// `None` if there is no such domain.
pub fn with_mm_on<R>(
    id: DomId,
    f: impl FnOnce(&mut Mm<'_, HvMemory<'_>>, &mut Domain) -> R,
) -> Option<R> {
    with_state(|st| mm_on(st, id, f))
}

/// The page-type core over `st`'s memory, with domain `id`.
pub fn mm_on<R>(
    st: State<'_>,
    id: DomId,
    f: impl FnOnce(&mut Mm<'_, HvMemory<'_>>, &mut Domain) -> R,
) -> Option<R> {
    let mut mem = HvMemory {
        alloc: st.alloc,
        xen_l4_slots: st.xen_l4_slots,
        freed: Freed::default(),
        m2p: (st.m2p_maddr, st.frames.len()),
    };
    let dom = if id == st.dom.id {
        &mut *st.dom
    } else {
        st.domains.get_mut(id)?
    };
    let mut mm = Mm::new(&mut *st.frames, &mut mem);
    let result = f(&mut mm, dom);
    let flush = mm.flush_tlb;
    if flush || mem.freed.any() {
        cpu::flush_tlb_global();
    }
    mem.freed.apply(st.dom, st.domains);
    Some(result)
}
