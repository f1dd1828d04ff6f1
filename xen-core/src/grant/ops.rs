//! Grant operations on typed requests: map, unmap, copy, setup_table, query_size, get_version, release on death.
//!
//! The rest of the hypervisor is reached through small traits: [`GrantTables`] (lock and use
//! another domain's grant table), [`FrameRefs`] (page references), [`HostMappings`] (the
//! mapper's PTE) and [`FrameCopy`] (bytes). Facts from Xen 4.17 (`common/grant_table.c`,
//! `arch/x86/pv/grant_table.c`), in our words:
//!
//! map_grant_ref, in this order: unknown granting domain `GNTST_bad_domain` (looked up by id,
//! so DOMID_SELF is unknown); no maptrack handle `GNTST_no_device_space`; reference out of
//! range `GNTST_bad_gntref`; pinned by another domain, a pin counter at 128, or a shared entry
//! that is not a grant to the mapper (wrong type or domid, sub-page, read-only for a writable
//! map, or changing under us five times) `GNTST_general_error`; on the first pin a frame the
//! granter does not own `GNTST_bad_page`, later `GNTST_general_error`; a writable map of a
//! frame that cannot be typed writable (a page table, a descriptor page) `GNTST_general_error`;
//! then the host mapping, whose failure status is passed back. A mapping holds one general
//! reference on the frame, plus one writable type reference when writable, and one host pin.
//! A failure undoes everything in reverse order. The handle's entry is written last.
//!
//! unmap_grant_ref: a handle out of range or not mapped `GNTST_bad_handle`; `dev_bus_addr` is
//! only checked against the frame for a device mapping (Xen 4.17.7, observed: a host-only
//! mapping is unmapped whatever it says), so never here; `host_addr` 0 does nothing (success,
//! mapping kept); the host mapping is removed (its failure status passed
//! back, mapping kept) and the handle freed; the references and the pin are dropped only
//! after the mapper's TLB was flushed ([`PendingUnmap`], [`finish_unmap`]).
//!
//! copy, one element: each side is a grant reference of a domain (DOMID_SELF allowed) or a
//! frame of the caller. In order: a frame side naming a domain other than DOMID_SELF
//! `GNTST_permission_denied`, an unknown domain `GNTST_bad_domain` (source first, then
//! destination); then the source is claimed read-only and the destination writable: a grant
//! is pinned as for a map (but sub-page grants are accepted) and its frame referenced
//! (`GNTST_bad_page` when the pin (re)checked the entry, else `GNTST_bad_domain`), a frame of
//! the caller must be the caller's (`GNTST_bad_page`), and the destination must take a
//! writable type reference (`GNTST_general_error`); only then offset + length beyond the page
//! on either side is `GNTST_bad_copy_arg`. Everything claimed is released again, on success
//! and on error.
//!
//! setup_table: more frames than the limit, or a growth that fails, `GNTST_general_error`;
//! otherwise the first `nr_frames` frames are reported (fewer than the table has is fine, the
//! table never shrinks). query_size reports the current and maximum frame counts.
//!
//! Differences from Xen: no device mappings (refused when decoding); no transitive or v2
//! grants; a copy batch claims and releases per element (Xen keeps the last source and
//! destination claimed across elements: same results, fewer pin updates); a copy that
//! re-checks an already pinned entry references the recorded frame rather than re-reading it
//! from the entry; the granting domain's lookup is done through [`GrantTables::with_table`],
//! and a mapping whose granting domain has gone is reported as `GNTST_bad_domain` on unmap
//! (Xen crashes the mapper instead).

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_FIRST_RESERVED, DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTST_BAD_COPY_ARG, GNTST_BAD_DOMAIN, GNTST_BAD_HANDLE, GNTST_BAD_PAGE, GNTST_GENERAL_ERROR,
    GNTST_NO_DEVICE_SPACE, GNTST_PERMISSION_DENIED, GrantHandle, GrantRef,
};

