//! isolate=dpl0_descriptor: descriptors with DPL 0 never give the guest ring 0.
// Through set_gdt and update_descriptor the guest offers code and data descriptors with DPL 0,
// a call gate into the hypervisor's code selector and a system (TSS) descriptor. Xen 4.17 does
// not refuse DPL 0 code and data descriptors: it raises their DPL to 3 in place. Gates to a
// selector that is not the guest's, and system descriptors, are refused.

use hypercall_abi::Errno;

use super::common::{R, Sentinel, W, refused, try_map};
use crate::arch::x86_64::descriptors;
use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::conform_mm::guest::{declined, take_frames};
use crate::conform_mm::tables::{expect_entry, write_frame};
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, Ret, expect_eq, fail};

/// Data segment, base 0, 4 GiB, read/write, accessed, DPL 0, present.
const DATA_DPL0: u64 = 0x00CF_9300_0000_FFFF;
/// 64-bit code segment, execute/read, accessed, DPL 0, present.
const CODE_DPL0: u64 = 0x00AF_9B00_0000_FFFF;
/// DPL field of a descriptor.
const DPL_MASK: u64 = 3 << 45;
/// A 64-bit call gate (type 0xC), DPL 0, present, to 0xe008:0x1000 (the hypervisor's ring-0
/// code selector in Xen's reserved GDT area); its upper half is zero.
const GATE_TO_RING0: u64 = 0x0000_8C00_E008_1000;
/// An available 64-bit TSS descriptor (type 9), DPL 0, present.
const TSS_DPL0: u64 = 0x0000_8900_0000_0067;

/// set_gdt with DPL 0 code and data descriptors: accepted (observed on Xen 4.17).
const SET_GDT_DPL0_RESULT: i64 = 0;
/// What set_gdt leaves in the frame for a DPL 0 descriptor: the same with DPL 3 (observed on
/// Xen 4.17, which fixes the DPL up in place).
const fn fixed_up(desc: u64) -> u64 {
    desc | DPL_MASK
}
/// update_descriptor with a DPL 0 data descriptor: accepted, stored with DPL 3 (observed on
/// Xen 4.17).
const UPDATE_DPL0_RESULT: i64 = 0;
/// update_descriptor with a call gate to the hypervisor's code selector: -EINVAL (observed on
/// Xen 4.17).
const UPDATE_GATE_ERRNO: Errno = Errno::Inval;
/// update_descriptor with a TSS descriptor: -EINVAL (observed on Xen 4.17).
const UPDATE_SYSTEM_ERRNO: Errno = Errno::Inval;
/// set_gdt with a frame holding such a gate: -EINVAL (observed on Xen 4.17).
const SET_GDT_GATE_ERRNO: Errno = Errno::Inval;
/// set_gdt with more entries than the guest part of the GDT holds: -EINVAL (observed on Xen
/// 4.17).
const SET_GDT_TOO_MANY_ERRNO: Errno = Errno::Inval;
/// Mapping a frame in use as GDT writable: -EBUSY (observed on Xen 4.17).
const GDT_RW_ERRNO: Errno = Errno::Busy;
/// Entries of the guest part of the GDT (FIRST_RESERVED_GDT_ENTRY).
const GUEST_GDT_ENTRIES: u64 = 14 * 512;

/// Selector (RPL 3) of GDT entry `index`.
const fn selector(index: u16) -> u16 {
    (index << 3) | 3
}

/// Runs the checks.
pub fn run(_ctx: &mut Context, report: &mut Report) {
    let setup = || -> Result<_, Detail> { Ok((Sentinel::new()?, take_frames::<3>()?)) };
    let (sentinel, [gdt, gated, plain]) = match setup() {
        Ok(s) => s,
        Err(d) => {
            report.check("isolate.dpl0_descriptor.setup", Err(d));
            return;
        }
    };
    report.check("isolate.dpl0_descriptor.set_gdt_fixes_dpl", set_gdt(gdt));
    report.check("isolate.dpl0_descriptor.selectors_dpl3", selectors());
    report.check(
        "isolate.dpl0_descriptor.gdt_not_writable",
        refused(
            "map the GDT frame writable",
            try_map(gdt.mfn, true),
            GDT_RW_ERRNO,
        ),
    );
    report.check("isolate.dpl0_descriptor.update_dpl0", update_dpl0(gdt, 3));
    report.check(
        "isolate.dpl0_descriptor.update_gate",
        update_refused(gdt, 4, GATE_TO_RING0, UPDATE_GATE_ERRNO),
    );
    report.check(
        "isolate.dpl0_descriptor.update_system",
        update_refused(gdt, 5, TSS_DPL0, UPDATE_SYSTEM_ERRNO),
    );
    report.check("isolate.dpl0_descriptor.set_gdt_gate", set_gdt_gate(gated));
    report.check(
        "isolate.dpl0_descriptor.set_gdt_too_many",
        set_gdt_too_many(gdt),
    );
    report.check("isolate.dpl0_descriptor.plain_page", update_dpl0(plain, 0));
    report.check("isolate.dpl0_descriptor.release", release(gdt));
    report.check("isolate.dpl0_descriptor.unharmed", sentinel.unharmed(0));
}

