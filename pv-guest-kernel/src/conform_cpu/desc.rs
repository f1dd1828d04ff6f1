//! conform=desc: set_gdt, update_descriptor and set_ldt as Xen 4.17 answers them, and segment loads.
// The GDT and LDT are pool pages. Xen only takes a frame as a descriptor table when no
// writable mapping of it exists, so the checks map them read-only first (and read them back
// through that mapping). DS and ES are the registers loaded; they are null again afterwards.

use hypercall_abi::Errno;
use hypercall_abi::traps::{TRAP_GP_FAULT, TRAP_NO_SEGMENT, TRAP_PAGE_FAULT};

use super::expect::{At, Want, completed, faulted, matches, site_rip, take_one};
use crate::arch::x86_64::conform::capture;
use crate::arch::x86_64::conform::insn::Ran;
use crate::arch::x86_64::conform::pages::{self, Page};
use crate::arch::x86_64::conform::segments::{self, GDT_FRAME_LIST};
use crate::selftest::report::{Detail, Outcome, Report, expect_eq, expect_errno, expect_ret, fail};

/// Flat 4 GiB read/write data segment, DPL 3, accessed.
const DATA_DPL3: u64 = 0x00cf_f300_0000_ffff;
/// The same, not present.
const DATA_DPL3_NOT_PRESENT: u64 = 0x00cf_7300_0000_ffff;
/// 64-bit code segment, DPL 3.
const CODE64_DPL3: u64 = 0x00af_fb00_0000_ffff;
/// Flat data segment, DPL 0.
const DATA_DPL0: u64 = 0x00cf_9300_0000_ffff;
/// 64-bit code segment, DPL 0.
const CODE64_DPL0: u64 = 0x00af_9b00_0000_ffff;

/// Descriptors the guest GDT gets: 8 entries, the rest of the frame zero.
const GDT: [u64; 4] = [0, DATA_DPL3, DATA_DPL3_NOT_PRESENT, CODE64_DPL3];
/// The entry count given to set_gdt.
const GDT_ENTRIES: u64 = 8;
/// Selector of GDT entry 1 with RPL 3.
const SEL_DATA: u16 = (1 << 3) | 3;
/// Selector of GDT entry 2 (not present).
const SEL_NOT_PRESENT: u16 = (2 << 3) | 3;
/// Selector of GDT entry 10: inside the frame, beyond the 8 entries.
const SEL_BEYOND: u16 = (10 << 3) | 3;
/// GDT slots update_descriptor writes.
const SLOT_DATA: usize = 4;
const SLOT_DATA_DPL0: usize = 5;
const SLOT_CODE_DPL0: usize = 6;
const SLOT_SYSTEM: usize = 7;
/// Selector of an LDT entry (TI set).
const fn ldt_selector(index: u16) -> u16 {
    (index << 3) | 4 | 3
}
/// LDT entries given to set_ldt.
const LDT_ENTRIES: u64 = 2;

