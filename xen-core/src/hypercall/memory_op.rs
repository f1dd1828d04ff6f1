//! memory_op: a domain's reservation (grow, shrink, populate), its size and the memory maps.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::memory::*;

use super::foreign;
use crate::arch::x86_64::direct_map;
use crate::arch::x86_64::uaccess::{copy_to_guest, read_guest, write_guest};
use crate::hypervisor::with_state;
use crate::mm_glue::with_mm;

/// Largest extent order a domain may ask for (Xen's limit for the hardware domain is higher,
/// but xen-core hands out single frames only for now).
const MAX_ORDER: u32 = 0;

/// The reservation operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reservation {
    Increase,
    Decrease,
    Populate,
}

/// Handles memory_op(cmd, arg).
pub fn memory_op(cmd: u64, arg: u64) -> Result<u64, Errno> {
    let (op, start) = split_memop_cmd(cmd);
    match op {
        XENMEM_INCREASE_RESERVATION => reservation(Reservation::Increase, arg, start),
        XENMEM_DECREASE_RESERVATION => reservation(Reservation::Decrease, arg, start),
        XENMEM_POPULATE_PHYSMAP => reservation(Reservation::Populate, arg, start),
        XENMEM_MAXIMUM_RAM_PAGE => Ok(with_state(|st| st.frames.len() as u64)),
        XENMEM_CURRENT_RESERVATION | XENMEM_MAXIMUM_RESERVATION => {
            let domid = read_guest::<DomId>(arg)?;
            with_state(|st| {
                foreign::resolve(st.dom.id, domid)?;
                Ok(if op == XENMEM_CURRENT_RESERVATION {
                    st.dom.tot_pages
                } else {
                    st.dom.max_pages
                })
            })
        }
        XENMEM_MACHINE_MEMORY_MAP => machine_memory_map(arg),
        _ => Err(Errno::NoSys),
    }
}

/// increase_reservation, decrease_reservation and populate_physmap: returns how many extents
/// were done, counting from `start` (a failure part way is not an error, as in Xen).
fn reservation(kind: Reservation, arg: u64, start: u64) -> Result<u64, Errno> {
    let r = read_guest::<XenMemoryReservation>(arg)?;
    with_state(|st| foreign::resolve(st.dom.id, r.domid))?;
    if start >= r.nr_extents {
        return Ok(start);
    }
    let list_ok = r
        .nr_extents
        .checked_mul(8)
        .is_some_and(|len| guest_range_ok(r.extent_start, len));
    if r.extent_order > MAX_ORDER || (r.extent_start != 0 && !list_ok) {
        return Ok(start);
    }
    // The guest list is read and written entry by entry; a fault there ends the batch.
    let entry = |i: u64| r.extent_start + i * 8;
    let mut i = start;
    while i < r.nr_extents {
        let ok = match kind {
            Reservation::Decrease => read_guest::<u64>(entry(i))
                .is_ok_and(|mfn| with_mm(|mm, dom| mm.remove_page(dom.id, mfn)).is_ok()),
            Reservation::Increase => match allocate() {
                Some(mfn) => r.extent_start == 0 || write_guest(entry(i), &mfn).is_ok(),
                None => false,
            },
            Reservation::Populate => match read_guest::<u64>(entry(i)) {
                Ok(pfn) => match allocate() {
                    Some(mfn) => {
                        with_state(|mut st| st.set_m2p(mfn, pfn));
                        write_guest(entry(i), &mfn).is_ok()
                    }
                    None => false,
                },
                Err(_) => false,
            },
        };
        if !ok {
            break;
        }
        i += 1;
    }
    Ok(i)
}

/// Gives the running domain one more zeroed frame, within its maximum reservation.
fn allocate() -> Option<u64> {
    with_mm(|mm, dom| {
        if dom.tot_pages >= dom.max_pages {
            return None;
        }
        let mfn = mm.mem.alloc.alloc()? as u64;
        direct_map::zero_frame(mfn);
        if mm.allocate(dom.id, mfn).is_err() {
            mm.mem.alloc.free(mfn as usize);
            return None;
        }
        dom.tot_pages += 1;
        Some(mfn)
    })
}

/// machine_memory_map: the firmware's map, for the control domain only.
fn machine_memory_map(arg: u64) -> Result<u64, Errno> {
    let mut map = read_guest::<XenMemoryMap>(arg)?;
    let (privileged, regions) = with_state(|st| {
        let mut v: heapless::Vec<E820Entry, { xen_core::multiboot::MAX_REGIONS }> =
            heapless::Vec::new();
        for r in st.regions {
            let _ = v.push(E820Entry {
                addr: r.base,
                size: r.len,
                kind: if r.usable { E820_RAM } else { E820_RESERVED },
            });
        }
        (st.dom.privileged, v)
    });
    if !privileged {
        return Err(Errno::Perm);
    }
    let n = regions.len().min(map.nr_entries as usize);
    for (i, e) in regions.iter().take(n).enumerate() {
        copy_to_guest(map.buffer + (i * E820Entry::SIZE) as u64, &e.to_bytes())?;
    }
    map.nr_entries = n as u32;
    write_guest(arg, &map)?;
    Ok(0)
}
