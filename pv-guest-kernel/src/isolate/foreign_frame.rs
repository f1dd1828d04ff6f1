//! isolate=foreign_frame: RAM that is not ours cannot be mapped, named, written or given back.
// Two frames of RAM that Dom0 does not own, chosen so that the check means the same on both
// hypervisors (Dom0 may map I/O memory, so an arbitrary frame number would prove nothing):
// - a frame we owned and gave back with decrease_reservation: RAM by construction, and now
//   free memory of the hypervisor;
// - the frame in the middle of the largest RAM region of the machine memory map (or the next
//   one up that is not in our P2M list): RAM by the map, and not ours.

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_IO, DOMID_SELF};
use hypercall_abi::memory::{E820_RAM, XENMEM_DECREASE_RESERVATION, XENMEM_MACHINE_MEMORY_MAP};
use hypercall_abi::mmu::{MMU_MACHPHYS_UPDATE, MmuUpdate, MmuextCmd};

use super::common::{R, Sentinel, W, pinned_empty, refused, try_map};
use crate::arch::x86_64::frames;
use crate::arch::x86_64::memory_calls;
use crate::arch::x86_64::mmu_calls;
use crate::conform_mm::guest::{declined, take_frames};
use crate::conform_mm::pattern;
use crate::conform_mm::tables::{
    self, A, P, entry, expect_entry, expect_refused, req, update, updates,
};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, fail};

/// update_va_mapping of the frame, read-only or writable: -EBUSY (observed on Xen 4.17).
const MAP_ERRNO: Errno = Errno::Busy;
/// mmu_update of one of our L1 entries naming it: -EBUSY (observed on Xen 4.17).
const L1_ENTRY_ERRNO: Errno = Errno::Busy;
/// The same with foreigndom DOMID_IO (map it as I/O memory): -EBUSY (observed on Xen 4.17).
const AS_IO_ERRNO: Errno = Errno::Busy;
/// mmu_update with foreigndom naming a domain that does not exist: -ESRCH (observed on Xen
/// 4.17).
const NO_DOMAIN_ERRNO: Errno = Errno::Srch;
/// MMU_MACHPHYS_UPDATE of the frame: -EINVAL (observed on Xen 4.17).
const MACHPHYS_ERRNO: Errno = Errno::Inval;
/// Pinning it as an L1: -EINVAL (observed on Xen 4.17).
const PIN_ERRNO: Errno = Errno::Inval;
/// clear_page of it: -EINVAL (observed on Xen 4.17).
const CLEAR_ERRNO: Errno = Errno::Inval;
/// copy_page from it into a frame of ours: -EINVAL (observed on Xen 4.17).
const COPY_ERRNO: Errno = Errno::Inval;
/// Extents done by decrease_reservation of it: 0 (observed on Xen 4.17).
const DECREASE_DONE: i64 = 0;
/// A domain id no domain has.
const NO_SUCH_DOMAIN: u32 = 0x7F00;
/// Pattern seeds of our data page and of the frame we give back.
const SEED: u64 = 0x6A;
const RETURNED_SEED: u64 = 0x6B;

/// The checks per frame, named for the returned frame and for the RAM frame.
const NAMES: [[&str; 9]; 2] = [
    [
        "isolate.foreign_frame.returned.map_read_only",
        "isolate.foreign_frame.returned.map_writable",
        "isolate.foreign_frame.returned.l1_entry",
        "isolate.foreign_frame.returned.as_io",
        "isolate.foreign_frame.returned.machphys",
        "isolate.foreign_frame.returned.pin",
        "isolate.foreign_frame.returned.clear_page",
        "isolate.foreign_frame.returned.copy_page",
        "isolate.foreign_frame.returned.decrease",
    ],
    [
        "isolate.foreign_frame.ram.map_read_only",
        "isolate.foreign_frame.ram.map_writable",
        "isolate.foreign_frame.ram.l1_entry",
        "isolate.foreign_frame.ram.as_io",
        "isolate.foreign_frame.ram.machphys",
        "isolate.foreign_frame.ram.pin",
        "isolate.foreign_frame.ram.clear_page",
        "isolate.foreign_frame.ram.copy_page",
        "isolate.foreign_frame.ram.decrease",
    ],
];

/// Runs the checks.
pub fn run(_ctx: &mut Context, report: &mut Report) {
    let setup = || -> Result<_, Detail> {
        let sentinel = Sentinel::new()?;
        let l1 = pinned_empty(1)?;
        let [data] = take_frames::<1>()?;
        pattern::fill(W, data.mfn, SEED)?;
        let returned = returned_frame()?;
        let ram = ram_frame(returned)?;
        Ok((sentinel, l1.mfn, data.mfn, [returned, ram]))
    };
    let (sentinel, l1, data, targets) = match setup() {
        Ok(s) => s,
        Err(d) => {
            report.check("isolate.foreign_frame.setup", Err(d));
            return;
        }
    };
    for (names, x) in NAMES.iter().zip(targets) {
        report.check(
            names[0],
            refused("map read-only", try_map(x, false), MAP_ERRNO),
        );
        report.check(
            names[1],
            refused("map writable", try_map(x, true), MAP_ERRNO),
        );
        report.check(names[2], l1_entry(x, l1));
        report.check(names[3], as_io(x, l1));
        report.check(names[4], machphys(x));
        report.check(names[5], pin(x));
        report.check(names[6], clear(x));
        report.check(names[7], copy(x, data));
        report.check(names[8], decrease(x));
    }
    report.check("isolate.foreign_frame.no_such_domain", no_such_domain(l1));
    report.check("isolate.foreign_frame.unharmed", sentinel.unharmed(-1));
}

