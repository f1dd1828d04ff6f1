//! A vCPU's GDT and LDT: set_gdt, update_descriptor, mmuext set_ldt, and LDT pages mapped on
//! first use (rules and Xen 4.17 facts in `xen_core::desc_tables`).

use hypercall_abi::Errno;
use hypercall_abi::layout::is_canonical;
use hypercall_abi::traps::{PFEC_USER, TRAP_GP_FAULT, TRAP_PAGE_FAULT};
use xen_core::desc_tables::{
    AreaFault, GDT_AREA_BASE, LDT_AREA_BASE, MAX_GDT_FRAMES, PERVCPU_AREA_END, area_fault,
    check_set_ldt, gdt_frames_for, ldt_selector_error,
};
use xen_core::guest_regs::GuestRegs;
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::descriptor::check_descriptor;
use xen_core::mm::frame_table::PageType;
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::page_type::Mm;
use xen_core::mm::pte::pte_mfn;

use crate::arch::x86_64::gdt;
use crate::arch::x86_64::uaccess::read_guest;
use crate::domain::Domain;
use crate::guest_trap::bounce;
use crate::hypercall::dispatch::Exit;
use crate::hypercall::update_va_mapping::find_l1e;
use crate::mm_glue::with_mm;

/// Handles set_gdt(frame_list, entries): the new frames are typed as descriptor pages (every
/// descriptor checked) before the old ones are released; -EINVAL for too many entries or a
/// frame that is not the caller's or cannot take the type (mapped writable, a page table).
pub fn set_gdt(frame_list: u64, entries: u64) -> Result<u64, Errno> {
    // Xen takes `entries` as an unsigned int.
    let entries = u64::from(entries as u32);
    let count = gdt_frames_for(entries)?;
    let mut frames = [0u64; MAX_GDT_FRAMES];
    for (i, frame) in frames.iter_mut().take(count).enumerate() {
        let at = frame_list.checked_add(i as u64 * 8).ok_or(Errno::Fault)?;
        *frame = read_guest::<u64>(at)?;
    }
    with_mm(|mm, dom| install_gdt(mm, dom, &frames[..count], entries))?;
    Ok(0)
}

fn install_gdt<M: PageMemory>(
    mm: &mut Mm<'_, M>,
    dom: &mut Domain,
    frames: &[u64],
    entries: u64,
) -> Result<(), Errno> {
    for (i, &mfn) in frames.iter().enumerate() {
        if mm
            .get_page_and_type(mfn, dom.id, PageType::SegDesc)
            .is_err()
        {
            for &taken in &frames[..i] {
                mm.put_page_and_type(taken);
            }
            return Err(Errno::Inval);
        }
    }
    destroy_gdt(mm, dom);
    let desc = &mut dom.vcpu.desc;
    for (i, &mfn) in frames.iter().enumerate() {
        desc.gdt_frames[i] = mfn;
        gdt::map_gdt_page(i, Some(mfn));
    }
    desc.gdt_frame_count = frames.len();
    desc.gdt_entries = entries;
    Ok(())
}

/// Unmaps the vCPU's GDT frames and drops their references (set_gdt, domain teardown).
pub fn destroy_gdt<M: PageMemory>(mm: &mut Mm<'_, M>, dom: &mut Domain) {
    let desc = &mut dom.vcpu.desc;
    let count = desc.gdt_frame_count.min(MAX_GDT_FRAMES);
    for (i, &mfn) in desc.gdt_frames[..count].iter().enumerate() {
        gdt::map_gdt_page(i, None);
        mm.put_page_and_type(mfn);
    }
    desc.gdt_frame_count = 0;
    desc.gdt_entries = 0;
}

/// Drops the references a vCPU that is not running holds on its GDT frames and mapped LDT
/// pages (domain teardown); the per-vCPU area shows the running vCPU's and is left alone.
pub fn release_refs<M: PageMemory>(mm: &mut Mm<'_, M>, dom: &mut Domain) {
    let desc = &mut dom.vcpu.desc;
    let count = desc.gdt_frame_count.min(MAX_GDT_FRAMES);
    for &mfn in &desc.gdt_frames[..count] {
        mm.put_page_and_type(mfn);
    }
    desc.gdt_frame_count = 0;
    desc.gdt_entries = 0;
    for slot in desc.ldt_mapped.iter_mut() {
        if let Some(mfn) = slot.take() {
            mm.put_page_and_type(mfn);
        }
    }
}

/// Handles update_descriptor(maddr, desc): one checked descriptor written at machine address
/// `maddr` (8-byte aligned) of a frame of the caller's that is a descriptor page or can be
/// written (Xen takes a writable type reference for the write). -EINVAL otherwise.
pub fn update_descriptor(maddr: u64, desc: u64) -> Result<u64, Errno> {
    if !maddr.is_multiple_of(8) {
        return Err(Errno::Inval);
    }
    let desc = check_descriptor(desc, None).ok_or(Errno::Inval)?;
    let mfn = maddr / PAGE_SIZE;
    let index = ((maddr % PAGE_SIZE) / 8) as usize;
    with_mm(|mm, dom| {
        mm.get_page(mfn, dom.id).map_err(|_| Errno::Inval)?;
        let ty = match mm.frames.get(mfn).map(|f| f.page_type) {
            Some(PageType::SegDesc) => PageType::SegDesc,
            _ => PageType::Writable,
        };
        if mm.get_page_type(mfn, dom.id, ty).is_err() {
            mm.put_page(mfn);
            return Err(Errno::Inval);
        }
        mm.mem.write(mfn, index, desc);
        mm.put_page_type(mfn);
        mm.put_page(mfn);
        Ok(0)
    })
}

