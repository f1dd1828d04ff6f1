//! memory_op: a domain's reservation (grow, shrink, populate), its size and the memory maps.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::memory::*;

use super::foreign;
use crate::arch::x86_64::direct_map;
use crate::arch::x86_64::uaccess::{copy_to_guest, read_guest, write_guest};
use crate::hypervisor::with_state;
use crate::mm_glue::with_mm_on;

/// Largest extent order an ordinary domain may ask for (Xen's CONFIG_DOMU_MAX_ORDER).
const DOMU_MAX_ORDER: u32 = 9;
/// Largest extent order the control and hardware domain may ask for (Xen's
/// CONFIG_CTLDOM_MAX_ORDER / CONFIG_HWDOM_MAX_ORDER).
const DOM0_MAX_ORDER: u32 = 12;

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
        // One past the highest RAM frame, as Xen's max_page.
        XENMEM_MAXIMUM_RAM_PAGE => Ok(with_state(|st| {
            st.regions
                .iter()
                .filter(|r| r.usable)
                .map(|r| r.base.saturating_add(r.len) >> 12)
                .max()
                .unwrap_or(0)
        })),
        XENMEM_CURRENT_RESERVATION | XENMEM_MAXIMUM_RESERVATION => {
            let domid = read_guest::<DomId>(arg)?;
            with_state(|mut st| {
                let id = foreign::any_id(&st, domid).ok_or(Errno::Srch)?;
                if id != st.dom.id && !st.dom.is_control() {
                    return Err(Errno::Perm);
                }
                let dom = st.lookup(id).ok_or(Errno::Srch)?;
                Ok(if op == XENMEM_CURRENT_RESERVATION {
                    dom.tot_pages
                } else {
                    dom.max_pages
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
    // As in Xen, an unknown domain, an order too large or a list outside guest memory do no
    // extent at all rather than fail.
    let Some((target, privileged)) =
        with_state(|st| foreign::any_id(&st, r.domid).map(|id| (id, st.dom.is_control())))
    else {
        return Ok(start);
    };
    let self_id = with_state(|st| st.dom.id);
    // Another domain's reservation is the control domain's business (Xen's XSM check).
    if target != self_id && !privileged {
        return Err(Errno::Perm);
    }
    let max_order = if privileged {
        DOM0_MAX_ORDER
    } else {
        DOMU_MAX_ORDER
    };
    if start >= r.nr_extents {
        return Ok(start);
    }
    let list_ok = r
        .nr_extents
        .checked_mul(8)
        .is_some_and(|len| guest_range_ok(r.extent_start, len));
    if r.extent_order > max_order || (r.extent_start != 0 && !list_ok) {
        return Ok(start);
    }
    let order = r.extent_order;
    // The guest list is read and written entry by entry; a fault there ends the batch.
    let entry = |i: u64| r.extent_start + i * 8;
    let mut i = start;
    while i < r.nr_extents {
        let ok = match kind {
            Reservation::Decrease => read_guest::<u64>(entry(i)).is_ok_and(|mfn| {
                (0..1u64 << order).all(|j| {
                    mfn.checked_add(j).is_some_and(|f| {
                        with_mm_on(target, |mm, dom| mm.remove_page(dom.id, f))
                            .is_some_and(|r| r.is_ok())
                    })
                })
            }),
            Reservation::Increase => match allocate(target, order) {
                Some(mfn) => r.extent_start == 0 || write_guest(entry(i), &mfn).is_ok(),
                None => false,
            },
            Reservation::Populate => match read_guest::<u64>(entry(i)) {
                Ok(pfn) => match allocate(target, order) {
                    Some(mfn) => {
                        with_state(|mut st| {
                            for j in 0..1u64 << order {
                                st.set_m2p(mfn + j, pfn.wrapping_add(j));
                            }
                        });
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

/// Gives domain `target` `2^order` more zeroed, naturally aligned frames within its maximum
/// reservation; returns the first.
fn allocate(target: DomId, order: u32) -> Option<u64> {
    let n = 1u64 << order;
    with_mm_on(target, |mm, dom| {
        // A dying domain gets no more memory (Xen's assign_pages refuses it too).
        if dom.dying || dom.tot_pages + n > dom.max_pages {
            return None;
        }
        let first = mm.mem.alloc.alloc_aligned(order)? as u64;
        for mfn in first..first + n {
            direct_map::zero_frame(mfn);
            if mm.allocate(dom.id, mfn).is_err() {
                // Cannot happen for a frame fresh from the allocator; give back what is left
                // rather than trust it.
                for rest in mfn..first + n {
                    mm.mem.alloc.free(rest as usize);
                }
                dom.tot_pages += mfn - first;
                return None;
            }
        }
        dom.tot_pages += n;
        Some(first)
    })
    .flatten()
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
        (st.dom.is_control(), v)
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