/// A frame of ours, filled with a pattern and given back.
fn returned_frame() -> Result<u64, Detail> {
    let [frame] = take_frames::<1>()?;
    pattern::fill(W, frame.mfn, RETURNED_SEED)?;
    let mut ext = [frame.mfn];
    let done = memory_calls::reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, 0, DOMID_SELF)
        .map_err(declined)?;
    if done != 1 {
        fail!("decrease_reservation returned {}", Ret(done));
    }
    Ok(frame.mfn)
}

/// The middle frame of the largest RAM region of the machine map, or the next one up that is
/// neither in our P2M nor `other`.
fn ram_frame(other: u64) -> Result<u64, Detail> {
    let Some(map) = memory_calls::memory_map(XENMEM_MACHINE_MEMORY_MAP) else {
        fail!("machine_memory_map not offered");
    };
    if map.ret != 0 {
        fail!("machine_memory_map returned {}", Ret(map.ret));
    }
    let n = (map.nr_entries as usize).min(map.entries.len());
    let Some(largest) = map.entries[..n]
        .iter()
        .filter(|e| e.kind == E820_RAM)
        .max_by_key(|e| e.size)
    else {
        fail!("no RAM in the machine map");
    };
    let first = largest.addr.div_ceil(4096);
    let end = (largest.addr + largest.size) >> 12;
    let middle = first + (end - first) / 2;
    match (middle..end).find(|&m| m != other && !frames::in_p2m(m)) {
        Some(m) => Ok(m),
        None => fail!("no RAM frame outside our P2M"),
    }
}

fn l1_entry(x: u64, l1: u64) -> Outcome {
    let r = update(l1, 0, entry(x, P | A))?;
    expect_refused("mmu_update(L1 entry -> the frame)", r, L1_ENTRY_ERRNO, 0)?;
    expect_entry(R, l1, 0, 0)
}

fn as_io(x: u64, l1: u64) -> Outcome {
    let reqs = [req(l1, 1, entry(x, P | A))];
    let r = mmu_calls::mmu_update(&reqs, u32::from(DOMID_IO)).map_err(declined)?;
    expect_refused("mmu_update(foreigndom DOMID_IO)", r, AS_IO_ERRNO, 0)?;
    expect_entry(R, l1, 1, 0)
}

fn no_such_domain(l1: u64) -> Outcome {
    let Ok([mine]) = take_frames::<1>() else {
        fail!("out of free frames");
    };
    let reqs = [req(l1, 2, entry(mine.mfn, P | A))];
    let r = mmu_calls::mmu_update(&reqs, NO_SUCH_DOMAIN).map_err(declined)?;
    if r.ret != NO_DOMAIN_ERRNO.to_ret() {
        fail!("mmu_update(foreigndom 0x7f00) returned {}", Ret(r.ret));
    }
    expect_entry(R, l1, 2, 0)
}

fn machphys(x: u64) -> Outcome {
    let before = frames::m2p(x);
    let r = updates(&[MmuUpdate {
        ptr: (x << 12) | MMU_MACHPHYS_UPDATE,
        val: 0x1234,
    }])?;
    expect_refused("machphys_update", r, MACHPHYS_ERRNO, 0)?;
    let after = frames::m2p(x);
    if after != before {
        fail!("M2P entry changed from {:?} to {:?}", before, after);
    }
    Ok(())
}

fn pin(x: u64) -> Outcome {
    expect_refused("pin L1", tables::pin(1, x)?, PIN_ERRNO, 0)
}

fn clear(x: u64) -> Outcome {
    expect_refused("clear_page", tables::clear(x)?, CLEAR_ERRNO, 0)
}

fn copy(x: u64, data: u64) -> Outcome {
    let r = tables::mmuext(MmuextCmd::CopyPage, data, x)?;
    expect_refused("copy_page(from the frame)", r, COPY_ERRNO, 0)?;
    pattern::check(R, data, "our page", |i| pattern::word(SEED, i))
}

fn decrease(x: u64) -> Outcome {
    let mut ext = [x];
    let done = memory_calls::reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, 0, DOMID_SELF)
        .map_err(declined)?;
    if done != DECREASE_DONE {
        fail!(
            "decrease_reservation returned {}, expected {}",
            Ret(done),
            DECREASE_DONE
        );
    }
    Ok(())
}