/// set_gdt with more entries than fit below the reserved ones (0x1c01): -EINVAL (observed
/// on Xen 4.17).
const TOO_MANY_ENTRIES_ERRNO: Errno = Errno::Inval;
/// set_gdt with a frame that is mapped writable: -EINVAL (observed on Xen 4.17).
const WRITABLE_FRAME_ERRNO: Errno = Errno::Inval;
/// Loading a selector beyond the GDT's entries: #GP with the selector (RPL cleared) as the
/// error code (observed on Xen 4.17).
const BEYOND_ERROR: u64 = (SEL_BEYOND & !3) as u64;
/// update_descriptor of a DPL-0 data descriptor: accepted (observed on Xen 4.17) ...
const DPL0_DATA_RET: i64 = 0;
/// ... and stored with its DPL raised to 3 (observed on Xen 4.17: Xen fixes up the DPL of
/// code and data descriptors below the guest kernel's ring).
const DPL0_DATA_STORED: u64 = DATA_DPL3;
/// update_descriptor of a DPL-0 64-bit code descriptor: accepted (observed on Xen 4.17) ...
const DPL0_CODE_RET: i64 = 0;
/// ... and stored with DPL 3 (observed on Xen 4.17).
const DPL0_CODE_STORED: u64 = CODE64_DPL3;
/// update_descriptor at an address that is not 8-byte aligned: -EINVAL (observed on Xen
/// 4.17).
const MISALIGNED_ERRNO: Errno = Errno::Inval;
/// update_descriptor into an ordinary writable page: accepted, the descriptor is written
/// (observed on Xen 4.17: the frame only has to take the writable type when it is not a
/// descriptor table).
const WRITABLE_PAGE_RET: i64 = 0;
/// An available 64-bit TSS descriptor (a system descriptor), DPL 0.
const TSS64: u64 = 0x0000_8900_0000_0067;
/// update_descriptor of a system descriptor other than a call gate: -EINVAL (observed on Xen
/// 4.17).
const SYSTEM_DESCRIPTOR_ERRNO: Errno = Errno::Inval;
/// Loading an LDT selector beyond the LDT's entries: #GP with the selector (RPL cleared).
const LDT_BEYOND_ERROR: u64 = (ldt_selector(2) & !3) as u64;
/// #PF error code when an LDT selector load finds the LDT page mapped writable: 0, the
/// CPU's supervisor read of a not-present descriptor page (observed on Xen 4.17, with CR2 the
/// guest's linear address of the entry).
const LDT_WRITABLE_PF_ERROR: u64 = 0;
/// set_ldt with a linear address that is not page aligned: -EINVAL (observed on Xen 4.17).
const LDT_UNALIGNED_ERRNO: Errno = Errno::Inval;
/// set_ldt with more than 8192 entries: -EINVAL (observed on Xen 4.17).
const LDT_TOO_MANY_ERRNO: Errno = Errno::Inval;

/// Runs the descriptor-table checks.
pub fn run(report: &mut Report) {
    report.check("desc.fill_gdt", fill_gdt());
    report.check("desc.set_gdt_too_many_entries", too_many_entries());
    report.check("desc.set_gdt_writable_frame", writable_frame());
    let installed = install_gdt();
    let ok = installed.is_ok();
    report.check("desc.set_gdt", installed);
    if !ok {
        return;
    }
    report.check("desc.load_gdt_selector", load_data());
    report.check(
        "desc.load_not_present",
        load_fault(
            SEL_NOT_PRESENT,
            TRAP_NO_SEGMENT,
            u64::from(SEL_NOT_PRESENT & !3),
        ),
    );
    report.check(
        "desc.load_beyond_entries",
        load_fault(SEL_BEYOND, TRAP_GP_FAULT, BEYOND_ERROR),
    );
    report.check("desc.update_descriptor", update_data());
    report.check(
        "desc.update_descriptor_dpl0_data",
        update_fixed(SLOT_DATA_DPL0, DATA_DPL0, DPL0_DATA_RET, DPL0_DATA_STORED),
    );
    report.check(
        "desc.update_descriptor_dpl0_code",
        update_fixed(SLOT_CODE_DPL0, CODE64_DPL0, DPL0_CODE_RET, DPL0_CODE_STORED),
    );
    report.check("desc.update_descriptor_misaligned", misaligned());
    report.check("desc.update_descriptor_system", update_system());
    report.check("desc.update_descriptor_writable_page", update_writable());
    report.check("desc.set_ldt", set_ldt());
    report.check(
        "desc.set_ldt_unaligned",
        ldt_refused(Page::Ldt.va() + 8, 1, LDT_UNALIGNED_ERRNO),
    );
    report.check(
        "desc.set_ldt_too_many",
        ldt_refused(Page::Ldt.va(), 8193, LDT_TOO_MANY_ERRNO),
    );
    report.check("desc.ldt_in_writable_page", ldt_writable());
    report.check("desc.clear_ldt", clear_ldt());
}

