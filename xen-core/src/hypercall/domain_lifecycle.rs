//! domctl createdomain and destroydomain: a PV domain's birth, and its end returning every frame.
//!
//! As in Xen 4.17: a new domain has no memory (max_mem sets its allowance), one vCPU without a
//! context (setvcpucontext gives it one), a shared_info page, and one pause by the controller
//! (unpausedomain starts it). Destroying a domain drops everything it holds: its vCPU's
//! page-table roots and descriptor pages, its pins, and the allocation reference of every frame
//! it owns. Frames that another domain still maps (a builder's foreign mappings, grants) stay
//! until that mapping goes; the domain lingers as dying until then, and its id stays taken.

use alloc::boxed::Box;

use hypercall_abi::Errno;
use hypercall_abi::domctl::{
    XEN_DOMCTL_CDF_HAP, XEN_DOMCTL_CDF_HVM, XEN_DOMCTL_CDF_IOMMU, XEN_DOMCTL_CDF_MAX,
    XEN_DOMCTL_CDF_NESTED_VIRT, XEN_DOMCTL_GRANT_VERSION_MASK, XEN_X86_EMU_PIT,
    XenDomctlCreatedomain,
};
use hypercall_abi::domid::{DOMID_FIRST_RESERVED, DomId};
use hypercall_abi::event_channel::VIRQ_DOM_EXC;
use hypercall_abi::shared_info::XEN_LEGACY_MAX_VCPUS;
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::frame_table::Owner;
use xen_core::mm::page_type::Mm;
use xen_core::sched::params::DEFAULT_WEIGHT;

use crate::arch::x86_64::direct_map;
use crate::descriptors;
use crate::domain::{Caps, Domain};
use crate::hypervisor::State;
use crate::mm_glue::{Freed, HvMemory};
use crate::schedule;
use crate::{event_glue, grant_glue};
use xen_core::grant::table::GrantLimits;

/// vCPUs a domain may have.
pub const MAX_VCPUS: u32 = 1;
/// Domains that may exist at once besides the running one (each takes about 10 KiB of
/// xen-core's heap, which a guest must not exhaust).
const MAX_DOMAINS: usize = 64;

/// A checked createdomain request.
pub struct CreateRequest {
    /// The id asked for, or `None` for the next free one.
    id: Option<DomId>,
    handle: [u8; 16],
    max_evtchn_port: u32,
    grant_limits: GrantLimits,
}

/// Checks a createdomain configuration as Xen does for a PV domain on a machine without HVM or
/// an IOMMU: -EINVAL for unknown flags, HVM/HAP/nested/IOMMU, a vCPU count other than 1..=1, a
/// grant version outside 1..=2, or emulation other than the PIT.
pub fn decode_create(domain: DomId, c: &XenDomctlCreatedomain) -> Result<CreateRequest, Errno> {
    let unsupported =
        XEN_DOMCTL_CDF_HVM | XEN_DOMCTL_CDF_HAP | XEN_DOMCTL_CDF_IOMMU | XEN_DOMCTL_CDF_NESTED_VIRT;
    if c.flags & !((XEN_DOMCTL_CDF_MAX << 1) - 1) != 0 || c.flags & unsupported != 0 {
        return Err(Errno::Inval);
    }
    if c.max_vcpus == 0 || c.max_vcpus > MAX_VCPUS {
        return Err(Errno::Inval);
    }
    let version = c.grant_opts & XEN_DOMCTL_GRANT_VERSION_MASK;
    if !(1..=2).contains(&version) || c.grant_opts & !XEN_DOMCTL_GRANT_VERSION_MASK != 0 {
        return Err(Errno::Inval);
    }
    if c.arch.emulation_flags & !XEN_X86_EMU_PIT != 0 {
        return Err(Errno::Inval);
    }
    // A negative limit asks for the hypervisor's default.
    let or_default = |asked: i32, default: u32| u32::try_from(asked).unwrap_or(default);
    let grant_limits = GrantLimits::new(
        or_default(c.max_grant_frames, GrantLimits::DEFAULT.max_grant_frames()),
        or_default(
            c.max_maptrack_frames,
            GrantLimits::DEFAULT.max_maptrack_frames(),
        ),
    )?;
    Ok(CreateRequest {
        id: (domain != 0 && domain < DOMID_FIRST_RESERVED).then_some(domain),
        handle: c.handle,
        max_evtchn_port: c.max_evtchn_port,
        grant_limits,
    })
}

