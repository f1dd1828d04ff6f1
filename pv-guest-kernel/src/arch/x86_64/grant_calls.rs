//! grant_table_op for the grant tests: the domain's own grant entries, and map, unmap and copy batches that only touch window pages and test frames.
// Policy: the kernel grants no frame of its initial mapping (where Rust objects live), so any
// frame a grant names is test memory. A host mapping goes only to a window page (by virtual
// address, or by the machine address of the window page's initial L1 entry with
// GNTMAP_contains_pte), and `window` is told what the page maps afterwards. A copy writes only
// to a granted frame (test memory, see above) or to a frame outside the initial mapping.
// Everything else passes only pointers to live structs of the caller, or pointers into the
// hypervisor's range for the error cases.

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTMAP_CONTAINS_PTE, GNTMAP_HOST_MAP, GNTMAP_READONLY, GNTST_OKAY,
    GNTTABOP_COPY, GNTTABOP_GET_VERSION, GNTTABOP_MAP_GRANT_REF, GNTTABOP_QUERY_SIZE,
    GNTTABOP_SET_VERSION, GNTTABOP_SETUP_TABLE, GNTTABOP_UNMAP_GRANT_REF, GnttabCopy,
    GnttabGetVersion, GnttabMapGrantRef, GnttabQuerySize, GnttabSetVersion, GnttabSetupTable,
    GnttabUnmapGrantRef, GrantRef,
};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::{HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START};
use hypercall_abi::mmu::PteFlags;
use spin::Mutex;

use super::access;
use super::calls::{Declined, hc};
use super::frames;
use super::window::{self, Slot, WINDOW_SLOTS, WORDS};

/// Window pages that hold a grant mapping made through [`map`] (and not removed since).
static GRANT_MAPPED: Mutex<[bool; WINDOW_SLOTS]> = Mutex::new([false; WINDOW_SLOTS]);

/// grant_table_op(`cmd`, `arg`, `count`).
///
/// # Safety
/// As for the hypercall: `arg` names live memory the command may read and write (`count`
/// elements of the command's type), and what the command does breaks nothing the kernel
/// relies on.
pub(super) unsafe fn gnttab_op(cmd: u32, arg: u64, count: u32) -> i64 {
    // SAFETY: forwarded to the caller.
    unsafe {
        hc(
            Hypercall::GrantTableOp,
            u64::from(cmd),
            arg,
            u64::from(count),
            0,
            0,
        )
    }
}

/// The window page a host mapping at `host_addr` (with map flags `flags`) lands in, if any.
fn host_slot(host_addr: u64, flags: u32) -> Option<Slot> {
    (0..WINDOW_SLOTS).filter_map(Slot::get).find(|s| {
        if flags & GNTMAP_CONTAINS_PTE != 0 {
            s.l1_entry_maddr() == Some(host_addr)
        } else {
            s.va() == host_addr
        }
    })
}

/// map_grant_ref of `ops` (written back by the hypervisor). Declined if a host mapping would
/// go anywhere but a window page.
pub fn map(ops: &mut [GnttabMapGrantRef]) -> Result<i64, Declined> {
    if ops
        .iter()
        .any(|op| op.flags & GNTMAP_HOST_MAP != 0 && host_slot(op.host_addr, op.flags).is_none())
    {
        return Err(Declined("grant mapping outside the window"));
    }
    // SAFETY: the hypervisor reads and writes the live elements; every host mapping replaces
    // the PTE of a window page (only accessed through `window`, told below) with a granted
    // frame, which is test memory (see the top of this file).
    let ret = unsafe {
        gnttab_op(
            GNTTABOP_MAP_GRANT_REF,
            ops.as_mut_ptr() as u64,
            ops.len() as u32,
        )
    };
    let mut mapped = GRANT_MAPPED.lock();
    for op in ops.iter() {
        if op.flags & GNTMAP_HOST_MAP == 0 || op.status != GNTST_OKAY {
            continue;
        }
        if let Some(slot) = host_slot(op.host_addr, op.flags) {
            let mut pte = op.dev_bus_addr | PteFlags::PRESENT.bits();
            if op.flags & GNTMAP_READONLY == 0 {
                pte |= PteFlags::RW.bits();
            }
            // Xen does not flush after a map, but the window pages are unmapped before one (a
            // TLB holds no translation that is not present).
            window::note_pte(slot, pte, true);
            if let Some(m) = mapped.get_mut(slot_index(slot)) {
                *m = true;
            }
        }
    }
    Ok(ret)
}

