//! conform=memory: memory_op queries, memory maps and reservation changes, with error cases.
// The reservation checks run in order and track the number of pages the domain should hold:
// every change must move current_reservation by exactly what was given back or taken.

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::layout::{HYPERVISOR_VIRT_START, PAGE_SHIFT};
use hypercall_abi::memory::{
    E820_RAM, XENMEM_CURRENT_RESERVATION, XENMEM_DECREASE_RESERVATION, XENMEM_INCREASE_RESERVATION,
    XENMEM_MACHINE_MEMORY_MAP, XENMEM_MAXIMUM_RAM_PAGE, XENMEM_MAXIMUM_RESERVATION,
    XENMEM_MEMORY_MAP, XENMEM_POPULATE_PHYSMAP,
};
use hypercall_abi::mmu::{MMU_MACHPHYS_UPDATE, MmuUpdate};
use hypercall_abi::start_info::StartInfo;

use super::foreign;
use super::guest::{self, declined, take_frames};
use super::pattern;
use super::tables::{expect_done, updates};
use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::arch::x86_64::memory_calls::{self, MAP_CAPACITY};
use crate::arch::x86_64::window::Slot;
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, expect_eq, expect_errno, fail};

/// Window slot used to fill and check frames.
const W: Slot = match Slot::get(0) {
    Some(s) => s,
    None => panic!("no window slot 0"),
};
/// Window slot used to check frames read-only.
const R: Slot = match Slot::get(1) {
    Some(s) => s,
    None => panic!("no window slot 1"),
};

/// A domain id no domain has.
const NO_SUCH_DOMAIN: DomId = 0x7F00;
/// An M2P entry that names no pseudo-physical frame.
const INVALID_M2P: u64 = u64::MAX;
/// An operation number no Xen version defines (the top of MEMOP_CMD_MASK).
const UNKNOWN_OP: u64 = 63;

/// Dom0's maximum_reservation: UINT_MAX, i.e. no limit (observed on Xen 4.17 with
/// `dom0_mem=64M`, which sets no maximum).
const DOM0_MAXIMUM_RESERVATION: i64 = 0xFFFF_FFFF;
/// current_reservation of a domain that does not exist: -ESRCH (observed on Xen 4.17).
const QUERY_NO_DOMAIN_ERRNO: Errno = Errno::Srch;
/// memory_map for a PV Dom0: -ENOSYS, no pseudo-physical map is set for it; the buffer and
/// nr_entries are left alone (observed on Xen 4.17).
const MEMORY_MAP_DOM0_ERRNO: Errno = Errno::NoSys;
/// The M2P entry of a frame right after decrease_reservation gave it back: invalid (observed
/// on Xen 4.17).
const M2P_AFTER_DECREASE: u64 = INVALID_M2P;
/// The M2P entry of a frame increase_reservation just gave us: invalid, the guest sets it
/// with MMU_MACHPHYS_UPDATE (observed on Xen 4.17; populate_physmap sets it instead).
const M2P_AFTER_INCREASE: u64 = INVALID_M2P;
/// update_va_mapping of a frame we gave back: -EBUSY (observed on Xen 4.17).
const MAP_RETURNED_ERRNO: Errno = Errno::Busy;
/// Extents done by decrease_reservation of a frame that is not ours, or one we already gave
/// back, or with a NULL extent list: 0, and no error (observed on Xen 4.17).
const DECREASE_REFUSED_DONE: i64 = 0;
/// Extents done by increase_reservation with extent_order 30: 0 (observed on Xen 4.17).
const ORDER_TOO_LARGE_DONE: i64 = 0;
/// A larger extent Dom0 may take: order 9 (2 MiB) is granted (observed on Xen 4.17).
const LARGE_ORDER: u32 = 9;
/// Extents done by increase_reservation with an extent list in the hypervisor's range: 0,
/// nothing allocated (observed on Xen 4.17: the list is checked before any allocation).
const UNREADABLE_LIST_DONE: i64 = 0;
/// Extents done by increase_reservation with a NULL extent list: all of them; the pages are
/// allocated and counted, their frame numbers just not reported (observed on Xen 4.17).
const NULL_LIST_DONE: i64 = 1;
/// Extents done by increase_reservation for a domain that does not exist: 0, not an error
/// (observed on Xen 4.17).
const INCREASE_NO_DOMAIN_DONE: i64 = 0;
/// memory_op with an operation nobody defines: -ENOSYS (observed on Xen 4.17).
const UNKNOWN_OP_ERRNO: Errno = Errno::NoSys;
/// current_reservation with its argument in the hypervisor's range: -EFAULT (observed on Xen
/// 4.17).
const BAD_ARGUMENT_ERRNO: Errno = Errno::Fault;

