//! update_va_mapping(_otherdomain): the guest changes one L1 entry of its current address space.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::mmu::UvmScope;
use hypercall_abi::mmu::{PteFlags, UVMF_FLUSHTYPE_MASK, UVMF_INVLPG, UVMF_TLB_FLUSH, decode_uvmf};
use xen_core::layout::table_index;
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::page_type::Mm;
use xen_core::mm::pte::pte_mfn;

use super::foreign;
use crate::arch::x86_64::cpu;
use crate::arch::x86_64::uaccess::read_guest;
use crate::hypervisor::with_state;
use crate::mm_glue::with_mm;

/// The L1 table and index mapping `va` under the L4 `l4`, walking only validated page tables of
/// `dom`. Xen's answer for a va with no L1 table is -EINVAL.
pub fn find_l1e<M: PageMemory>(
    mm: &Mm<'_, M>,
    dom: DomId,
    l4: u64,
    va: u64,
) -> Result<(u64, usize), Errno> {
    let mut table = l4;
    for level in (2..=4u32).rev() {
        if mm.table_level(dom, table) != Some(level as u8) {
            return Err(Errno::Inval);
        }
        let entry = mm.mem.read(table, table_index(va, level));
        let flags = PteFlags::from_bits_retain(entry);
        if !flags.contains(PteFlags::PRESENT) || flags.contains(PteFlags::PSE) {
            return Err(Errno::Inval);
        }
        table = pte_mfn(entry);
    }
    if mm.table_level(dom, table) != Some(1) {
        return Err(Errno::Inval);
    }
    Ok((table, table_index(va, 1)))
}

/// Handles update_va_mapping(va, new_pte, flags).
pub fn update_va_mapping(va: u64, value: u64, flags: u64) -> Result<u64, Errno> {
    update(va, value, flags, None)
}

/// Handles update_va_mapping_otherdomain(va, new_pte, flags, domid): the frame mapped belongs
/// to `domid`.
pub fn update_va_mapping_otherdomain(
    va: u64,
    value: u64,
    flags: u64,
    domid: u64,
) -> Result<u64, Errno> {
    let pg_owner = with_state(|st| foreign::page_owner(&st, domid as u16))?;
    update(va, value, flags, Some(pg_owner))
}

fn update(va: u64, value: u64, flags: u64, pg_owner: Option<DomId>) -> Result<u64, Errno> {
    // Flush type 3 is no flush at all in Xen; decode_uvmf's stricter reading is not used here.
    let flush_type = flags & UVMF_FLUSHTYPE_MASK;
    let scope = decode_uvmf(flags & !UVMF_FLUSHTYPE_MASK).map(|(_, s)| s)?;
    let result = if guest_range_ok(va, 1) {
        with_mm(|mm, dom| {
            let (table, index) = find_l1e(mm, dom.id, dom.vcpu.current_l4(), va)?;
            mm.mod_entry(
                dom.id,
                pg_owner.unwrap_or(dom.id),
                table,
                index,
                value,
                false,
            )
            .map(|_| 0)
        })
    } else {
        Err(Errno::Inval)
    };
    // Xen flushes whatever the outcome, and reads the vCPU mask only when it flushes.
    if flush_type == UVMF_TLB_FLUSH || flush_type == UVMF_INVLPG {
        if let UvmScope::Multi(mask) = scope {
            read_guest::<u64>(mask)?;
        }
        if flush_type == UVMF_TLB_FLUSH {
            cpu::flush_tlb_global();
        } else {
            cpu::invlpg(va);
        }
    }
    result
}