/// The index of a window slot.
fn slot_index(slot: Slot) -> usize {
    (0..WINDOW_SLOTS)
        .find(|&i| Slot::get(i) == Some(slot))
        .unwrap_or(WINDOW_SLOTS)
}

/// unmap_grant_ref of `ops` (statuses written back). Declined if a host address is neither 0
/// nor a window page.
pub fn unmap(ops: &mut [GnttabUnmapGrantRef]) -> Result<i64, Declined> {
    let slot_of = |op: &GnttabUnmapGrantRef| {
        host_slot(op.host_addr, 0).or_else(|| host_slot(op.host_addr, GNTMAP_CONTAINS_PTE))
    };
    if ops
        .iter()
        .any(|op| op.host_addr != 0 && slot_of(op).is_none())
    {
        return Err(Declined("grant unmapping outside the window"));
    }
    // SAFETY: the hypervisor reads the live elements and writes their statuses; a removed
    // mapping leaves a window page unmapped (told below).
    let ret = unsafe {
        gnttab_op(
            GNTTABOP_UNMAP_GRANT_REF,
            ops.as_mut_ptr() as u64,
            ops.len() as u32,
        )
    };
    let mut mapped = GRANT_MAPPED.lock();
    for op in ops.iter() {
        if op.host_addr == 0 || op.status != GNTST_OKAY {
            continue;
        }
        if let Some(slot) = slot_of(op) {
            // The hypervisor flushed the TLB before completing the unmap.
            window::note_pte(slot, 0, true);
            if let Some(m) = mapped.get_mut(slot_index(slot)) {
                *m = false;
            }
        }
    }
    Ok(ret)
}

/// Writes `value` to word `index` of the window page `slot` even if it is mapped read-only:
/// true if the write went through, false if it faulted. Declined unless the page holds a
/// grant mapping made through [`map`].
pub fn write_probe(slot: Slot, index: usize, value: u64) -> Result<bool, Declined> {
    let granted = GRANT_MAPPED
        .lock()
        .get(slot_index(slot))
        .copied()
        .unwrap_or(false);
    if !granted || index >= WORDS {
        return Err(Declined("write probe of a page without a grant mapping"));
    }
    // SAFETY: the page maps a granted frame, which is test memory (see the top of this file);
    // a fault on a read-only mapping comes back through the exception table.
    Ok(unsafe { access::write_u64(slot.va() + index as u64 * 8, value) })
}

/// copy of `ops` (statuses written back). Declined if a destination frame (not a grant) is one
/// of the kernel's.
pub fn copy(ops: &mut [GnttabCopy]) -> Result<i64, Declined> {
    if ops
        .iter()
        .any(|op| op.flags & GNTCOPY_DEST_GREF == 0 && frames::is_kernel_frame(op.dest.u))
    {
        return Err(Declined("grant copy into a kernel frame"));
    }
    // SAFETY: the hypervisor reads the live elements and writes their statuses; the bytes it
    // copies land in granted frames or frames outside the initial mapping (test memory).
    Ok(unsafe { gnttab_op(GNTTABOP_COPY, ops.as_mut_ptr() as u64, ops.len() as u32) })
}

/// setup_table for `dom` asking for `nr_frames`, with the frame numbers going to `list`
/// (which must have room for them). Returns the call's result and the element as written back.
pub fn setup_table(
    dom: DomId,
    nr_frames: u32,
    list: &mut [u64],
) -> Result<(i64, GnttabSetupTable), Declined> {
    if list.len() < nr_frames as usize {
        return Err(Declined("frame list too short"));
    }
    let mut op = GnttabSetupTable {
        dom,
        nr_frames,
        frame_list: list.as_mut_ptr() as u64,
        ..GnttabSetupTable::default()
    };
    // SAFETY: the hypervisor writes the live element and at most `nr_frames` u64s into the
    // live list, which has room for them.
    let ret = unsafe { gnttab_op(GNTTABOP_SETUP_TABLE, &mut op as *mut _ as u64, 1) };
    Ok((ret, op))
}

/// setup_table with the frame list at `frame_list`, which must lie in the hypervisor's range
/// (for the error case). `None` (no call) otherwise.
pub fn setup_table_foreign_list(nr_frames: u32, frame_list: u64) -> Option<i64> {
    if !in_hypervisor_range(frame_list) {
        return None;
    }
    let mut op = GnttabSetupTable {
        dom: DOMID_SELF,
        nr_frames,
        frame_list,
        ..GnttabSetupTable::default()
    };
    // SAFETY: the frame list is not memory of ours; the element is live.
    Some(unsafe { gnttab_op(GNTTABOP_SETUP_TABLE, &mut op as *mut _ as u64, 1) })
}