fn fill_gdt() -> Outcome {
    for (i, d) in GDT.iter().enumerate() {
        if !Page::Gdt.write(i, *d) {
            fail!("cannot write GDT entry {}", i);
        }
    }
    Ok(())
}

fn frames() -> Result<[u64; GDT_FRAME_LIST], Detail> {
    let Some(mfn) = Page::Gdt.mfn() else {
        return Err(Detail::new(format_args!("no frame for the GDT page")));
    };
    let mut list = [0u64; GDT_FRAME_LIST];
    list[0] = mfn;
    Ok(list)
}

fn too_many_entries() -> Outcome {
    let list = frames()?;
    expect_errno(
        "set_gdt(0x1c01 entries)",
        segments::set_gdt(&list, 0x1c01),
        TOO_MANY_ENTRIES_ERRNO,
    )
}

fn writable_frame() -> Outcome {
    let list = frames()?;
    expect_errno(
        "set_gdt(writable frame)",
        segments::set_gdt(&list, GDT_ENTRIES),
        WRITABLE_FRAME_ERRNO,
    )
}

fn install_gdt() -> Outcome {
    expect_ret("remap GDT read-only", Page::Gdt.remap(pages::PTE_RO), 0)?;
    let list = frames()?;
    expect_ret("set_gdt", segments::set_gdt(&list, GDT_ENTRIES), 0)?;
    for (i, d) in GDT.iter().enumerate() {
        expect_eq("GDT entry read back", Page::Gdt.read(i).unwrap_or(0), *d)?;
    }
    Ok(())
}

fn load_data() -> Outcome {
    capture::clear();
    let ran = segments::load_ds(SEL_DATA);
    let (ds, _) = segments::data_selectors();
    segments::null_data_segments();
    completed(&ran)?;
    expect_eq("ds", u64::from(ds), u64::from(SEL_DATA))
}

fn load_fault(selector: u16, vector: u8, error: u64) -> Outcome {
    capture::clear();
    let ran = segments::load_ds(selector);
    segments::null_data_segments();
    expect_load_fault(&ran, vector, error)
}

fn expect_load_fault(ran: &Ran<()>, vector: u8, error: u64) -> Outcome {
    faulted(ran)?;
    let t = take_one()?;
    matches(
        &t,
        &Want::kernel(vector, Some(error), site_rip(ran.site, At::Insn)),
    )
}

fn update_data() -> Outcome {
    let ret = segments::update_descriptor(Page::Gdt, (SLOT_DATA * 8) as u64, DATA_DPL3);
    expect_ret("update_descriptor", ret, 0)?;
    expect_eq(
        "entry read back",
        Page::Gdt.read(SLOT_DATA).unwrap_or(0),
        DATA_DPL3,
    )?;
    capture::clear();
    let ran = segments::load_es(((SLOT_DATA as u16) << 3) | 3);
    segments::null_data_segments();
    completed(&ran)?;
    Ok(())
}

fn update_fixed(slot: usize, descriptor: u64, want_ret: i64, stored: u64) -> Outcome {
    let ret = segments::update_descriptor(Page::Gdt, (slot * 8) as u64, descriptor);
    expect_ret("update_descriptor", ret, want_ret)?;
    expect_eq("entry read back", Page::Gdt.read(slot).unwrap_or(0), stored)?;
    let selector = ((slot as u16) << 3) | 3;
    match segments::lar(selector) {
        Some(rights) => expect_eq("DPL (lar)", u64::from((rights >> 13) & 3), 3),
        None => fail!("lar {:#x} failed", selector),
    }
}

fn misaligned() -> Outcome {
    let ret = segments::update_descriptor(Page::Gdt, (SLOT_DATA * 8 + 4) as u64, DATA_DPL3);
    expect_errno("update_descriptor(misaligned)", ret, MISALIGNED_ERRNO)
}