use super::entry::GrantEntries;
use super::maptrack::{Mapping, Maptrack};
use super::request::{CopyRequest, CopySide, MapFlags, MapRequest, UnmapRequest};
use super::table::{GrantTable, SharedFrameAlloc};

/// Bytes in a page (copy bounds, bus addresses).
pub const PAGE_SIZE: usize = 4096;

/// The grant tables of all domains, each behind its own lock.
pub trait GrantTables {
    /// How the shared entries of a table are read and written.
    type Entries: GrantEntries;

    /// Runs `f` on the grant table of domain `dom` and its shared entries, holding that
    /// table's lock for the call; None when there is no such domain (or it has no table any
    /// more). `dom` is always an ordinary domain id: the operations resolve DOMID_SELF where
    /// Xen does and refuse the other reserved ids themselves.
    fn with_table<R>(
        &mut self,
        dom: DomId,
        f: impl FnOnce(&mut GrantTable, &mut Self::Entries) -> R,
    ) -> Option<R>;
}

/// Page references on machine frames, as the page-type core keeps them (`Mm::get_page`,
/// `Mm::get_page_type(.., PageType::Writable)`, `Mm::put_page_type`, `Mm::put_page`).
pub trait FrameRefs {
    /// Takes a general reference on `mfn` if it is in use and belongs to `owner` (including a
    /// hypervisor page shared with `owner`); false and nothing taken otherwise.
    fn get_page(&mut self, mfn: u64, owner: DomId) -> bool;
    /// Takes a writable type reference on `mfn` (a general one is already held); false when
    /// the frame has another type (page table, descriptor page).
    fn get_writable(&mut self, mfn: u64, owner: DomId) -> bool;
    /// Drops a writable type reference taken by [`Self::get_writable`].
    fn put_writable(&mut self, mfn: u64);
    /// Drops a general reference taken by [`Self::get_page`] (the frame is freed if it was the
    /// last).
    fn put_page(&mut self, mfn: u64);
}

/// The mapper's host mappings, written in its page tables (Xen's `create_grant_pv_mapping` and
/// `replace_grant_pv_mapping`). Errors are `GNTST_*` statuses below 0.
pub trait HostMappings {
    /// Maps `mfn` at `host_addr` of the calling domain: a virtual address whose L1 entry is
    /// found through its current page tables, or with `flags.contains_pte` the machine
    /// address of an L1 entry (8-byte aligned, in an L1 page table of the caller). The entry
    /// is present, accessed, dirty, NX, writable unless `flags.readonly`, user with
    /// `flags.application_map`, marked as a grant mapping, and takes no page reference of its
    /// own (the grant holds them); the old entry's references are dropped. Xen returns
    /// `GNTST_general_error` for every failure.
    fn create_host_mapping(&mut self, host_addr: u64, mfn: u64, flags: MapFlags)
    -> Result<(), i16>;
    /// Clears the entry made by [`Self::create_host_mapping`] after checking that it still maps
    /// `mfn` with matching present and writable bits (`GNTST_general_error` otherwise, nothing
    /// changed). Takes no page references and drops none.
    fn destroy_host_mapping(
        &mut self,
        host_addr: u64,
        mfn: u64,
        flags: MapFlags,
    ) -> Result<(), i16>;
}

/// Copies bytes between frames the operation holds references on.
pub trait FrameCopy {
    /// Copies `len` bytes from `src_mfn` at `src_offset` to `dest_mfn` at `dest_offset`; both
    /// ranges lie within their page. The frames may be the same (ranges may then overlap).
    fn copy_bytes(
        &mut self,
        dest_mfn: u64,
        dest_offset: usize,
        src_mfn: u64,
        src_offset: usize,
        len: usize,
    );
}

/// A successful map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapped {
    /// The handle for unmapping (`gnttab_map_grant_ref.handle`).
    pub handle: GrantHandle,
    /// The granted machine frame.
    pub frame: u64,
}

