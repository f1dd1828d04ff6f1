//! The grant layer wired to real memory: shared entries through the direct map, references through the page-type core, host PTEs in the mapper's page tables.
//!
//! As in Xen 4.17 for PV guests (`arch/x86/pv/grant_table.c`), in our words:
//! - A host mapping is an L1 entry written straight into the mapper's page table: present,
//!   accessed, dirty, no-execute, writable unless read-only, user with
//!   `GNTMAP_application_map`, the guest's three `GNTMAP_guest_avail` bits in the PTE's
//!   available bits 9..=11, then the usual 64-bit PV adjustment (user plus the guest-kernel
//!   bit, or global). It takes no page reference of its own: the grant's references stand for
//!   it, exactly as an ordinary entry mapping that frame would hold them, so the page-type core
//!   treats it like any other entry afterwards (a guest overwriting it, or the teardown of its
//!   table, drops those references; Xen's release build does the same, `_PAGE_GNTTAB` being 0).
//!   The old entry's references are dropped. The L1 is found through the mapper's current page
//!   tables, or with `GNTMAP_contains_pte` named by machine address (8-byte aligned, a validated
//!   L1 of the mapper). Every failure is `GNTST_general_error`.
//! - Removing it checks that the entry still maps the frame with the same present and writable
//!   bits, then clears it; no reference moves (the unmap drops the grant's once the TLB is
//!   flushed).
//! - A frame freed because a grant let go of its last reference leaves its owner's `tot_pages`
//!   at that moment (Xen counts a page until it is freed, not when the owner gives it back).
//! - The shared frames of a table are hypervisor frames shared writable with the domain
//!   (`Mm::share_with`): never counted in its `tot_pages`, freed when the domain is destroyed
//!   and nothing maps them any more.

use alloc::vec::Vec;

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::{GNTST_BAD_DOMAIN, GNTST_GENERAL_ERROR};
use hypercall_abi::layout::guest_range_ok;
use spin::Once;
use xen_core::domain_table::DomainTable;
use xen_core::grant::domain::DomainGrants;
use xen_core::grant::entry::{EntrySlot, GrantEntries};
use xen_core::grant::maptrack::Maptrack;
use xen_core::grant::ops::{
    self as grant_ops, FrameCopy, FrameRefs, GrantTables, HostMappings, release_mappings,
};
use xen_core::grant::request::MapFlags;
use xen_core::grant::table::{GrantLimits, GrantTable, SharedFrameAlloc};
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::frame_table::{FrameInfo, Owner, PageType};
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::page_type::Mm;
use xen_core::mm::pte::{ACCESSED, DIRTY, PRESENT, RW, USER, adjust_guest_entry, pte_mfn};

use crate::arch::x86_64::{cpu, direct_map};
use crate::domain::Domain;
use crate::hypercall::update_va_mapping::find_l1e;
use crate::hypervisor::State;
use crate::mm_glue::{Freed, HvMemory};

/// No-execute, when the CPU has it (xen-core then runs with EFER.NXE, as Xen does).
fn nx_bit() -> u64 {
    static NX: Once<u64> = Once::new();
    *NX.call_once(|| {
        let has_nx = cpu::cpuid(0x8000_0001, 0)[3] & (1 << 20) != 0;
        if has_nx { 1 << 63 } else { 0 }
    })
}

/// Grant entries in their shared frames, read and changed atomically through the direct map.
pub struct SharedEntries;

/// Machine address of a grant entry.
fn entry_maddr(slot: EntrySlot) -> u64 {
    slot.mfn * PAGE_SIZE + (slot.offset as u64 % PAGE_SIZE)
}

impl GrantEntries for SharedEntries {
    fn read_header(&self, slot: EntrySlot) -> u32 {
        direct_map::load_u32(entry_maddr(slot))
    }

    fn read_frame(&self, slot: EntrySlot) -> u32 {
        direct_map::load_u32(entry_maddr(slot) + 4)
    }

    fn cmpxchg_header(&mut self, slot: EntrySlot, old: u32, new: u32) -> Result<(), u32> {
        direct_map::cmpxchg_u32(entry_maddr(slot), old, new)
    }

