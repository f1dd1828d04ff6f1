//! Xen's PV page-type machinery: reference counts, page-table and descriptor-page validation, pins.
//!
//! Every frame has general references (`FrameInfo::count`) and references to its current type
//! (`type_count`). A frame changes type only when it has no type reference; taking the first
//! reference of a page-table or descriptor type checks the whole frame, and dropping the last
//! one undoes what the check took (devalidation). The rules follow Xen 4.17 for 64-bit PV
//! guests (`arch/x86/mm.c`); facts relied on, in our words:
//! - General references: a free frame (count 0) cannot be referenced; a reference is refused
//!   when the count would overflow; a frame whose last reference goes is freed.
//! - `get_page_type` with references left: the type must match (else -EINVAL), overflow is
//!   -EINVAL. With none left the type changes and the contents are checked.
//! - L1 entry (`get_page_from_l1e`): refused bits -EINVAL; a frame outside the machine's RAM
//!   -EPERM (the all-ones frame number -EINVAL); a frame not owned by the page owner, unused, or
//!   whose count would overflow -EBUSY; a writable mapping also takes a writable type reference,
//!   -EBUSY when the frame has another type; cache attributes on a hypervisor page shared with
//!   the guest -EACCES.
//! - L2/L3/L4 entry: refused bits -EINVAL; the child must belong to the table's domain (-EINVAL)
//!   and gets a type reference of the level below; an error while validating the child is
//!   passed up as it is (e.g. -EBUSY from one of its L1 entries).
//! - Read-only linear page tables are on by default in Xen 4.17 (`pv-linear-pt`): an entry of
//!   level N whose child cannot be had as level N-1 (-EINVAL) may instead point, read-only, at
//!   the table itself (no references at all) or at another already validated table of level N
//!   of the same domain (a general and a type reference). A table holding such entries may not
//!   itself be the target of one, and the reverse (Xen's `linear_pt_count`, XSA-240).
//! - Validation writes Xen's flag adjustments back into the checked table and, for an L4, the
//!   hypervisor's slots 256..=271 (guest values there are ignored). Descriptor pages get the
//!   DPL fix-ups of `check_descriptor` written back in place.
//! - Pin: -EINVAL when the frame is not the domain's; a validation error passed up; pinning a
//!   pinned frame -EINVAL with the references just taken dropped again. Unpin: -EINVAL when the
//!   frame is not the domain's or not pinned.
//! - Removing a page (`guest_remove_page`) drops the allocation reference only (0 and nothing
//!   changed when it is already gone, -EINVAL when the frame is not the domain's or free); a
//!   pin, mappings and other references keep the frame alive until they go. Xen 4.17 keeps
//!   the pin (observed): a removed pinned table is freed when the guest unpins it.
//! - `mmu_update` on an L4 slot of the hypervisor: -EINVAL.
//!
//! Differences from Xen: a failed validation is undone at once (Xen may leave a partly
//! validated table to be torn down on the next hypercall); nothing is preemptible; frames
//! outside the frame table (MMIO) are never mapped, not even by Dom0; a frame whose last type
//! reference goes is untyped at once (Xen keeps a Writable or descriptor type at count 0 and
//! flushes lazily when the type changes), so `flush_tlb` is raised whenever a frame leaves
//! Writable or is freed; `mod_entry` only writes page tables (for any other frame Xen's
//! mmu_update does a plain write under a Writable type reference: the caller's job).
//!
//! Self-reference during validation: while a table is being checked it already carries its
//! type with one reference and `validated == false`. Any request for it as a table of another
//! level fails on the type, a request for its own level fails because it is not validated, and
//! a writable mapping of it fails on the type; only a read-only entry naming the table itself
//! at its own level passes, as a linear self-map that takes no reference. Levels strictly
//! decrease along validation, so recursion is at most four tables deep; devalidation may in
//! addition follow one linear entry per level.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;