/// Runs the memory checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=memory", start_info, p2m, checks)
}

/// The pages the domain should hold, updated by every check that changes them.
struct Book {
    expected: i64,
}

fn current() -> i64 {
    memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, DOMID_SELF).unwrap_or(i64::MIN)
}

impl Book {
    /// Moves the expected count by `delta` and checks current_reservation agrees.
    fn moved(&mut self, delta: i64) -> Outcome {
        self.expected += delta;
        expect_ret_eq("current_reservation", current(), self.expected)
    }
}

fn expect_ret_eq(what: &str, got: i64, want: i64) -> Outcome {
    if got != want {
        fail!("{} is {}, expected {}", what, Ret(got), Ret(want));
    }
    Ok(())
}

fn reservation(cmd: u32, extents: &mut [u64], order: u32, domid: DomId) -> Result<i64, Detail> {
    memory_calls::reservation(cmd, extents, order, 0, domid).map_err(declined)
}

fn checks(ctx: &mut Context, report: &mut Report) {
    let f = match take_frames::<4>() {
        Ok(f) => f,
        Err(d) => {
            report.check("memory.frames", Err(d));
            return;
        }
    };
    let mut book = Book {
        expected: ctx.start_info.nr_pages as i64,
    };
    let max_ram = memory_calls::memory_op_null(u64::from(XENMEM_MAXIMUM_RAM_PAGE));
    let max_ram = max_ram.unwrap_or(i64::MIN);
    report.check("memory.maximum_ram_page", maximum_ram_page(ctx, max_ram));
    report.check("memory.current_reservation", current_reservation(&book));
    report.check("memory.maximum_reservation", maximum_reservation());
    report.check("memory.query_unknown_domain", query_unknown_domain());
    report.check("memory.memory_map", memory_map());
    report.check(
        "memory.machine_memory_map",
        machine_memory_map(ctx, max_ram),
    );
    report.check("memory.decrease_reservation", decrease(&f, &mut book));
    report.check(
        "memory.decrease_returned_frame",
        decrease_again(&f, &mut book),
    );
    report.check("memory.map_returned_frame", map_returned(&f));
    report.check("memory.increase_reservation", increase(&f, &mut book));
    report.check("memory.populate_physmap", populate(&f, &mut book));
    report.check("memory.large_extent", large_extent(&mut book));
    report.check("memory.decrease_foreign_frame", decrease_foreign(&mut book));
    report.check("memory.extent_order_too_large", order_too_large(&mut book));
    report.check("memory.extent_list_unreadable", list_unreadable(&mut book));
    report.check("memory.decrease_null_list", decrease_null_list(&mut book));
    report.check("memory.increase_null_list", increase_null_list(&mut book));
    report.check(
        "memory.increase_unknown_domain",
        increase_unknown_domain(&mut book),
    );
    report.check("memory.unknown_op", unknown_op());
    report.check("memory.bad_argument", bad_argument());
}

fn maximum_ram_page(ctx: &Context, max_ram: i64) -> Outcome {
    let highest = ctx.p2m.iter().max().copied().unwrap_or(0);
    if max_ram <= 0 || (max_ram as u64) <= highest {
        fail!(
            "maximum_ram_page {} is not above our highest frame {:#x}",
            Ret(max_ram),
            highest
        );
    }
    Ok(())
}

fn current_reservation(book: &Book) -> Outcome {
    expect_ret_eq("current_reservation(DOMID_SELF)", current(), book.expected)?;
    let own = memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, 0);
    expect_ret_eq(
        "current_reservation(0)",
        own.unwrap_or(i64::MIN),
        book.expected,
    )
}

fn maximum_reservation() -> Outcome {
    let max = memory_calls::reservation_query(XENMEM_MAXIMUM_RESERVATION, DOMID_SELF);
    expect_ret_eq(
        "maximum_reservation",
        max.unwrap_or(i64::MIN),
        DOM0_MAXIMUM_RESERVATION,
    )
}

fn query_unknown_domain() -> Outcome {
    let ret = memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, NO_SUCH_DOMAIN);
    expect_errno(
        "current_reservation(no domain)",
        ret.unwrap_or(0),
        QUERY_NO_DOMAIN_ERRNO,
    )
}

fn memory_map() -> Outcome {
    let Some(map) = memory_calls::memory_map(XENMEM_MEMORY_MAP) else {
        fail!("memory_map not offered");
    };
    expect_errno("memory_map", map.ret, MEMORY_MAP_DOM0_ERRNO)?;
    expect_eq(
        "nr_entries after",
        u64::from(map.nr_entries),
        MAP_CAPACITY as u64,
    )
}