fn set_gdt(gdt: FreeFrame) -> Outcome {
    let contents = |i: usize| match i {
        1 => DATA_DPL0,
        2 => CODE_DPL0,
        _ => 0,
    };
    write_frame(W, gdt.mfn, contents)?;
    let ret = descriptors::set_gdt(&[gdt.mfn], 3).map_err(declined)?;
    if ret != SET_GDT_DPL0_RESULT {
        fail!("set_gdt returned {}", Ret(ret));
    }
    expect_entry(R, gdt.mfn, 1, fixed_up(DATA_DPL0))?;
    expect_entry(R, gdt.mfn, 2, fixed_up(CODE_DPL0))
}

/// What `lar` shows for a descriptor: its access-rights bytes (limit bits cleared).
const fn rights(desc: u64) -> u32 {
    ((desc >> 32) as u32) & 0x00F0_FF00
}

fn selectors() -> Outcome {
    for (index, desc) in [(1u16, DATA_DPL0), (2, CODE_DPL0)] {
        let got = descriptors::lar(selector(index)).unwrap_or(0);
        expect_eq("lar", u64::from(got), u64::from(rights(fixed_up(desc))))?;
    }
    if !descriptors::load_es(selector(1)) {
        fail!("loading the fixed-up data selector faulted");
    }
    Ok(())
}

/// update_descriptor with a DPL 0 data descriptor into entry `index` of `frame`.
fn update_dpl0(frame: FreeFrame, index: usize) -> Outcome {
    let maddr = frames::entry_maddr(frame.mfn, index);
    let ret = descriptors::update_descriptor(maddr, DATA_DPL0).map_err(declined)?;
    if ret != UPDATE_DPL0_RESULT {
        fail!("update_descriptor returned {}", Ret(ret));
    }
    expect_entry(R, frame.mfn, index, fixed_up(DATA_DPL0))
}

fn update_refused(gdt: FreeFrame, index: usize, desc: u64, errno: Errno) -> Outcome {
    let maddr = frames::entry_maddr(gdt.mfn, index);
    let ret = descriptors::update_descriptor(maddr, desc).map_err(declined)?;
    refused("update_descriptor", ret, errno)?;
    expect_entry(R, gdt.mfn, index, 0)
}

fn set_gdt_gate(gated: FreeFrame) -> Outcome {
    write_frame(W, gated.mfn, |i| if i == 1 { GATE_TO_RING0 } else { 0 })?;
    let ret = descriptors::set_gdt(&[gated.mfn], 3).map_err(declined)?;
    refused("set_gdt(gate to ring 0)", ret, SET_GDT_GATE_ERRNO)?;
    // The previous GDT is still in place.
    let got = descriptors::lar(selector(1)).unwrap_or(0);
    expect_eq(
        "lar after",
        u64::from(got),
        u64::from(rights(fixed_up(DATA_DPL0))),
    )?;
    let ret = try_map(gated.mfn, true);
    if ret != 0 {
        fail!("the refused frame cannot be mapped writable: {}", Ret(ret));
    }
    Ok(())
}

fn set_gdt_too_many(gdt: FreeFrame) -> Outcome {
    let frames = [gdt.mfn; 15];
    let ret = descriptors::set_gdt(&frames, GUEST_GDT_ENTRIES + 1).map_err(declined)?;
    refused("set_gdt(7169 entries)", ret, SET_GDT_TOO_MANY_ERRNO)
}

fn release(gdt: FreeFrame) -> Outcome {
    let ret = descriptors::set_gdt(&[], 0).map_err(declined)?;
    if ret != 0 {
        fail!("set_gdt(0 entries) returned {}", Ret(ret));
    }
    if descriptors::lar(selector(1)).is_some() {
        fail!("selector 0x0b still usable after the GDT was released");
    }
    let ret = try_map(gdt.mfn, true);
    if ret != 0 {
        fail!(
            "the released GDT frame cannot be mapped writable: {}",
            Ret(ret)
        );
    }
    Ok(())
}