use super::descriptor::check_descriptor;
use super::frame_table::{FrameInfo, FrameTable, Owner, PageType};
use super::page_memory::PageMemory;
use super::pte::{
    ACCESSED, CACHE_ATTRS, DIRTY, ENTRIES, INVALID_MFN, RW, XEN_L4_FIRST, XEN_L4_LAST,
    adjust_guest_entry, disallow_mask, is_present, is_xen_l4_slot, needs_revalidation, pte_mfn,
};

/// The page-type core over a frame table and the memory behind it.
pub struct Mm<'a, M: PageMemory> {
    /// Owners, counts and types of every frame.
    pub frames: &'a mut FrameTable<'static>,
    /// The frames' contents.
    pub mem: &'a mut M,
    /// Set when a frame left the Writable type or was freed (caller must flush TLBs).
    pub flush_tlb: bool,
}

impl<'a, M: PageMemory> Mm<'a, M> {
    /// The core over `frames` and `mem`, with no flush pending.
    pub fn new(frames: &'a mut FrameTable<'static>, mem: &'a mut M) -> Self {
        Mm {
            frames,
            mem,
            flush_tlb: false,
        }
    }

    /// Gives a fresh frame to `dom`: owner Domain(dom), allocated, count 1, no type.
    /// The frame must be unreferenced and either unowned or already `dom`'s; else -EINVAL.
    pub fn allocate(&mut self, dom: DomId, mfn: u64) -> Result<(), Errno> {
        let info = self.frames.get_mut(mfn).ok_or(Errno::Inval)?;
        let owner_ok = matches!(info.owner, Owner::None) || info.owner == Owner::Domain(dom);
        if !owner_ok || info.count != 0 || info.type_count != 0 {
            return Err(Errno::Inval);
        }
        *info = FrameInfo {
            owner: Owner::Domain(dom),
            count: 1,
            allocated: true,
            ..FrameInfo::default()
        };
        Ok(())
    }

    /// Shares a hypervisor frame (such as a shared_info page) with `dom`, as Xen's
    /// `share_xen_page_with_guest` does: owner SharedWith(dom), allocated, count 1, and one
    /// permanent Writable type reference so it can never become a page table or descriptor page.
    /// The frame must be unreferenced and unowned, the hypervisor's, or already shared with `dom`.
    pub fn share_with(&mut self, dom: DomId, mfn: u64) -> Result<(), Errno> {
        let info = self.frames.get_mut(mfn).ok_or(Errno::Inval)?;
        let owner_ok =
            matches!(info.owner, Owner::None | Owner::Xen) || info.owner == Owner::SharedWith(dom);
        if !owner_ok || info.count != 0 || info.type_count != 0 {
            return Err(Errno::Inval);
        }
        *info = FrameInfo {
            owner: Owner::SharedWith(dom),
            count: 1,
            allocated: true,
            page_type: PageType::Writable,
            type_count: 1,
            validated: true,
            ..FrameInfo::default()
        };
        Ok(())
    }

    /// General reference; frame must be owned by `dom` (Domain(dom) or SharedWith(dom)) and in
    /// use. -EINVAL otherwise or on overflow.
    pub fn get_page(&mut self, mfn: u64, dom: DomId) -> Result<(), Errno> {
        let info = self.frames.get_mut(mfn).ok_or(Errno::Inval)?;
        if !info.mappable_by(dom) || info.count == 0 || info.count == u32::MAX {
            return Err(Errno::Inval);
        }
        info.count += 1;
        Ok(())
    }

    /// Drops a general reference; at 0 the frame is freed (owner None, mem.free()).
    /// A frame with no reference is left alone. Type references always come with a general
    /// one ([`Self::get_page_and_type`]), so a typed frame is not freed here.
    pub fn put_page(&mut self, mfn: u64) {
        let Some(info) = self.frames.get_mut(mfn) else {
            return;
        };
        if info.count == 0 {
            return;
        }
        info.count -= 1;
        if info.count != 0 {
            return;
        }
        let owner = info.owner;
        *info = FrameInfo::default();
        self.flush_tlb = true;
        if let Owner::Domain(d) | Owner::SharedWith(d) = owner {
            self.mem.free(mfn, d);
        }
    }