/// Creates the domain; returns its id.
pub fn create(st: &mut State<'_>, req: &CreateRequest) -> Result<DomId, Errno> {
    let heap_before = crate::arch::x86_64::heap::used_bytes();
    let id = match req.id {
        Some(id) if st.domains.contains(id) || id == st.dom.id => return Err(Errno::Exist),
        Some(id) => id,
        None => st.domains.alloc_id()?,
    };
    if st.domains.len() >= MAX_DOMAINS {
        return Err(Errno::NoMem);
    }
    let events = event_glue::new_port_table(id, Caps::empty(), req.max_evtchn_port)?;
    let grants = grant_glue::new_grants_for(st, id, req.grant_limits)?;
    let Some(shared_info) = st.alloc.alloc() else {
        release_shared_frames(st, id);
        return Err(Errno::NoMem);
    };
    let shared_info = shared_info as u64;
    direct_map::zero_frame(shared_info);
    let mut mem = HvMemory {
        alloc: &mut *st.alloc,
        xen_l4_slots: st.xen_l4_slots,
        freed: Freed::default(),
        m2p: (st.m2p_maddr, st.frames.len()),
    };
    if Mm::new(&mut *st.frames, &mut mem)
        .share_with(id, shared_info)
        .is_err()
    {
        mem.alloc.free(shared_info as usize);
        release_shared_frames(st, id);
        return Err(Errno::NoMem);
    }
    // Every vCPU starts with events masked.
    for v in 0..XEN_LEGACY_MAX_VCPUS as u64 {
        direct_map::write_bytes(shared_info * PAGE_SIZE + v * 64 + 1, &[1]);
    }
    let mut dom = Domain::new(
        id,
        Caps::empty(),
        shared_info,
        events,
        grants,
        crate::arch::x86_64::tsc::now_ns(),
    );
    dom.handle = req.handle;
    dom.ctl_pauses = 1;
    // Its wall clock and vcpu_time_info from the start.
    crate::time_glue::init_domain(&mut dom);
    // The heap holds MAX_DOMAINS domains with room to spare.
    let dom = Ok(Box::new(dom));
    let scheduled = dom.and_then(|dom| {
        st.sched.add_domain(id, DEFAULT_WEIGHT, 0)?;
        if let Err(e) = st.sched.add_vcpu(id, 0) {
            let _ = st.sched.remove_domain(id, 0);
            return Err(e);
        }
        Ok(dom)
    });
    let inserted = scheduled.and_then(|dom| {
        st.domains.insert(id, dom).inspect_err(|_| {
            let _ = st.sched.remove_domain(id, 0);
        })
    });
    if let Err(e) = inserted {
        release_shared_frames(st, id);
        return Err(e);
    }
    log::info!(
        "Domain {id} created (xen-core heap: {} bytes for it)",
        crate::arch::x86_64::heap::used_bytes().saturating_sub(heap_before)
    );
    Ok(id)
}

/// Gives back the xen-core frames shared with a domain that could not be created (its
/// shared_info and grant-table frames).
fn release_shared_frames(st: &mut State<'_>, id: DomId) {
    let mut mem = HvMemory {
        alloc: &mut *st.alloc,
        xen_l4_slots: st.xen_l4_slots,
        freed: Freed::default(),
        m2p: (st.m2p_maddr, st.frames.len()),
    };
    let mut mm = Mm::new(&mut *st.frames, &mut mem);
    for mfn in 0..mm.frames.len() as u64 {
        if mm.frames.get(mfn).map(|f| f.owner) == Some(Owner::SharedWith(id)) {
            mm.put_page_type(mfn);
            mm.put_page(mfn);
        }
    }
}