    fn clear_flags(&mut self, slot: EntrySlot, bits: u16) {
        direct_map::clear_bits_u32(entry_maddr(slot), u32::from(bits));
    }
}

/// Frames for a table of `dom`: fresh, zeroed, shared writable with it.
struct ShareWith<'a, 'b, 'm> {
    mm: &'a mut Mm<'b, HvMemory<'m>>,
    dom: DomId,
}

impl SharedFrameAlloc for ShareWith<'_, '_, '_> {
    fn alloc_shared_frame(&mut self) -> Option<u64> {
        let mfn = self.mm.mem.alloc.alloc()? as u64;
        direct_map::zero_frame(mfn);
        if self.mm.share_with(self.dom, mfn).is_err() {
            // A frame fresh from the allocator is always shareable; give it back rather than
            // trust it.
            self.mm.mem.alloc.free(mfn as usize);
            return None;
        }
        Some(mfn)
    }

    fn free_shared_frame(&mut self, mfn: u64) {
        // Only frames of a growth that failed come back here: the guest never learnt of them,
        // so the share's own references are the only ones.
        if self.mm.frames.assign(mfn, Owner::None).is_ok() {
            direct_map::zero_frame(mfn);
            self.mm.mem.alloc.free(mfn as usize);
        }
    }
}

/// A new domain's grants with Xen's default limits (64 grant frames, 1024 maptrack frames):
/// one zeroed frame shared writable with `dom`, an empty maptrack. -ENOMEM when memory is
/// short. Call it from the domain builder (Dom0) and from createdomain.
pub fn new_grants(mm: &mut Mm<'_, HvMemory<'_>>, dom: DomId) -> Result<DomainGrants, Errno> {
    new_grants_with(mm, dom, GrantLimits::DEFAULT)
}

/// As [`new_grants`] with the limits createdomain asked for (`max_grant_frames`,
/// `max_maptrack_frames`; `GrantLimits::new` checks them as Xen does).
pub fn new_grants_with(
    mm: &mut Mm<'_, HvMemory<'_>>,
    dom: DomId,
    limits: GrantLimits,
) -> Result<DomainGrants, Errno> {
    DomainGrants::new(limits, &mut ShareWith { mm, dom })
}

/// As [`new_grants_with`] from a handler's state (createdomain).
pub fn new_grants_for(
    st: &mut State<'_>,
    dom: DomId,
    limits: GrantLimits,
) -> Result<DomainGrants, Errno> {
    let mut mem = HvMemory {
        alloc: &mut *st.alloc,
        xen_l4_slots: st.xen_l4_slots,
        freed: Freed::default(),
        m2p: (st.m2p_maddr, st.frames.len()),
    };
    new_grants_with(&mut Mm::new(&mut *st.frames, &mut mem), dom, limits)
}

/// Everything the grant operations reach while the running domain acts: the grant tables of
/// every domain, the page-type core and the running domain's page tables.
pub struct GrantEnv<'e, 'm> {
    current: DomId,
    l4: u64,
    own: &'e mut GrantTable,
    own_pages: &'e mut u64,
    domains: &'e mut DomainTable<Domain>,
    mm: Mm<'e, HvMemory<'m>>,
    nx: u64,
}

impl GrantEnv<'_, '_> {
    /// The running domain (the mapper, the copier).
    pub fn current(&self) -> DomId {
        self.current
    }

    /// Counts a frame of `owner` that was just freed.
    fn account_freed(&mut self, owner: DomId) {
        let pages = if owner == self.current {
            Some(&mut *self.own_pages)
        } else {
            self.domains.get_mut(owner).map(|d| &mut d.tot_pages)
        };
        if let Some(pages) = pages {
            *pages = pages.saturating_sub(1);
        }
    }

    /// Drops a general reference on `mfn` and counts the frame against its owner if that was
    /// the last one.
    fn drop_ref(&mut self, mfn: u64) {
        let before = self.mm.frames.get(mfn).copied();
        self.mm.put_page(mfn);
        if let Some(FrameInfo {
            owner: Owner::Domain(owner),
            count: 1,
            ..
        }) = before
        {
            self.account_freed(owner);
        }
    }

