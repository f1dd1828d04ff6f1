//! memory_op for the memory tests: reservation changes, queries and memory maps.
// Policy: decrease_reservation never names a frame of the initial mapping (where the kernel
// lives); the other operations only write into buffers passed here, or allocate.

use hypercall_abi::domid::DomId;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::{HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START};
use hypercall_abi::memory::{
    E820Entry, MEMOP_CMD_MASK, XENMEM_CURRENT_RESERVATION, XENMEM_DECREASE_RESERVATION,
    XENMEM_INCREASE_RESERVATION, XENMEM_MACHINE_MEMORY_MAP, XENMEM_MAXIMUM_RAM_PAGE,
    XENMEM_MAXIMUM_RESERVATION, XENMEM_MEMORY_MAP, XENMEM_POPULATE_PHYSMAP, XenMemoryMap,
    XenMemoryReservation,
};

use super::boot;
use super::calls::{Declined, hc};
use super::frames;

/// Highest extent order a decrease may name (the policy check walks the kernel's frames).
const MAX_DECREASE_ORDER: u32 = 20;

/// Operations from this one up are defined by no Xen version (4.17 stops below 32).
const FIRST_UNDEFINED_OP: u64 = 32;

/// memory_op `cmd` with a NULL argument: XENMEM_maximum_ram_page, or a command the ABI does
/// not define. `None` (no call) for anything else.
pub fn memory_op_null(cmd: u64) -> Option<i64> {
    let op = cmd & MEMOP_CMD_MASK;
    if cmd != u64::from(XENMEM_MAXIMUM_RAM_PAGE) && op < FIRST_UNDEFINED_OP {
        return None;
    }
    // SAFETY: maximum_ram_page reads no argument; an undefined command has no effect.
    Some(unsafe { hc(Hypercall::MemoryOp, cmd, 0, 0, 0, 0) })
}

/// memory_op `cmd` with an argument pointer inside the hypervisor's range (which the
/// hypervisor must refuse to use). `None` (no call) for a pointer outside it.
pub fn memory_op_hypervisor_arg(cmd: u64, arg: u64) -> Option<i64> {
    if !(HYPERVISOR_VIRT_START..HYPERVISOR_VIRT_END).contains(&arg) {
        return None;
    }
    // SAFETY: the argument is not memory of ours, so whatever the command, nothing of ours
    // is read or written through it.
    Some(unsafe { hc(Hypercall::MemoryOp, cmd, arg, 0, 0, 0) })
}

/// current_reservation or maximum_reservation of `domid`. `None` (no call) for other commands.
pub fn reservation_query(cmd: u32, domid: DomId) -> Option<i64> {
    if cmd != XENMEM_CURRENT_RESERVATION && cmd != XENMEM_MAXIMUM_RESERVATION {
        return None;
    }
    // SAFETY: the hypervisor reads the live domid.
    Some(unsafe {
        hc(
            Hypercall::MemoryOp,
            u64::from(cmd),
            &domid as *const DomId as u64,
            0,
            0,
            0,
        )
    })
}

/// Whether the frames `mfn .. mfn + 2^order` include one of the kernel's.
fn range_has_kernel_frame(mfn: u64, order: u32) -> bool {
    let n = frames::initial_pages() as usize;
    let end = mfn.saturating_add(1u64 << order);
    boot::p2m().iter().take(n).any(|&m| (mfn..end).contains(&m))
}