impl Mapped {
    /// The frame's machine address, which Xen writes to `dev_bus_addr` on every successful map.
    pub const fn dev_bus_addr(&self) -> u64 {
        self.frame << 12
    }
}

/// map_grant_ref of one element by `mapper` (the calling domain), whose maptrack is
/// `maptrack` (see the module documentation for the checks and their order).
pub fn map_grant_ref<E>(
    env: &mut E,
    maptrack: &mut Maptrack,
    mapper: DomId,
    req: &MapRequest,
) -> Result<Mapped, i16>
where
    E: GrantTables + FrameRefs + HostMappings,
{
    if !table_exists(env, req.dom) {
        return Err(GNTST_BAD_DOMAIN);
    }
    let handle = maptrack.reserve().ok_or(GNTST_NO_DEVICE_SPACE)?;
    match map_and_reference(env, mapper, req) {
        Ok(frame) => {
            let mapping = Mapping {
                granter: req.dom,
                gref: req.gref,
                flags: req.flags,
            };
            maptrack.fill(handle, mapping);
            Ok(Mapped { handle, frame })
        }
        Err(status) => {
            maptrack.release(handle);
            Err(status)
        }
    }
}

/// Pin, references and host mapping of a map; on error all of them are undone.
fn map_and_reference<E>(env: &mut E, mapper: DomId, req: &MapRequest) -> Result<u64, i16>
where
    E: GrantTables + FrameRefs + HostMappings,
{
    let (granter, gref, readonly) = (req.dom, req.gref, req.flags.readonly);
    let pinned = env
        .with_table(granter, |t, e| t.pin(e, gref, mapper, readonly, true))
        .ok_or(GNTST_BAD_DOMAIN)??;
    let frame = pinned.frame;
    let unpin = |env: &mut E| {
        env.with_table(granter, |t, e| t.unpin(e, gref, readonly));
    };
    if !env.get_page(frame, granter) {
        unpin(env);
        return Err(if pinned.first {
            GNTST_BAD_PAGE
        } else {
            GNTST_GENERAL_ERROR
        });
    }
    if !readonly && !env.get_writable(frame, granter) {
        env.put_page(frame);
        unpin(env);
        return Err(GNTST_GENERAL_ERROR);
    }
    if let Err(status) = env.create_host_mapping(req.host_addr, frame, req.flags) {
        if !readonly {
            env.put_writable(frame);
        }
        env.put_page(frame);
        unpin(env);
        return Err(status);
    }
    Ok(frame)
}

/// The second half of an unmap: references and pin still held by a mapping whose PTE is gone.
/// Flush the mapper's TLB, then hand it to [`finish_unmap`].
#[must_use = "flush the mapper's TLB, then pass it to finish_unmap"]
#[derive(Debug, PartialEq, Eq)]
pub struct PendingUnmap {
    granter: DomId,
    gref: GrantRef,
    frame: u64,
    readonly: bool,
}

impl PendingUnmap {
    /// The frame that was mapped.
    pub const fn frame(&self) -> u64 {
        self.frame
    }

    /// The domain whose grant it was.
    pub const fn granter(&self) -> DomId {
        self.granter
    }
}

/// unmap_grant_ref of one element by `mapper` (see the module documentation). Ok(None) when
/// nothing was to be removed (`host_addr` 0).
pub fn unmap_grant_ref<E>(
    env: &mut E,
    maptrack: &mut Maptrack,
    mapper: DomId,
    req: &UnmapRequest,
) -> Result<Option<PendingUnmap>, i16>
where
    E: GrantTables + HostMappings,
{
    let mapping = maptrack.get(req.handle).ok_or(GNTST_BAD_HANDLE)?;
    let readonly = mapping.flags.readonly;
    let active = env
        .with_table(mapping.granter, |t, _| t.active(mapping.gref).copied())
        .ok_or(GNTST_BAD_DOMAIN)?
        .ok_or(GNTST_BAD_HANDLE)?;
    let held = if readonly {
        active.host_ro()
    } else {
        active.host_rw()
    };
    let frame = match (active.user(), active.frame()) {
        (Some(user), Some(frame)) if user == mapper && held > 0 => frame,
        _ => return Err(GNTST_BAD_HANDLE),
    };
    if req.host_addr == 0 {
        return Ok(None);
    }
    env.destroy_host_mapping(req.host_addr, frame, mapping.flags)?;
    maptrack.release(req.handle);
    Ok(Some(PendingUnmap {
        granter: mapping.granter,
        gref: mapping.gref,
        frame,
        readonly,
    }))
}