    /// Drops the references an L1 entry held (as the page-type core's teardown of an entry).
    fn drop_entry_refs(&mut self, entry: u64) {
        if entry & PRESENT == 0 {
            return;
        }
        let mfn = pte_mfn(entry);
        if self.mm.frames.get(mfn).is_none() {
            return;
        }
        if entry & RW != 0 {
            self.mm.put_page_type(mfn);
        }
        self.drop_ref(mfn);
    }

    /// The L1 table and index a host mapping at `host_addr` goes to (see the module
    /// documentation).
    fn locate(&self, host_addr: u64, contains_pte: bool) -> Option<(u64, usize)> {
        if contains_pte {
            if !host_addr.is_multiple_of(8) {
                return None;
            }
            let l1 = host_addr / PAGE_SIZE;
            let index = ((host_addr % PAGE_SIZE) / 8) as usize;
            (self.mm.table_level(self.current, l1) == Some(1)).then_some((l1, index))
        } else {
            if !guest_range_ok(host_addr, 1) {
                return None;
            }
            find_l1e(&self.mm, self.current, self.l4, host_addr).ok()
        }
    }

    /// setup_table for `dom` (already resolved and allowed): grows its table to `nr_frames`
    /// and copies the first `nr_frames` frame numbers to `out`; returns how many.
    pub fn setup_table(
        &mut self,
        dom: DomId,
        nr_frames: u32,
        out: &mut [u64],
    ) -> Result<usize, i16> {
        let table = if dom == self.current {
            &mut *self.own
        } else {
            match self.domains.get_mut(dom) {
                Some(d) => &mut d.grants.table,
                None => return Err(GNTST_BAD_DOMAIN),
            }
        };
        let mut alloc = ShareWith {
            mm: &mut self.mm,
            dom,
        };
        let frames = grant_ops::setup_table(table, &mut alloc, nr_frames)?;
        let out = out.get_mut(..frames.len()).ok_or(GNTST_GENERAL_ERROR)?;
        out.copy_from_slice(frames);
        Ok(frames.len())
    }
}

impl GrantTables for GrantEnv<'_, '_> {
    type Entries = SharedEntries;

    fn with_table<R>(
        &mut self,
        dom: DomId,
        f: impl FnOnce(&mut GrantTable, &mut SharedEntries) -> R,
    ) -> Option<R> {
        let table = if dom == self.current {
            &mut *self.own
        } else {
            &mut self.domains.get_mut(dom)?.grants.table
        };
        Some(f(table, &mut SharedEntries))
    }
}

impl FrameRefs for GrantEnv<'_, '_> {
    fn get_page(&mut self, mfn: u64, owner: DomId) -> bool {
        self.mm.get_page(mfn, owner).is_ok()
    }

    fn get_writable(&mut self, mfn: u64, owner: DomId) -> bool {
        self.mm
            .get_page_type(mfn, owner, PageType::Writable)
            .is_ok()
    }

    fn put_writable(&mut self, mfn: u64) {
        self.mm.put_page_type(mfn);
    }

    fn put_page(&mut self, mfn: u64) {
        self.drop_ref(mfn);
    }
}

impl HostMappings for GrantEnv<'_, '_> {
    fn create_host_mapping(
        &mut self,
        host_addr: u64,
        mfn: u64,
        flags: MapFlags,
    ) -> Result<(), i16> {
        let (l1, index) = self
            .locate(host_addr, flags.contains_pte)
            .ok_or(GNTST_GENERAL_ERROR)?;
        let mut pte = (mfn * PAGE_SIZE) | PRESENT | ACCESSED | DIRTY | self.nx;
        if !flags.readonly {
            pte |= RW;
        }
        if flags.application_map {
            pte |= USER;
        }
        pte |= u64::from(flags.guest_avail & 7) << 9;
        let old = self.mm.mem.read(l1, index);
        self.mm.mem.write(l1, index, adjust_guest_entry(1, pte));
        self.drop_entry_refs(old);
        Ok(())
    }