    /// Type reference. count 0 -> switch type (validate page tables/SegDesc: take refs of every
    /// entry, undo all on failure); count>0 -> type must match and be validated (else -EINVAL).
    /// `dom` = owner of the tables (children must belong to it; a page table must be
    /// Domain(dom)'s, other types may also be SharedWith(dom)). Overflow -> -EINVAL, nothing
    /// changed.
    pub fn get_page_type(&mut self, mfn: u64, dom: DomId, ty: PageType) -> Result<(), Errno> {
        let info = *self.frames.get(mfn).ok_or(Errno::Inval)?;
        let owned = match ty {
            PageType::PageTable(_) => info.owner == Owner::Domain(dom),
            _ => info.mappable_by(dom),
        };
        if !owned || info.count == 0 {
            return Err(Errno::Inval);
        }
        if info.type_count > 0 {
            if info.page_type != ty || !info.validated || info.type_count == u32::MAX {
                return Err(Errno::Inval);
            }
            if let Some(i) = self.frames.get_mut(mfn) {
                i.type_count += 1;
            }
            return Ok(());
        }
        match ty {
            PageType::None => return Err(Errno::Inval),
            PageType::PageTable(level) if !(1..=4).contains(&level) => return Err(Errno::Inval),
            _ => {}
        }
        // Typeref 0 -> 1: the frame is ours to check. It carries its new type, unvalidated, so
        // that anything reaching it during the check is refused.
        self.set_type(mfn, ty, 1, false);
        let result = match ty {
            PageType::PageTable(level) => self.validate_table(mfn, dom, level),
            PageType::SegDesc => self.validate_descriptors(mfn),
            _ => Ok(()),
        };
        match result {
            Ok(()) => {
                if let Some(i) = self.frames.get_mut(mfn) {
                    i.validated = true;
                }
            }
            Err(_) => self.set_type(mfn, PageType::None, 0, false),
        }
        result
    }

    /// Drops a type reference; at 0 a page table / SegDesc is devalidated (drops refs of its
    /// entries, recursively) and the frame is untyped. A Writable frame losing its type sets
    /// `flush_tlb`. A frame with no type reference is left alone.
    pub fn put_page_type(&mut self, mfn: u64) {
        let Some(info) = self.frames.get_mut(mfn) else {
            return;
        };
        if info.type_count == 0 {
            return;
        }
        if info.type_count > 1 {
            info.type_count -= 1;
            return;
        }
        match info.page_type {
            PageType::PageTable(level) => {
                // Keep the type (with one reference, unvalidated) while the entries go, so the
                // teardown can tell linear entries apart and nothing can take the frame.
                info.validated = false;
                // Keep the frame itself alive until its entries are gone: one of them may hold
                // the last general reference to it.
                let held = self.hold(mfn);
                self.devalidate(mfn, level);
                self.set_type(mfn, PageType::None, 0, false);
                if held {
                    self.put_page(mfn);
                }
            }
            PageType::Writable => {
                self.set_type(mfn, PageType::None, 0, false);
                self.flush_tlb = true;
            }
            PageType::SegDesc | PageType::None => self.set_type(mfn, PageType::None, 0, false),
        }
    }

    /// General reference then type reference; the general one is dropped again if the type
    /// one fails.
    pub fn get_page_and_type(&mut self, mfn: u64, dom: DomId, ty: PageType) -> Result<(), Errno> {
        self.get_page(mfn, dom)?;
        if let Err(e) = self.get_page_type(mfn, dom, ty) {
            self.put_page(mfn);
            return Err(e);
        }
        Ok(())
    }

    /// Drops a type reference then a general reference.
    pub fn put_page_and_type(&mut self, mfn: u64) {
        self.put_page_type(mfn);
        self.put_page(mfn);
    }

    /// mmuext pin L1..L4: get_page_and_type + pinned. Already pinned -> -EINVAL (refs undone).
    pub fn pin(&mut self, dom: DomId, mfn: u64, level: u8) -> Result<(), Errno> {
        if !(1..=4).contains(&level) {
            return Err(Errno::Inval);
        }
        self.get_page_and_type(mfn, dom, PageType::PageTable(level))?;
        match self.frames.get_mut(mfn) {
            Some(info) if !info.pinned => {
                info.pinned = true;
                Ok(())
            }
            _ => {
                self.put_page_and_type(mfn);
                Err(Errno::Inval)
            }
        }
    }