/// Destroys domain `id` (not the caller): -ESRCH if absent, -EINVAL for the caller itself.
/// In Xen's order: its ports close (peers' ends become unbound), the grants it maps are let go,
/// its memory references drop (page tables, pins, allocations), then its grant table goes once
/// nobody maps its grants any more. Returns how many of its frames are still referenced from
/// elsewhere; the domain stays, dying, until that is 0 (calling again retries).
pub fn destroy(st: &mut State<'_>, id: DomId) -> Result<u64, Errno> {
    if id == st.dom.id {
        return Err(Errno::Inval);
    }
    let first = !st.domains.get(id).ok_or(Errno::Srch)?.dying;
    if first {
        let now = crate::arch::x86_64::tsc::now_ns();
        let mut dom = st.domains.take(id).ok_or(Errno::Srch)?;
        dom.cpu_time = st.sched.domain_runtime_ns(id, now).unwrap_or(dom.cpu_time);
        let _ = st.sched.remove_domain(id, now);
        dom.dying = true;
        dom.sched_runnable = false;
        dom.events.set_dying();
        let _ = event_glue::close_all_ports(&mut dom, Some(&mut *st.dom), st.domains);
        // Its slot was reserved by `take`: putting it back cannot fail.
        let _ = st.domains.put_back(id, dom);
        grant_glue::release_mappings_of(st, id);
        let mut mem = HvMemory {
            alloc: &mut *st.alloc,
            xen_l4_slots: st.xen_l4_slots,
            freed: Freed::default(),
            m2p: (st.m2p_maddr, st.frames.len()),
        };
        if let Some(dom) = st.domains.get_mut(id) {
            let mut mm = Mm::new(&mut *st.frames, &mut mem);
            relinquish(&mut mm, dom);
            if mm.flush_tlb || mem.freed.any() {
                crate::arch::x86_64::cpu::flush_tlb_global();
            }
        }
        // What it held of other dying domains (their grants it mapped, their frames its
        // page tables referenced) is gone now: they may be finished.
        reap_others(st, id);
    }
    let table_gone = grant_glue::release_table_of(st, id).is_ok();
    let left = owned_frames(st, id);
    if let Some(dom) = st.domains.get_mut(id) {
        dom.tot_pages = left;
    }
    if left == 0 && table_gone {
        st.domains.remove(id);
        log::info!("Domain {id} destroyed: every frame returned");
        return Ok(0);
    }
    log::info!("Domain {id} dying: {left} frames still mapped elsewhere");
    Ok(left)
}

/// Finishes dying domain `id` if nothing outside holds its frames or grants any more, as Xen
/// frees a destroyed domain when its last page goes (and then tells the hardware domain,
/// VIRQ_DOM_EXC): call it once another domain let go of something of `id`'s (a grant
/// unmapped). Nothing for a live or absent domain.
pub fn reap(st: &mut State<'_>, id: DomId) {
    if !st.domains.get(id).is_some_and(|d| d.dying) {
        return;
    }
    if destroy(st, id) == Ok(0) {
        event_glue::send_global_virq(st, VIRQ_DOM_EXC);
    }
}

/// [`reap`] for every dying domain but `except`.
fn reap_others(st: &mut State<'_>, except: DomId) {
    let dying: heapless::Vec<DomId, MAX_DOMAINS> = st
        .domains
        .iter()
        .filter(|(id, d)| d.dying && *id != except)
        .map(|(id, _)| id)
        .take(MAX_DOMAINS)
        .collect();
    for id in dying {
        reap(st, id);
    }
}

/// Drops every reference the domain holds on memory: its vCPU's roots and descriptor pages,
/// its pins, its shared_info page and the allocation reference of each frame it owns. The
/// domain is not running, so the per-vCPU area (the running vCPU's) is left alone.
fn relinquish<M: xen_core::mm::page_memory::PageMemory>(mm: &mut Mm<'_, M>, dom: &mut Domain) {
    let id = dom.id;
    descriptors::release_refs(mm, dom);
    for root in [dom.vcpu.kernel_l4, dom.vcpu.user_l4] {
        if root != 0 {
            mm.put_page_and_type(root);
        }
    }
    dom.vcpu.kernel_l4 = 0;
    dom.vcpu.user_l4 = 0;
    let nr = mm.frames.len() as u64;
    for mfn in 0..nr {
        if let Some(info) = mm.frames.get(mfn)
            && info.owner == Owner::Domain(id)
            && info.pinned
        {
            let _ = mm.unpin(id, mfn);
        }
    }
    for mfn in 0..nr {
        if mm
            .frames
            .get(mfn)
            .is_some_and(|info| info.owner == Owner::Domain(id) && info.count != 0)
        {
            let _ = mm.remove_page(id, mfn);
        }
    }
    let shared = dom.shared_info_mfn;
    if mm.frames.get(shared).map(|f| f.owner) == Some(Owner::SharedWith(id)) {
        mm.put_page_type(shared);
        mm.put_page(shared);
    }
}

/// Frames still owned by (or shared with) domain `id`.
fn owned_frames(st: &State<'_>, id: DomId) -> u64 {
    let nr = st.frames.len() as u64;
    (0..nr)
        .filter(|&mfn| {
            st.frames.get(mfn).is_some_and(|f| {
                f.count != 0
                    && matches!(f.owner, Owner::Domain(d) | Owner::SharedWith(d) if d == id)
            })
        })
        .count() as u64
}

/// Puts `dom`'s scheduler state in line with its flags.
pub fn sync(st: &mut State<'_>, id: DomId) {
    if let Some(dom) = st.domains.get_mut(id) {
        schedule::sync_runnable(st.sched, dom);
    }
}