/// mmuext set_ldt(linear_base, entries) for the calling vCPU, inside the caller's `with_mm`:
/// -EINVAL for a misaligned base, one in the hypervisor range, or more than 8192 entries (the
/// base of an empty LDT is ignored).
/// A new LDT starts with no page mapped; pages map on first use.
pub fn set_ldt<M: PageMemory>(
    mm: &mut Mm<'_, M>,
    dom: &mut Domain,
    linear_base: u64,
    entries: u64,
) -> Result<(), Errno> {
    // Xen takes the count as an unsigned int, and ignores the base of an empty LDT.
    let entries = u64::from(entries as u32);
    let linear_base = if entries == 0 { 0 } else { linear_base };
    check_set_ldt(linear_base, entries)?;
    let desc = &dom.vcpu.desc;
    if desc.ldt_base == linear_base && desc.ldt_entries == entries {
        return Ok(());
    }
    destroy_ldt(mm, dom);
    dom.vcpu.desc.ldt_base = linear_base;
    dom.vcpu.desc.ldt_entries = entries;
    gdt::load_ldt(entries);
    Ok(())
}

/// Unmaps the LDT pages mapped so far and drops their references (set_ldt, teardown).
pub fn destroy_ldt<M: PageMemory>(mm: &mut Mm<'_, M>, dom: &mut Domain) {
    for (page, slot) in dom.vcpu.desc.ldt_mapped.iter_mut().enumerate() {
        if let Some(mfn) = slot.take() {
            gdt::map_ldt_page(page, None);
            mm.put_page_and_type(mfn);
        }
    }
}

/// Maps the guest page behind LDT byte `offset`, if its kernel page tables map it present and
/// it can be a descriptor page.
fn map_ldt_page<M: PageMemory>(mm: &mut Mm<'_, M>, dom: &mut Domain, offset: u64) -> bool {
    let page = (offset / PAGE_SIZE) as usize;
    let Some(slot) = dom.vcpu.desc.ldt_mapped.get(page).copied() else {
        return false;
    };
    if let Some(mfn) = slot {
        // Mapped already: the fault came from a stale translation.
        gdt::map_ldt_page(page, Some(mfn));
        return true;
    }
    let linear = dom
        .vcpu
        .desc
        .ldt_base
        .wrapping_add(offset & !(PAGE_SIZE - 1));
    if !is_canonical(linear) {
        return false;
    }
    let Ok((l1, index)) = find_l1e(mm, dom.id, dom.vcpu.kernel_l4, linear) else {
        return false;
    };
    let pte = mm.mem.read(l1, index);
    if pte & 1 == 0 {
        return false;
    }
    let mfn = pte_mfn(pte);
    if mm
        .get_page_and_type(mfn, dom.id, PageType::SegDesc)
        .is_err()
    {
        return false;
    }
    dom.vcpu.desc.ldt_mapped[page] = Some(mfn);
    gdt::map_ldt_page(page, Some(mfn));
    true
}

/// A page fault at `cr2` in the vCPU's descriptor-table area, taken by the guest (loading an
/// LDT selector). Maps the LDT page and resumes, or delivers what Xen delivers: the page fault
/// with CR2 moved into the guest's LDT, or #GP(selector) if that address is not canonical.
/// `None` when `cr2` is outside the area. Takes the hypervisor state itself.
pub fn area_page_fault(regs: &mut GuestRegs, cr2: u64) -> Option<Exit> {
    if !(GDT_AREA_BASE..PERVCPU_AREA_END).contains(&cr2) {
        return None;
    }
    with_mm(|mm, dom| {
        let offset = match area_fault(cr2, dom.vcpu.desc.ldt_entries)? {
            AreaFault::Gdt => {
                // Every GDT page is mapped; treat it as Xen does, as a #GP on the selector.
                let error = (cr2 & 0xfff8) as u16;
                return Some(bounce(dom, regs, TRAP_GP_FAULT, Some(u64::from(error))));
            }
            AreaFault::Ldt { offset } => {
                if map_ldt_page(mm, dom, offset) {
                    return Some(Exit::Iret);
                }
                offset
            }
            AreaFault::BeyondLdt => cr2 - LDT_AREA_BASE,
        };
        let linear = dom.vcpu.desc.ldt_base.wrapping_add(offset);
        if !is_canonical(linear) {
            let error = ldt_selector_error(offset);
            return Some(bounce(dom, regs, TRAP_GP_FAULT, Some(error)));
        }
        let mut error = u64::from(regs.error_code) & !PFEC_USER;
        if !dom.vcpu.kernel_mode {
            error |= PFEC_USER;
        }
        dom.vcpu.cr2 = linear;
        dom.set_cr2(linear);
        Some(bounce(dom, regs, TRAP_PAGE_FAULT, Some(error)))
    })
}