/// The machine map: sorted, non-overlapping entries; its RAM ends where maximum_ram_page
/// says; every frame of ours is RAM.
fn machine_memory_map(ctx: &Context, max_ram: i64) -> Outcome {
    let Some(map) = memory_calls::memory_map(XENMEM_MACHINE_MEMORY_MAP) else {
        fail!("machine_memory_map not offered");
    };
    expect_ret_eq("machine_memory_map", map.ret, 0)?;
    let n = map.nr_entries as usize;
    if n == 0 || n > MAP_CAPACITY {
        fail!("{} entries", n);
    }
    let entries = &map.entries[..n];
    for pair in entries.windows(2) {
        if pair[0].addr.saturating_add(pair[0].size) > pair[1].addr {
            fail!(
                "entries at {:#x} and {:#x} overlap or are out of order",
                pair[0].addr,
                pair[1].addr
            );
        }
    }
    let ram_end = entries
        .iter()
        .filter(|e| e.kind == E820_RAM)
        .map(|e| e.addr.saturating_add(e.size))
        .max()
        .unwrap_or(0);
    expect_eq("end of RAM >> 12", ram_end >> PAGE_SHIFT, max_ram as u64)?;
    let is_ram = |mfn: u64| {
        let addr = mfn << PAGE_SHIFT;
        entries
            .iter()
            .any(|e| e.kind == E820_RAM && addr >= e.addr && addr - e.addr < e.size)
    };
    if let Some(&mfn) = ctx.p2m.iter().find(|&&m| !is_ram(m)) {
        fail!("our frame {:#x} is not RAM in the machine map", mfn);
    }
    Ok(())
}

fn decrease(f: &[FreeFrame; 4], book: &mut Book) -> Outcome {
    let mut ext = [f[0].mfn, f[1].mfn];
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, DOMID_SELF)?;
    expect_ret_eq("decrease_reservation", done, 2)?;
    book.moved(-2)?;
    for fr in &f[..2] {
        let m2p = frames::m2p(fr.mfn).unwrap_or(0);
        expect_eq("M2P entry of a returned frame", m2p, M2P_AFTER_DECREASE)?;
    }
    Ok(())
}

fn decrease_again(f: &[FreeFrame; 4], book: &mut Book) -> Outcome {
    let mut ext = [f[0].mfn];
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, DOMID_SELF)?;
    expect_ret_eq(
        "decrease_reservation(returned frame)",
        done,
        DECREASE_REFUSED_DONE,
    )?;
    book.moved(0)
}

fn map_returned(f: &[FreeFrame; 4]) -> Outcome {
    let ret = R.map_frame(f[0].mfn, false);
    if ret == 0 {
        let _ = R.unmap();
    }
    expect_errno("update_va_mapping(returned frame)", ret, MAP_RETURNED_ERRNO)
}

fn machphys(mfn: u64, pfn: u64) -> Outcome {
    let r = updates(&[MmuUpdate {
        ptr: (mfn << PAGE_SHIFT) | MMU_MACHPHYS_UPDATE,
        val: pfn,
    }])?;
    expect_done("machphys_update", r, 1)?;
    expect_eq("M2P entry", frames::m2p(mfn).unwrap_or(u64::MAX), pfn)
}

fn increase(f: &[FreeFrame; 4], book: &mut Book) -> Outcome {
    let mut ext = [0u64; 2];
    let done = reservation(XENMEM_INCREASE_RESERVATION, &mut ext, 0, DOMID_SELF)?;
    expect_ret_eq("increase_reservation", done, 2)?;
    book.moved(2)?;
    if ext[0] == 0 || ext[1] == 0 || ext[0] == ext[1] {
        fail!("frames written back: {:#x}, {:#x}", ext[0], ext[1]);
    }
    for (mfn, fr) in ext.iter().zip(&f[..2]) {
        let m2p = frames::m2p(*mfn).unwrap_or(0);
        expect_eq("M2P entry of a new frame", m2p, M2P_AFTER_INCREASE)?;
        machphys(*mfn, fr.pfn)?;
        pattern::fill(W, *mfn, 0x1C)?;
        pattern::check(R, *mfn, "new frame", |i| pattern::word(0x1C, i))?;
    }
    Ok(())
}