    /// mmuext unpin: must be pinned and owned by dom -> clears pinned, put_page_and_type.
    /// Else -EINVAL.
    pub fn unpin(&mut self, dom: DomId, mfn: u64) -> Result<(), Errno> {
        let info = self.frames.get_mut(mfn).ok_or(Errno::Inval)?;
        if !info.mappable_by(dom) || info.count == 0 || !info.pinned {
            return Err(Errno::Inval);
        }
        info.pinned = false;
        self.put_page_and_type(mfn);
        Ok(())
    }

    /// Checked write of entry `index` of page table `table` (owned by `pt_dom`, typed and
    /// validated as some level L). New entry's refs are taken first (children of L2-4 must be
    /// `pt_dom`'s; L1 targets must be `pg_owner`'s), then written, then the old entry's refs
    /// dropped. L4 slots 256..=271 (hypervisor) -> -EINVAL. preserve_ad ORs the old entry's A/D
    /// bits in. Returns the value actually written (flags may be adjusted, e.g. _PAGE_USER
    /// forced on). `table` not a validated table of `pt_dom`, or `index` >= 512: -EINVAL.
    pub fn mod_entry(
        &mut self,
        pt_dom: DomId,
        pg_owner: DomId,
        table: u64,
        index: usize,
        value: u64,
        preserve_ad: bool,
    ) -> Result<u64, Errno> {
        if index >= ENTRIES {
            return Err(Errno::Inval);
        }
        let level = self.table_level(pt_dom, table).ok_or(Errno::Inval)?;
        if level == 4 && is_xen_l4_slot(index) {
            return Err(Errno::Inval);
        }
        // The table must outlive the cascade that dropping the old entry may start.
        let held = self.hold(table);
        let result = self.replace_entry(pt_dom, pg_owner, table, level, index, value, preserve_ad);
        if held {
            self.put_page(table);
        }
        result
    }

    /// Level of a validated page table `mfn` owned by dom, if it is one.
    pub fn table_level(&self, dom: DomId, mfn: u64) -> Option<u8> {
        let info = self.frames.get(mfn)?;
        match info.page_type {
            PageType::PageTable(level)
                if info.owner == Owner::Domain(dom) && info.validated && info.type_count > 0 =>
            {
                Some(level)
            }
            _ => None,
        }
    }

    /// decrease_reservation of one frame (Xen's `guest_remove_page`): the frame must be
    /// Domain(dom)'s and in use (else -EINVAL). Drops the allocation reference if it is still
    /// held; a frame whose allocation reference already went is left alone (Ok). A pin is kept:
    /// the frame lives on until it is unpinned and its last reference goes (then `mem.free` is
    /// called once).
    pub fn remove_page(&mut self, dom: DomId, mfn: u64) -> Result<(), Errno> {
        let info = self.frames.get_mut(mfn).ok_or(Errno::Inval)?;
        if info.owner != Owner::Domain(dom) || info.count == 0 {
            return Err(Errno::Inval);
        }
        if info.allocated {
            info.allocated = false;
            self.put_page(mfn);
        }
        Ok(())
    }

    /// Sets the type fields of `mfn` (a frame of the table).
    fn set_type(&mut self, mfn: u64, ty: PageType, count: u32, validated: bool) {
        if let Some(info) = self.frames.get_mut(mfn) {
            info.page_type = ty;
            info.type_count = count;
            info.validated = validated;
            if count == 0 {
                info.linear_count = 0;
            }
        }
    }

    /// A general reference without owner check on a frame in use (Xen's `get_page_light`), to
    /// keep it from being freed in the middle of an operation. False if none could be taken.
    fn hold(&mut self, mfn: u64) -> bool {
        match self.frames.get_mut(mfn) {
            Some(info) if info.count > 0 && info.count < u32::MAX => {
                info.count += 1;
                true
            }
            _ => false,
        }
    }