/// Drops what an unmapped mapping held: its type and general references on the frame, then its
/// pin (clearing `GTF_writing` / `GTF_reading` when no pin needs them any more).
pub fn finish_unmap<E: GrantTables + FrameRefs>(env: &mut E, pending: PendingUnmap) {
    if !pending.readonly {
        env.put_writable(pending.frame);
    }
    env.put_page(pending.frame);
    env.with_table(pending.granter, |t, e| {
        t.unpin(e, pending.gref, pending.readonly)
    });
}

/// Releases every mapping of a dying domain (Xen's `gnttab_release_mappings`): each pin is
/// dropped and each handle freed; the page references are dropped too when `drop_refs` (Xen
/// PV leaves them to the teardown of the dying domain's page tables, which drops the
/// references of each grant PTE; pass true when that teardown skips grant PTEs). A mapping
/// whose granting domain is gone is just forgotten.
pub fn release_mappings<E: GrantTables + FrameRefs>(
    env: &mut E,
    maptrack: &mut Maptrack,
    drop_refs: bool,
) {
    let mut handle: GrantHandle = 0;
    while handle < maptrack.limit() {
        if let Some(m) = maptrack.get(handle) {
            let readonly = m.flags.readonly;
            let frame = env
                .with_table(m.granter, |t, e| {
                    let frame = t.active(m.gref).and_then(|a| a.frame());
                    t.unpin(e, m.gref, readonly).then_some(frame).flatten()
                })
                .flatten();
            if let (true, Some(frame)) = (drop_refs, frame) {
                if !readonly {
                    env.put_writable(frame);
                }
                env.put_page(frame);
            }
            maptrack.release(handle);
        }
        handle += 1;
    }
}

/// A copy side claimed: references (and maybe a pin) held until [`release`].
#[derive(Clone, Copy, Debug)]
struct Claimed {
    dom: DomId,
    frame: u64,
    gref: Option<GrantRef>,
    readonly: bool,
    typed: bool,
}

/// One copy element by `current` (see the module documentation).
pub fn copy<E>(env: &mut E, current: DomId, req: &CopyRequest) -> Result<(), i16>
where
    E: GrantTables + FrameRefs + FrameCopy,
{
    let src_dom = copy_domain(env, current, &req.source)?;
    let dest_dom = copy_domain(env, current, &req.dest)?;
    let src = claim(env, current, &req.source, src_dom, true)?;
    let dest = match claim(env, current, &req.dest, dest_dom, false) {
        Ok(dest) => dest,
        Err(status) => {
            release(env, src);
            return Err(status);
        }
    };
    let len = usize::from(req.len);
    let src_offset = usize::from(req.source.offset());
    let dest_offset = usize::from(req.dest.offset());
    let result = if src_offset + len > PAGE_SIZE || dest_offset + len > PAGE_SIZE {
        Err(GNTST_BAD_COPY_ARG)
    } else {
        env.copy_bytes(dest.frame, dest_offset, src.frame, src_offset, len);
        Ok(())
    };
    release(env, src);
    release(env, dest);
    result
}

/// The domain a copy side belongs to (Xen's `gnttab_copy_lock_domain`).
fn copy_domain<E: GrantTables>(env: &mut E, current: DomId, side: &CopySide) -> Result<DomId, i16> {
    match *side {
        CopySide::Frame { dom, .. } if dom == DOMID_SELF => Ok(current),
        CopySide::Frame { .. } => Err(GNTST_PERMISSION_DENIED),
        CopySide::Gref { dom, .. } => {
            let dom = if dom == DOMID_SELF { current } else { dom };
            if table_exists(env, dom) {
                Ok(dom)
            } else {
                Err(GNTST_BAD_DOMAIN)
            }
        }
    }
}