/// Whether `addr` lies in the hypervisor's reserved range.
fn in_hypervisor_range(addr: u64) -> bool {
    (HYPERVISOR_VIRT_START..HYPERVISOR_VIRT_END).contains(&addr)
}

/// query_size of `dom` with `count` (1 is the valid one). Returns the result and the element.
pub fn query_size(dom: DomId, count: u32) -> Result<(i64, GnttabQuerySize), Declined> {
    let mut op = GnttabQuerySize {
        dom,
        ..GnttabQuerySize::default()
    };
    // SAFETY: the hypervisor reads and writes the live element (at most one, whatever
    // `count` says).
    let ret = unsafe { gnttab_op(GNTTABOP_QUERY_SIZE, &mut op as *mut _ as u64, count) };
    Ok((ret, op))
}

/// set_version(`version`): the result and the version written back.
pub fn set_version(version: u32) -> Result<(i64, u32), Declined> {
    let mut op = GnttabSetVersion { version };
    // SAFETY: the hypervisor reads and writes the live element; a version change would only
    // change the layout of our grant table, which this kernel only reads through `SharedTable`.
    let ret = unsafe { gnttab_op(GNTTABOP_SET_VERSION, &mut op as *mut _ as u64, 1) };
    Ok((ret, op.version))
}

/// get_version of `dom`: the result and the version written back (`u32::MAX` if untouched).
pub fn get_version(dom: DomId) -> Result<(i64, u32), Declined> {
    let mut op = GnttabGetVersion {
        dom,
        pad: 0,
        version: u32::MAX,
    };
    // SAFETY: the hypervisor reads and writes the live element.
    let ret = unsafe { gnttab_op(GNTTABOP_GET_VERSION, &mut op as *mut _ as u64, 1) };
    Ok((ret, op.version))
}

/// grant_table_op(`cmd`, `arg`, `count`) with `arg` in the hypervisor's range or 0, for the
/// error cases (nothing of ours can be read or written). `None` (no call) otherwise.
pub fn op_foreign_arg(cmd: u32, arg: u64, count: u32) -> Option<i64> {
    if arg != 0 && !in_hypervisor_range(arg) {
        return None;
    }
    // SAFETY: the argument is not memory of ours (NULL, whose page we never map, or the
    // hypervisor's range).
    Some(unsafe { gnttab_op(cmd, arg, count) })
}

/// The domain's grant table frame 0 (references 0..512), mapped read-write at a window page.
#[derive(Clone, Copy, Debug)]
pub struct SharedTable {
    slot: Slot,
}

impl SharedTable {
    /// Maps grant frame `mfn` (from setup_table) read-write at `slot`; None if that failed.
    pub fn map(slot: Slot, mfn: u64) -> Option<SharedTable> {
        if frames::in_p2m(mfn) {
            // A frame of our memory is not a grant frame.
            return None;
        }
        (slot.map_frame(mfn, true) == 0).then_some(SharedTable { slot })
    }

    /// Entry `gref` as one word (flags 15:0, domid 31:16, frame 63:32); None if unreadable.
    pub fn entry(self, gref: GrantRef) -> Option<u64> {
        self.slot.read(gref as usize)
    }

    /// The flags of entry `gref`.
    pub fn flags(self, gref: GrantRef) -> Option<u16> {
        self.entry(gref).map(|e| e as u16)
    }

    /// Writes entry `gref`: `flags` for domain `domid` on `frame`. False if not written:
    /// `frame` is one of the kernel's (see the top of this file) or the write failed.
    pub fn grant(self, gref: GrantRef, flags: u16, domid: DomId, frame: u64) -> bool {
        if frames::is_kernel_frame(frame) || frame > u64::from(u32::MAX) {
            return false;
        }
        let word = u64::from(flags) | (u64::from(domid) << 16) | (frame << 32);
        self.slot.write(gref as usize, word)
    }

    /// Clears entry `gref` (flags, domid and frame all 0), whatever its state.
    pub fn clear(self, gref: GrantRef) -> bool {
        self.slot.write(gref as usize, 0)
    }

    /// Unmaps the table's window page.
    pub fn unmap(self) -> i64 {
        self.slot.unmap()
    }
}
