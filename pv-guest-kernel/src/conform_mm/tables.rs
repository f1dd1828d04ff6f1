//! Page tables the tests build from free frames: entries, mmu_update and mmuext_op helpers.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::mmu::{MMU_NORMAL_PT_UPDATE, MmuUpdate, MmuextCmd, PteFlags};

use super::guest::declined;
use crate::arch::x86_64::frames;
use crate::arch::x86_64::memory;
use crate::arch::x86_64::mmu_calls::{self, BatchResult};
use crate::arch::x86_64::window::Slot;
use crate::selftest::report::{Detail, Outcome, Ret, expect_eq, expect_errno, fail};

/// Present.
pub const P: u64 = PteFlags::PRESENT.bits();
/// Writable.
pub const RW: u64 = PteFlags::RW.bits();
/// User.
pub const U: u64 = PteFlags::USER.bits();
/// Accessed.
pub const A: u64 = PteFlags::ACCESSED.bits();
/// Dirty.
pub const D: u64 = PteFlags::DIRTY.bits();
/// Flags Xen 4.17 adds to a present L1 entry written without _PAGE_USER (a guest-kernel
/// page): _PAGE_USER and the software bit 52 that marks guest-kernel pages (observed on Xen
/// 4.17).
pub const L1_KERNEL_ADDED: u64 = U | (1 << 52);
/// Flags Xen 4.17 adds to a present L1 entry written with _PAGE_USER (a guest-user page):
/// _PAGE_GLOBAL (observed on Xen 4.17).
pub const L1_USER_ADDED: u64 = PteFlags::GLOBAL.bits();

/// Entries in a table.
pub const ENTRIES: usize = 512;
/// The L4 slot of the test region: empty in the kernel's L4, below the hypervisor's range.
pub const TEST_SLOT: usize = 1;
/// First address of the test region (L4 slot [`TEST_SLOT`], L3/L2/L1 index 0).
pub const TEST_VA: u64 = (TEST_SLOT as u64) << 39;
/// The L4 slots reserved for the hypervisor.
pub const XEN_SLOTS: core::ops::RangeInclusive<usize> = 256..=271;

/// The entry pointing at frame `mfn` with `flags`.
pub const fn entry(mfn: u64, flags: u64) -> u64 {
    (mfn << 12) | flags
}

/// An MMU_NORMAL_PT_UPDATE of entry `index` of table `table`.
pub fn req(table: u64, index: usize, value: u64) -> MmuUpdate {
    MmuUpdate {
        ptr: frames::entry_maddr(table, index) | MMU_NORMAL_PT_UPDATE,
        val: value,
    }
}

/// mmu_update of `reqs` for DOMID_SELF.
pub fn updates(reqs: &[MmuUpdate]) -> Result<BatchResult, Detail> {
    mmu_calls::mmu_update(reqs, u32::from(DOMID_SELF)).map_err(declined)
}

/// One normal update of entry `index` of `table`.
pub fn update(table: u64, index: usize, value: u64) -> Result<BatchResult, Detail> {
    updates(&[req(table, index, value)])
}

/// One mmuext op for DOMID_SELF.
pub fn mmuext(cmd: MmuextCmd, arg1: u64, arg2: u64) -> Result<BatchResult, Detail> {
    mmu_calls::mmuext_one(cmd, arg1, arg2).map_err(declined)
}

/// The pin command for page-table `level` (1..=4).
pub fn pin_cmd(level: u8) -> MmuextCmd {
    match level {
        1 => MmuextCmd::PinL1Table,
        2 => MmuextCmd::PinL2Table,
        3 => MmuextCmd::PinL3Table,
        _ => MmuextCmd::PinL4Table,
    }
}

/// Pins `mfn` as a page table of `level`.
pub fn pin(level: u8, mfn: u64) -> Result<BatchResult, Detail> {
    mmuext(pin_cmd(level), mfn, 0)
}

/// Unpins `mfn`.
pub fn unpin(mfn: u64) -> Result<BatchResult, Detail> {
    mmuext(MmuextCmd::Unpin, mfn, 0)
}

/// Zeroes `mfn` with MMUEXT_CLEAR_PAGE.
pub fn clear(mfn: u64) -> Result<BatchResult, Detail> {
    mmuext(MmuextCmd::ClearPage, mfn, 0)
}

/// The batch must have succeeded with `done` == `n`.
pub fn expect_done(what: &str, r: BatchResult, n: u32) -> Outcome {
    if r.ret != 0 {
        fail!("{} returned {} (done {})", what, Ret(r.ret), r.done);
    }
    expect_eq("done", u64::from(r.done), u64::from(n))
}

/// The batch must have failed with `errno` after `n` successful requests.
pub fn expect_refused(what: &str, r: BatchResult, errno: Errno, n: u32) -> Outcome {
    expect_errno(what, r.ret, errno)?;
    expect_eq("done", u64::from(r.done), u64::from(n))
}

/// Entry `index` of `table`, read through `slot` (mapped read-only for the read).
pub fn read_entry(slot: Slot, table: u64, index: usize) -> Result<u64, Detail> {
    let ret = slot.map_frame(table, false);
    if ret != 0 {
        fail!("mapping table {:#x} read-only returned {}", table, Ret(ret));
    }
    let value = slot.read(index);
    let _ = slot.unmap();
    match value {
        Some(v) => Ok(v),
        None => fail!("entry {} of table {:#x} unreadable", index, table),
    }
}

/// Entry `index` of `table` must read `want`.
pub fn expect_entry(slot: Slot, table: u64, index: usize, want: u64) -> Outcome {
    let got = read_entry(slot, table, index)?;
    if got != want {
        fail!(
            "entry {} of {:#x} is {:#x}, expected {:#x}",
            index,
            table,
            got,
            want
        );
    }
    Ok(())
}

/// Writes `value(i)` into every entry of frame `mfn` through `slot` (mapped read-write for
/// the writes, unmapped after), so it can then be pinned as a table.
pub fn write_frame(slot: Slot, mfn: u64, value: impl Fn(usize) -> u64) -> Outcome {
    let ret = slot.map_frame(mfn, true);
    if ret != 0 {
        fail!("mapping frame {:#x} writable returned {}", mfn, Ret(ret));
    }
    let written = slot.fill(value);
    let unmapped = slot.unmap();
    if !written {
        fail!("writing frame {:#x} through the window failed", mfn);
    }
    if unmapped != 0 {
        fail!("unmapping frame {:#x} returned {}", mfn, Ret(unmapped));
    }
    Ok(())
}

/// Requests that copy every present guest slot of the kernel's L4 into table `l4`.
pub fn kernel_slot_copies(l4: u64) -> Result<heapless::Vec<MmuUpdate, 16>, Detail> {
    let mut out = heapless::Vec::new();
    for i in (0..ENTRIES).filter(|i| !XEN_SLOTS.contains(i)) {
        let Some(e) = memory::initial_l4_entry(i) else {
            fail!("initial L4 unreadable");
        };
        if e & P != 0 && out.push(req(l4, i, e)).is_err() {
            fail!("more than 16 kernel L4 slots");
        }
    }
    Ok(out)
}