/// Pins and references one side of a copy (Xen's `gnttab_copy_claim_buf`).
fn claim<E: GrantTables + FrameRefs>(
    env: &mut E,
    current: DomId,
    side: &CopySide,
    dom: DomId,
    readonly: bool,
) -> Result<Claimed, i16> {
    let mut claimed = match *side {
        CopySide::Gref { gref, .. } => {
            let pinned = env
                .with_table(dom, |t, e| t.pin(e, gref, current, readonly, false))
                .ok_or(GNTST_BAD_DOMAIN)??;
            if !env.get_page(pinned.frame, dom) {
                env.with_table(dom, |t, e| t.unpin(e, gref, readonly));
                return Err(if pinned.checked {
                    GNTST_BAD_PAGE
                } else {
                    GNTST_BAD_DOMAIN
                });
            }
            Claimed {
                dom,
                frame: pinned.frame,
                gref: Some(gref),
                readonly,
                typed: false,
            }
        }
        CopySide::Frame { frame, .. } => {
            if !env.get_page(frame, dom) {
                return Err(GNTST_BAD_PAGE);
            }
            Claimed {
                dom,
                frame,
                gref: None,
                readonly,
                typed: false,
            }
        }
    };
    if !readonly {
        if !env.get_writable(claimed.frame, dom) {
            release(env, claimed);
            return Err(GNTST_GENERAL_ERROR);
        }
        claimed.typed = true;
    }
    Ok(claimed)
}

/// Undoes [`claim`]: pin, then type reference, then general reference.
fn release<E: GrantTables + FrameRefs>(env: &mut E, claimed: Claimed) {
    if let Some(gref) = claimed.gref {
        env.with_table(claimed.dom, |t, e| t.unpin(e, gref, claimed.readonly));
    }
    if claimed.typed {
        env.put_writable(claimed.frame);
    }
    env.put_page(claimed.frame);
}

/// Is `dom` an ordinary domain with a grant table?
fn table_exists<E: GrantTables>(env: &mut E, dom: DomId) -> bool {
    dom < DOMID_FIRST_RESERVED && env.with_table(dom, |_, _| ()).is_some()
}

/// setup_table on `table` (the caller resolved the domain: DOMID_SELF, or another one for the
/// control domain, else `GNTST_bad_domain` / `GNTST_permission_denied`). Returns the frame
/// numbers to write to `frame_list` (a write fault there makes the status
/// `GNTST_bad_virt_addr`, as in Xen).
pub fn setup_table<'t>(
    table: &'t mut GrantTable,
    alloc: &mut impl SharedFrameAlloc,
    nr_frames: u32,
) -> Result<&'t [u64], i16> {
    if nr_frames > table.max_frames() {
        return Err(GNTST_GENERAL_ERROR);
    }
    table
        .grow(nr_frames, alloc)
        .map_err(|_| GNTST_GENERAL_ERROR)?;
    table
        .frames()
        .get(..nr_frames as usize)
        .ok_or(GNTST_GENERAL_ERROR)
}

/// query_size: (current frames, maximum frames).
pub fn query_size(table: &GrantTable) -> (u32, u32) {
    (table.nr_frames(), table.max_frames())
}

/// get_version of `dom` (DOMID_SELF already resolved by the caller, who also checks that the
/// caller may ask about `dom`): -ESRCH for an unknown domain, else 1.
pub fn get_version<E: GrantTables>(env: &mut E, dom: DomId) -> Result<u32, Errno> {
    if dom >= DOMID_FIRST_RESERVED {
        return Err(Errno::Srch);
    }
    env.with_table(dom, |t, _| t.version()).ok_or(Errno::Srch)
}

#[cfg(test)]
mod tests;
