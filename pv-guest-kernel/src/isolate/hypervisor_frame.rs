//! isolate=hypervisor_frame: every way of reaching one of the hypervisor's frames is refused.
// The frame is the hypervisor's L3 table behind its direct-map slot (see `foreign`): mapping
// it, naming it in one of our tables, writing into it, pinning, clearing or copying it, or
// giving it "back" must all fail, and leave the guest as it was.

use hypercall_abi::Errno;
use hypercall_abi::mmu::{MMU_MACHPHYS_UPDATE, MmuUpdate, MmuextCmd};

use super::common::{R, Sentinel, W, pinned_empty, refused, try_map};
use crate::arch::x86_64::frames;
use crate::arch::x86_64::memory;
use crate::conform_mm::foreign;
use crate::conform_mm::guest::take_frames;
use crate::conform_mm::pattern;
use crate::conform_mm::tables::{
    self, A, P, RW, TEST_SLOT, U, entry, expect_entry, expect_refused, update, updates,
};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, expect_eq, fail};

/// update_va_mapping of a hypervisor frame, read-only or writable: -EBUSY (observed on Xen
/// 4.17, which reports a frame it cannot take a reference to as busy).
const MAP_ERRNO: Errno = Errno::Busy;
/// mmu_update of one of our L1 entries naming it: -EBUSY (observed on Xen 4.17).
const L1_ENTRY_ERRNO: Errno = Errno::Busy;
/// mmu_update of one of our L4 entries naming it as an L3: -EINVAL (observed on Xen 4.17).
const AS_L3_ERRNO: Errno = Errno::Inval;
/// mmu_update of a hypervisor slot of one of our L4s: -EINVAL (observed on Xen 4.17).
const XEN_SLOT_ERRNO: Errno = Errno::Inval;
/// mmu_update writing into the hypervisor frame itself: -EINVAL (observed on Xen 4.17).
const WRITE_INTO_ERRNO: Errno = Errno::Inval;
/// MMU_MACHPHYS_UPDATE of the hypervisor frame: -EINVAL (observed on Xen 4.17).
const MACHPHYS_ERRNO: Errno = Errno::Inval;
/// Pinning it as an L3: -EINVAL (observed on Xen 4.17).
const PIN_ERRNO: Errno = Errno::Inval;
/// clear_page of it: -EINVAL (observed on Xen 4.17).
const CLEAR_ERRNO: Errno = Errno::Inval;
/// copy_page from it into a frame of ours: -EINVAL (observed on Xen 4.17).
const COPY_ERRNO: Errno = Errno::Inval;
/// The L4 slot of the hypervisor's direct map (one of 256..=271).
const XEN_SLOT: usize = 262;
/// Pattern seed of our data page.
const SEED: u64 = 0x4F;

/// Runs the checks.
pub fn run(_ctx: &mut Context, report: &mut Report) {
    let setup = || -> Result<_, Detail> {
        let sentinel = Sentinel::new()?;
        let hv = foreign::hypervisor_frame()?;
        let l1 = pinned_empty(1)?;
        let l4 = pinned_empty(4)?;
        let [data] = take_frames::<1>()?;
        pattern::fill(W, data.mfn, SEED)?;
        Ok((sentinel, hv, l1.mfn, l4.mfn, data.mfn))
    };
    let (sentinel, hv, l1, l4, data) = match setup() {
        Ok(s) => s,
        Err(d) => {
            report.check("isolate.hypervisor_frame.setup", Err(d));
            return;
        }
    };
    report.check(
        "isolate.hypervisor_frame.map_read_only",
        refused("map read-only", try_map(hv, false), MAP_ERRNO),
    );
    report.check(
        "isolate.hypervisor_frame.map_writable",
        refused("map writable", try_map(hv, true), MAP_ERRNO),
    );
    report.check("isolate.hypervisor_frame.l1_entry", l1_entry(hv, l1));
    report.check("isolate.hypervisor_frame.as_l3", as_l3(hv, l4));
    report.check("isolate.hypervisor_frame.xen_slot", xen_slot(l4));
    report.check("isolate.hypervisor_frame.write_into", write_into(hv));
    report.check("isolate.hypervisor_frame.machphys", machphys(hv));
    report.check("isolate.hypervisor_frame.pin", pin(hv));
    report.check("isolate.hypervisor_frame.clear_page", clear(hv));
    report.check("isolate.hypervisor_frame.copy_page", copy(hv, data));
    report.check("isolate.hypervisor_frame.unharmed", sentinel.unharmed(0));
}

fn l1_entry(hv: u64, l1: u64) -> Outcome {
    let r = update(l1, 0, entry(hv, P | A))?;
    expect_refused(
        "mmu_update(L1 entry -> hypervisor frame)",
        r,
        L1_ENTRY_ERRNO,
        0,
    )?;
    expect_entry(R, l1, 0, 0)
}

fn as_l3(hv: u64, l4: u64) -> Outcome {
    let r = update(l4, TEST_SLOT, entry(hv, P | RW | U | A))?;
    expect_refused("mmu_update(L4 entry -> hypervisor L3)", r, AS_L3_ERRNO, 0)?;
    expect_entry(R, l4, TEST_SLOT, 0)
}

fn xen_slot(l4: u64) -> Outcome {
    let before = tables::read_entry(R, l4, XEN_SLOT)?;
    let Some(kernel) = memory::initial_l4_entry(511) else {
        fail!("initial L4 unreadable");
    };
    let r = update(l4, XEN_SLOT, kernel)?;
    expect_refused("mmu_update(hypervisor slot)", r, XEN_SLOT_ERRNO, 0)?;
    expect_entry(R, l4, XEN_SLOT, before)
}

fn write_into(hv: u64) -> Outcome {
    let r = update(hv, 0, 0)?;
    expect_refused(
        "mmu_update(entry of the hypervisor frame)",
        r,
        WRITE_INTO_ERRNO,
        0,
    )
}

fn machphys(hv: u64) -> Outcome {
    let before = frames::m2p(hv);
    let r = updates(&[MmuUpdate {
        ptr: (hv << 12) | MMU_MACHPHYS_UPDATE,
        val: 0x1234,
    }])?;
    expect_refused("machphys_update(hypervisor frame)", r, MACHPHYS_ERRNO, 0)?;
    let after = frames::m2p(hv);
    if after != before {
        fail!("M2P entry changed from {:?} to {:?}", before, after);
    }
    Ok(())
}

fn pin(hv: u64) -> Outcome {
    expect_refused("pin L3", tables::pin(3, hv)?, PIN_ERRNO, 0)
}

fn clear(hv: u64) -> Outcome {
    expect_refused("clear_page", tables::clear(hv)?, CLEAR_ERRNO, 0)
}

fn copy(hv: u64, data: u64) -> Outcome {
    let r = tables::mmuext(MmuextCmd::CopyPage, data, hv)?;
    expect_refused("copy_page(from the hypervisor frame)", r, COPY_ERRNO, 0)?;
    pattern::check(R, data, "our page", |i| pattern::word(SEED, i))?;
    expect_eq("done", u64::from(r.done), 0)
}