/// increase_reservation, decrease_reservation or populate_physmap with the extent list
/// `extents` (read and written by the hypervisor).
pub fn reservation(
    cmd: u32,
    extents: &mut [u64],
    order: u32,
    mem_flags: u32,
    domid: DomId,
) -> Result<i64, Declined> {
    match cmd {
        XENMEM_INCREASE_RESERVATION | XENMEM_POPULATE_PHYSMAP => {}
        XENMEM_DECREASE_RESERVATION => {
            if order > MAX_DECREASE_ORDER
                || extents.iter().any(|&m| range_has_kernel_frame(m, order))
            {
                return Err(Declined("decrease_reservation of a kernel frame"));
            }
        }
        _ => return Err(Declined("not a reservation command")),
    }
    let arg = XenMemoryReservation {
        extent_start: extents.as_mut_ptr() as u64,
        nr_extents: extents.len() as u64,
        extent_order: order,
        mem_flags,
        domid,
        pad: [0; 6],
    };
    // SAFETY: the hypervisor reads the live `arg` and reads and writes the live extent
    // list; a decrease names no frame of the kernel (checked above), and an increase or
    // populate only adds frames.
    Ok(unsafe {
        hc(
            Hypercall::MemoryOp,
            u64::from(cmd),
            &arg as *const XenMemoryReservation as u64,
            0,
            0,
            0,
        )
    })
}

/// A reservation command whose extent list is at `extent_start`, which must be NULL or in
/// the hypervisor's range (for error cases). `None` (no call) otherwise.
pub fn reservation_foreign_list(
    cmd: u32,
    extent_start: u64,
    nr_extents: u64,
    order: u32,
    domid: DomId,
) -> Option<i64> {
    let foreign =
        extent_start == 0 || (HYPERVISOR_VIRT_START..HYPERVISOR_VIRT_END).contains(&extent_start);
    let reservation_cmd = matches!(
        cmd,
        XENMEM_INCREASE_RESERVATION | XENMEM_DECREASE_RESERVATION | XENMEM_POPULATE_PHYSMAP
    );
    if !foreign || !reservation_cmd {
        return None;
    }
    let arg = XenMemoryReservation {
        extent_start,
        nr_extents,
        extent_order: order,
        mem_flags: 0,
        domid,
        pad: [0; 6],
    };
    // SAFETY: the extent list is not memory of ours (NULL, whose page we never map, or the
    // hypervisor's range), so no frame of ours can be named or written through it.
    Some(unsafe {
        hc(
            Hypercall::MemoryOp,
            u64::from(cmd),
            &arg as *const XenMemoryReservation as u64,
            0,
            0,
            0,
        )
    })
}

/// Number of E820 entries [`memory_map`] has room for.
pub const MAP_CAPACITY: usize = 32;

/// A memory map as memory_map or machine_memory_map returned it.
#[derive(Clone, Copy, Debug)]
pub struct MemoryMap {
    /// The hypercall's result.
    pub ret: i64,
    /// `nr_entries` as written back.
    pub nr_entries: u32,
    /// The entries (the first `nr_entries`, at most [`MAP_CAPACITY`], are meaningful).
    pub entries: [E820Entry; MAP_CAPACITY],
}

/// XENMEM_memory_map or XENMEM_machine_memory_map into a buffer of [`MAP_CAPACITY`] entries.
/// `None` (no call) for another command.
pub fn memory_map(cmd: u32) -> Option<MemoryMap> {
    if cmd != XENMEM_MEMORY_MAP && cmd != XENMEM_MACHINE_MEMORY_MAP {
        return None;
    }
    let mut buf = [0u8; MAP_CAPACITY * E820Entry::SIZE];
    let mut arg = XenMemoryMap {
        nr_entries: MAP_CAPACITY as u32,
        pad: 0,
        buffer: buf.as_mut_ptr() as u64,
    };
    // SAFETY: the hypervisor reads and writes the live `arg` and writes at most
    // `nr_entries` 20-byte entries into the live buffer sized for them.
    let ret = unsafe {
        hc(
            Hypercall::MemoryOp,
            u64::from(cmd),
            &mut arg as *mut XenMemoryMap as u64,
            0,
            0,
            0,
        )
    };
    let mut entries = [E820Entry::default(); MAP_CAPACITY];
    for (entry, raw) in entries.iter_mut().zip(buf.chunks_exact(E820Entry::SIZE)) {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&raw[16..20]);
        *entry = E820Entry {
            addr: word(0),
            size: word(8),
            kind: u32::from_le_bytes(kind),
        };
    }
    Some(MemoryMap {
        ret,
        nr_entries: arg.nr_entries,
        entries,
    })
}