    /// Checks every entry of `table` as a level-`level` table of `dom`, taking the references
    /// they need and storing Xen's flag adjustments. On failure every reference taken is given
    /// back and the error of the first bad entry returned.
    fn validate_table(&mut self, table: u64, dom: DomId, level: u8) -> Result<(), Errno> {
        for i in 0..ENTRIES {
            if level == 4 && is_xen_l4_slot(i) {
                continue;
            }
            let entry = self.mem.read(table, i);
            if !is_present(entry) {
                continue;
            }
            match self.get_entry_refs(table, dom, dom, level, entry) {
                Ok(adjusted) => {
                    if adjusted != entry {
                        self.mem.write(table, i, adjusted);
                    }
                }
                Err(e) => {
                    for j in (0..i).rev() {
                        if !(level == 4 && is_xen_l4_slot(j)) {
                            let done = self.mem.read(table, j);
                            self.put_entry_refs(table, level, done);
                        }
                    }
                    return Err(e);
                }
            }
        }
        if level == 4 {
            for slot in XEN_L4_FIRST..=XEN_L4_LAST {
                let value = self
                    .mem
                    .xen_l4_slots()
                    .iter()
                    .rev()
                    .find(|(s, _)| *s == slot)
                    .map_or(0, |(_, v)| *v);
                self.mem.write(table, slot, value);
            }
        }
        Ok(())
    }

    /// Drops the references held by every entry of the level-`level` table `table`.
    fn devalidate(&mut self, table: u64, level: u8) {
        for i in (0..ENTRIES).rev() {
            if level == 4 && is_xen_l4_slot(i) {
                continue;
            }
            let entry = self.mem.read(table, i);
            self.put_entry_refs(table, level, entry);
        }
    }

    /// Checks every descriptor of `mfn`, storing the DPL fix-ups. No references are involved.
    fn validate_descriptors(&mut self, mfn: u64) -> Result<(), Errno> {
        for i in 0..ENTRIES {
            let raw = self.mem.read(mfn, i);
            let next = (i + 1 < ENTRIES).then(|| self.mem.read(mfn, i + 1));
            let fixed = check_descriptor(raw, next).ok_or(Errno::Inval)?;
            if fixed != raw {
                self.mem.write(mfn, i, fixed);
            }
        }
        Ok(())
    }

    /// Takes the references the present entry `entry` of the level-`level` table `table` needs
    /// (table of `pt_dom`, L1 targets of `pg_owner`). Returns the entry with Xen's adjustments.
    fn get_entry_refs(
        &mut self,
        table: u64,
        pt_dom: DomId,
        pg_owner: DomId,
        level: u8,
        entry: u64,
    ) -> Result<u64, Errno> {
        let cache_ok = level == 1 && self.mem.cache_attrs_allowed(pt_dom);
        if entry & disallow_mask(level, cache_ok) != 0 {
            return Err(Errno::Inval);
        }
        let mfn = pte_mfn(entry);
        if level == 1 {
            self.get_l1_refs(pg_owner, mfn, entry)?;
        } else {
            match self.get_page_and_type(mfn, pt_dom, PageType::PageTable(level - 1)) {
                Ok(()) => {}
                Err(Errno::Inval) => self.get_linear_refs(table, pt_dom, level, entry)?,
                Err(e) => return Err(e),
            }
        }
        Ok(adjust_guest_entry(level, entry))
    }

    /// The references of an L1 entry mapping `mfn` for `pg_owner`.
    fn get_l1_refs(&mut self, pg_owner: DomId, mfn: u64, entry: u64) -> Result<(), Errno> {
        let Some(info) = self.frames.get_mut(mfn) else {
            // Outside RAM: an MMIO mapping, which only a domain with I/O rights could have.
            return Err(if mfn == INVALID_MFN {
                Errno::Inval
            } else {
                Errno::Perm
            });
        };
        if !info.mappable_by(pg_owner) || info.count == 0 || info.count == u32::MAX {
            return Err(Errno::Busy);
        }
        if entry & CACHE_ATTRS != 0 && matches!(info.owner, Owner::SharedWith(_)) {
            return Err(Errno::Acces);
        }
        info.count += 1;
        if entry & RW != 0
            && self
                .get_page_type(mfn, pg_owner, PageType::Writable)
                .is_err()
        {
            self.put_page(mfn);
            return Err(Errno::Busy);
        }
        Ok(())
    }