fn update_writable() -> Outcome {
    let ret = segments::update_descriptor(Page::Writable, 0, DATA_DPL3);
    expect_ret("update_descriptor(writable page)", ret, WRITABLE_PAGE_RET)?;
    expect_eq(
        "word written",
        Page::Writable.read(0).unwrap_or(0),
        DATA_DPL3,
    )
}

fn update_system() -> Outcome {
    let before = Page::Gdt.read(SLOT_SYSTEM);
    let ret = segments::update_descriptor(Page::Gdt, (SLOT_SYSTEM * 8) as u64, TSS64);
    expect_errno("update_descriptor(TSS)", ret, SYSTEM_DESCRIPTOR_ERRNO)?;
    if Page::Gdt.read(SLOT_SYSTEM) != before {
        fail!("the refused update changed the entry");
    }
    Ok(())
}

fn set_ldt() -> Outcome {
    for i in 0..LDT_ENTRIES as usize {
        if !Page::Ldt.write(i, DATA_DPL3) {
            fail!("cannot write LDT entry {}", i);
        }
    }
    expect_ret("remap LDT read-only", Page::Ldt.remap(pages::PTE_RO), 0)?;
    let (ret, done) = segments::set_ldt(Page::Ldt.va(), LDT_ENTRIES);
    expect_ret("set_ldt", ret, 0)?;
    expect_eq("pdone", u64::from(done), 1)?;
    capture::clear();
    let ran = segments::load_es(ldt_selector(0));
    let (_, es) = segments::data_selectors();
    segments::null_data_segments();
    completed(&ran)?;
    expect_eq("es", u64::from(es), u64::from(ldt_selector(0)))?;
    capture::clear();
    let ran = segments::load_es(ldt_selector(2));
    segments::null_data_segments();
    expect_load_fault(&ran, TRAP_GP_FAULT, LDT_BEYOND_ERROR)
}

fn ldt_refused(linear: u64, entries: u64, errno: Errno) -> Outcome {
    let (ret, done) = segments::set_ldt(linear, entries);
    expect_errno("set_ldt", ret, errno)?;
    expect_eq("pdone", u64::from(done), 0)?;
    Ok(())
}

fn clear_ldt() -> Outcome {
    let (ret, done) = segments::set_ldt(0, 0);
    expect_ret("set_ldt(0, 0)", ret, 0)?;
    expect_eq("pdone", u64::from(done), 1)?;
    capture::clear();
    let ran = segments::load_es(ldt_selector(0));
    segments::null_data_segments();
    if ran.faulted() {
        let t = take_one()?;
        return matches(
            &t,
            &Want::kernel(
                TRAP_GP_FAULT,
                Some(u64::from(ldt_selector(0) & !3)),
                ran.site.insn,
            ),
        );
    }
    fail!("an LDT selector still loads after set_ldt(0, 0)")
}

/// set_ldt on a page that is mapped writable is accepted (Xen maps LDT pages lazily); the
/// first load of an LDT selector then cannot map it, and Xen passes the guest a #PF on the
/// LDT entry's linear address.
fn ldt_writable() -> Outcome {
    if Page::Writable.read(0) != Some(DATA_DPL3) && !Page::Writable.write(0, DATA_DPL3) {
        fail!("cannot write the writable page");
    }
    let (ret, done) = segments::set_ldt(Page::Writable.va(), 1);
    expect_ret("set_ldt(writable page)", ret, 0)?;
    expect_eq("pdone", u64::from(done), 1)?;
    capture::clear();
    let ran = segments::load_es(ldt_selector(0));
    segments::null_data_segments();
    faulted(&ran)?;
    let t = take_one()?;
    matches(
        &t,
        &Want::kernel(TRAP_PAGE_FAULT, Some(LDT_WRITABLE_PF_ERROR), ran.site.insn),
    )?;
    expect_eq("cr2", t.cr2.unwrap_or(0), Page::Writable.va())
}