    fn destroy_host_mapping(
        &mut self,
        host_addr: u64,
        mfn: u64,
        flags: MapFlags,
    ) -> Result<(), i16> {
        let (l1, index) = self
            .locate(host_addr, flags.contains_pte)
            .ok_or(GNTST_GENERAL_ERROR)?;
        let old = self.mm.mem.read(l1, index);
        let want = if flags.readonly {
            PRESENT
        } else {
            PRESENT | RW
        };
        if pte_mfn(old) != mfn || old & (PRESENT | RW) != want {
            return Err(GNTST_GENERAL_ERROR);
        }
        self.mm.mem.write(l1, index, 0);
        Ok(())
    }
}

impl FrameCopy for GrantEnv<'_, '_> {
    fn copy_bytes(
        &mut self,
        dest_mfn: u64,
        dest_offset: usize,
        src_mfn: u64,
        src_offset: usize,
        len: usize,
    ) {
        direct_map::copy_bytes(
            dest_mfn * PAGE_SIZE + dest_offset as u64,
            src_mfn * PAGE_SIZE + src_offset as u64,
            len,
        );
    }
}

/// Runs `f` with the grant environment of the running domain and its maptrack. Afterwards,
/// flushes every TLB entry if a frame gave up its writable type or was freed (as `with_mm`).
pub fn with_grants<R>(
    st: &mut State<'_>,
    f: impl FnOnce(&mut GrantEnv<'_, '_>, &mut Maptrack) -> R,
) -> R {
    let mut mem = HvMemory {
        alloc: &mut *st.alloc,
        xen_l4_slots: st.xen_l4_slots,
        freed: Freed::default(),
        m2p: (st.m2p_maddr, st.frames.len()),
    };
    let current = st.dom.id;
    let l4 = st.dom.vcpu.current_l4();
    let Domain {
        tot_pages, grants, ..
    } = &mut *st.dom;
    let DomainGrants { table, maptrack } = grants;
    let mut env = GrantEnv {
        current,
        l4,
        own: table,
        own_pages: tot_pages,
        domains: &mut *st.domains,
        mm: Mm::new(&mut *st.frames, &mut mem),
        nx: nx_bit(),
    };
    let result = f(&mut env, maptrack);
    let flush = env.mm.flush_tlb;
    if flush || mem.freed.any() {
        cpu::flush_tlb_global();
    }
    result
}

/// For destroydomain, first step (Xen's `gnttab_release_mappings`): drops the pin of every
/// mapping that domain `id` (the running one or another, still in the table) holds of any
/// grant, its own included, and leaves it an empty maptrack that can hold none. The page
/// references of those mappings stay with their grant PTEs, as in Xen PV: tear the domain's
/// page tables down through the page-type core (unpin, drop the roots' type references) and
/// they go with the L1 entries. They are not dropped here because a guest may already have
/// overwritten a grant PTE, which dropped them then (dropping again would free a frame still
/// in use).
pub fn release_mappings_of(st: &mut State<'_>, id: DomId) {
    let empty = Maptrack::new(0);
    let mut held = if id == st.dom.id {
        core::mem::replace(&mut st.dom.grants.maptrack, empty)
    } else if let Some(d) = st.domains.get_mut(id) {
        core::mem::replace(&mut d.grants.maptrack, empty)
    } else {
        return;
    };
    with_grants(st, |env, _| release_mappings(env, &mut held, false));
}

/// For destroydomain, last step: frees the shared frames of domain `id`'s grant table (each is
/// freed once nothing maps it any more). `Err(pins)` while other domains still map or copy
/// its grants: keep the domain (dying) and call again once they have let go. Ok also when
/// there is no such domain. Until this succeeded the domain must stay in the domain table
/// (dying): the mappers' unmaps reach its table there.
pub fn release_table_of(st: &mut State<'_>, id: DomId) -> Result<(), usize> {
    let table = if id == st.dom.id {
        &mut st.dom.grants.table
    } else {
        match st.domains.get_mut(id) {
            Some(d) => &mut d.grants.table,
            None => return Ok(()),
        }
    };
    let frames: Vec<u64> = match table.release_frames() {
        Some(frames) => frames,
        None => return Err(table.pinned().count()),
    };
    with_grants(st, |env, _| {
        for mfn in frames {
            env.mm.put_page_type(mfn);
            env.drop_ref(mfn);
        }
    });
    Ok(())
}