fn populate(f: &[FreeFrame; 4], book: &mut Book) -> Outcome {
    let mut ext = [f[2].mfn];
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, DOMID_SELF)?;
    expect_ret_eq("decrease_reservation", done, 1)?;
    book.moved(-1)?;
    let mut ext = [f[2].pfn];
    let done = reservation(XENMEM_POPULATE_PHYSMAP, &mut ext, 0, DOMID_SELF)?;
    expect_ret_eq("populate_physmap", done, 1)?;
    book.moved(1)?;
    let mfn = ext[0];
    if mfn == f[2].pfn || mfn == 0 {
        fail!("extent not rewritten with a frame: {:#x}", mfn);
    }
    expect_eq(
        "M2P entry of the populated frame",
        frames::m2p(mfn).unwrap_or(0),
        f[2].pfn,
    )?;
    pattern::fill(W, mfn, 0x2D)?;
    pattern::check(R, mfn, "populated frame", |i| pattern::word(0x2D, i))
}

fn large_extent(book: &mut Book) -> Outcome {
    let mut ext = [0u64];
    let done = reservation(
        XENMEM_INCREASE_RESERVATION,
        &mut ext,
        LARGE_ORDER,
        DOMID_SELF,
    )?;
    expect_ret_eq("increase_reservation(order 9)", done, 1)?;
    book.moved(1 << LARGE_ORDER)?;
    expect_eq("frame alignment", ext[0] % (1 << LARGE_ORDER), 0)?;
    let done = reservation(
        XENMEM_DECREASE_RESERVATION,
        &mut ext,
        LARGE_ORDER,
        DOMID_SELF,
    )?;
    expect_ret_eq("decrease_reservation(order 9)", done, 1)?;
    book.moved(-(1 << LARGE_ORDER))
}

fn decrease_foreign(book: &mut Book) -> Outcome {
    let mut ext = [foreign::hypervisor_frame()?];
    let done = reservation(XENMEM_DECREASE_RESERVATION, &mut ext, 0, DOMID_SELF)?;
    expect_ret_eq(
        "decrease_reservation(hypervisor frame)",
        done,
        DECREASE_REFUSED_DONE,
    )?;
    book.moved(0)
}

fn order_too_large(book: &mut Book) -> Outcome {
    let mut ext = [0u64];
    let done = reservation(XENMEM_INCREASE_RESERVATION, &mut ext, 30, DOMID_SELF)?;
    expect_ret_eq("increase_reservation(order 30)", done, ORDER_TOO_LARGE_DONE)?;
    book.moved(0)
}

fn list_unreadable(book: &mut Book) -> Outcome {
    let list = HYPERVISOR_VIRT_START + 0x1000;
    let done =
        memory_calls::reservation_foreign_list(XENMEM_INCREASE_RESERVATION, list, 1, 0, DOMID_SELF);
    expect_ret_eq(
        "increase_reservation(list in the hypervisor)",
        done.unwrap_or(i64::MIN),
        UNREADABLE_LIST_DONE,
    )?;
    book.moved(0)
}

fn decrease_null_list(book: &mut Book) -> Outcome {
    let done =
        memory_calls::reservation_foreign_list(XENMEM_DECREASE_RESERVATION, 0, 1, 0, DOMID_SELF);
    expect_ret_eq(
        "decrease_reservation(NULL list)",
        done.unwrap_or(i64::MIN),
        DECREASE_REFUSED_DONE,
    )?;
    book.moved(0)
}

fn increase_null_list(book: &mut Book) -> Outcome {
    let done =
        memory_calls::reservation_foreign_list(XENMEM_INCREASE_RESERVATION, 0, 1, 0, DOMID_SELF);
    expect_ret_eq(
        "increase_reservation(NULL list)",
        done.unwrap_or(i64::MIN),
        NULL_LIST_DONE,
    )?;
    book.moved(NULL_LIST_DONE)
}

fn increase_unknown_domain(book: &mut Book) -> Outcome {
    let mut ext = [0u64];
    let done = reservation(XENMEM_INCREASE_RESERVATION, &mut ext, 0, NO_SUCH_DOMAIN)?;
    expect_ret_eq(
        "increase_reservation(no domain)",
        done,
        INCREASE_NO_DOMAIN_DONE,
    )?;
    book.moved(0)
}

fn unknown_op() -> Outcome {
    let ret = memory_calls::memory_op_null(UNKNOWN_OP);
    expect_errno("memory_op(63)", ret.unwrap_or(0), UNKNOWN_OP_ERRNO)
}

fn bad_argument() -> Outcome {
    let arg = HYPERVISOR_VIRT_START + 0x1000;
    let ret = memory_calls::memory_op_hypervisor_arg(u64::from(XENMEM_CURRENT_RESERVATION), arg);
    expect_errno(
        "current_reservation(argument in the hypervisor)",
        ret.unwrap_or(0),
        BAD_ARGUMENT_ERRNO,
    )
}
