//! A DomU's own grant table (v1) for its frontends: frames set up and mapped in the page pool, references handed out, entries granting a frame to a backend and ended only once the backend no longer uses them.
// Entries 0..GNTTAB_NR_RESERVED_ENTRIES are the toolstack's (console, xenstore) and never
// handed out; every frontend (block and network) takes its references from the one free list
// here, so no two share an entry. Granting writes the frame and domain first and the flags last, as one aligned
// store each, so the hypervisor never sees a permitted entry with a stale frame. Ending an
// entry is a compare-exchange of the flags to 0 that fails while GTF_reading or GTF_writing is
// set (the backend holds a mapping or a copy is running), as Linux's end-access does.

use alloc::vec::Vec;
use core::sync::atomic::{Ordering, compiler_fence};

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTTAB_NR_RESERVED_ENTRIES, GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_WRITING, GrantRef,
};
use spin::Mutex;

use dom0_tools::console_ring::RingMemory;

use super::grant_calls;
use super::page_pool::{PAGE, PoolError, SharedPage};

/// Grant-table frames we ask for: 2048 entries, room for a few frontends' pools.
pub const FRAMES: u32 = 4;
/// Bytes of a v1 entry.
const ENTRY: usize = 8;
/// Entries in a frame.
const PER_FRAME: usize = PAGE / ENTRY;

/// Why the grant table is not available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// setup_table failed: its result (or the status it wrote).
    Setup(i64),
    /// Mapping a frame failed.
    Map(PoolError),
    /// Every reference is in use.
    NoRef,
}

struct Table {
    frames: Vec<SharedPage>,
    free: Vec<GrantRef>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

/// Sets the table up and maps it, once.
fn table(state: &mut Option<Table>) -> Result<&mut Table, GrantError> {
    if state.is_none() {
        let mut list = [0u64; FRAMES as usize];
        let (ret, op) = grant_calls::setup_table(DOMID_SELF, FRAMES, &mut list)
            .map_err(|_| GrantError::Setup(-1))?;
        if ret != 0 || op.status != 0 {
            return Err(GrantError::Setup(if ret != 0 {
                ret
            } else {
                i64::from(op.status)
            }));
        }
        let mut frames = Vec::new();
        for mfn in list {
            frames.push(SharedPage::map_xen_frame(mfn).map_err(GrantError::Map)?);
        }
        let total = FRAMES as usize * PER_FRAME;
        let free = (GNTTAB_NR_RESERVED_ENTRIES..total as GrantRef)
            .rev()
            .collect();
        *state = Some(Table { frames, free });
    }
    state.as_mut().ok_or(GrantError::Setup(-1))
}

/// The frame page and byte offset of entry `gref`.
fn locate(t: &mut Table, gref: GrantRef) -> Option<(&mut SharedPage, usize)> {
    let i = gref as usize;
    let page = t.frames.get_mut(i / PER_FRAME)?;
    Some((page, (i % PER_FRAME) * ENTRY))
}

/// Grants `domid` access to frame `mfn` (read-only if `readonly`) under a new reference.
pub fn grant(domid: DomId, mfn: u64, readonly: bool) -> Result<GrantRef, GrantError> {
    let mut state = TABLE.lock();
    let t = table(&mut state)?;
    let gref = t.free.pop().ok_or(GrantError::NoRef)?;
    let frame = u32::try_from(mfn).map_err(|_| GrantError::NoRef)?;
    let Some((page, off)) = locate(t, gref) else {
        return Err(GrantError::NoRef);
    };
    let mut flags = GTF_PERMIT_ACCESS;
    if readonly {
        flags |= GTF_READONLY;
    }
    page.write_u32(off + 4, frame);
    compiler_fence(Ordering::SeqCst);
    page.write_u32(off, u32::from(flags) | (u32::from(domid) << 16));
    Ok(gref)
}

/// Ends access through `gref`: true (and the reference is free again) unless the backend
/// still reads or writes through it, in which case the entry stays and the frame must not
/// be reused.
pub fn end_access(gref: GrantRef) -> bool {
    let mut state = TABLE.lock();
    let Some(t) = state.as_mut() else {
        return false;
    };
    let Some((page, off)) = locate(t, gref) else {
        return false;
    };
    let mut flags = page.read_u32(off) as u16;
    loop {
        if flags & (GTF_READING | GTF_WRITING) != 0 {
            return false;
        }
        let found = page.compare_exchange_u16(off, flags, 0);
        if found == flags {
            break;
        }
        flags = found;
    }
    t.free.push(gref);
    true
}