    /// A read-only entry of a level-`level` table pointing at a table of the same level (Xen's
    /// `get_lN_linear_pagetable`). -EINVAL when it is not an acceptable one.
    fn get_linear_refs(
        &mut self,
        table: u64,
        dom: DomId,
        level: u8,
        entry: u64,
    ) -> Result<(), Errno> {
        if entry & RW != 0 {
            return Err(Errno::Inval);
        }
        let target = pte_mfn(entry);
        if target == table {
            return Ok(());
        }
        let t = *self.frames.get(table).ok_or(Errno::Inval)?;
        let g = *self.frames.get(target).ok_or(Errno::Inval)?;
        let table_ok = t.owner == Owner::Domain(dom) && (0..i16::MAX).contains(&t.linear_count);
        let target_ok = g.owner == Owner::Domain(dom)
            && g.count > 0
            && g.count < u32::MAX
            && (i16::MIN + 1..=0).contains(&g.linear_count)
            && g.page_type == PageType::PageTable(level)
            && g.validated
            && g.type_count > 0
            && g.type_count < u32::MAX;
        if !table_ok || !target_ok {
            return Err(Errno::Inval);
        }
        if let Some(g) = self.frames.get_mut(target) {
            g.count += 1;
            g.type_count += 1;
            g.linear_count -= 1;
        }
        if let Some(t) = self.frames.get_mut(table) {
            t.linear_count += 1;
        }
        Ok(())
    }

    /// Drops the references held by entry `entry` of the level-`level` table `table`.
    fn put_entry_refs(&mut self, table: u64, level: u8, entry: u64) {
        if !is_present(entry) {
            return;
        }
        let mfn = pte_mfn(entry);
        let Some(target) = self.frames.get(mfn) else {
            return;
        };
        if level == 1 {
            if entry & RW != 0 {
                self.put_page_type(mfn);
            }
            self.put_page(mfn);
            return;
        }
        if mfn == table {
            return;
        }
        if target.page_type == PageType::PageTable(level) {
            // A linear entry: it counted on both tables.
            if let Some(g) = self.frames.get_mut(mfn) {
                g.linear_count = g.linear_count.saturating_add(1).min(0);
            }
            if let Some(t) = self.frames.get_mut(table) {
                t.linear_count = t.linear_count.saturating_sub(1).max(0);
            }
        }
        self.put_page_and_type(mfn);
    }

    /// The body of [`Self::mod_entry`] once `table`, `level` and `index` are known good.
    #[allow(clippy::too_many_arguments)] // mod_entry's arguments plus the level it found
    fn replace_entry(
        &mut self,
        pt_dom: DomId,
        pg_owner: DomId,
        table: u64,
        level: u8,
        index: usize,
        value: u64,
        preserve_ad: bool,
    ) -> Result<u64, Errno> {
        let old = self.mem.read(table, index);
        let with_ad = |new: u64| {
            if preserve_ad {
                new | (old & (ACCESSED | DIRTY))
            } else {
                new
            }
        };
        let mut new = value;
        if is_present(new) {
            let cache_ok = level == 1 && self.mem.cache_attrs_allowed(pt_dom);
            if new & disallow_mask(level, cache_ok) != 0 {
                return Err(Errno::Inval);
            }
            new = adjust_guest_entry(level, new);
            if !needs_revalidation(old, new) {
                // Same frame, same rights: the references stay as they are.
                let written = with_ad(new);
                self.mem.write(table, index, written);
                return Ok(written);
            }
            new = self.get_entry_refs(table, pt_dom, pg_owner, level, new)?;
        }
        let written = with_ad(new);
        self.mem.write(table, index, written);
        self.put_entry_refs(table, level, old);
        Ok(written)
    }
}

#[cfg(test)]
mod tests;
