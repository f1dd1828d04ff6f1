//! update_va_mapping: the guest changes one L1 entry of its current address space.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::mmu::{PteFlags, UvmFlush, UvmScope, decode_uvmf};
use xen_core::layout::{PAGE_SIZE, table_index};
use xen_core::mm::frame_table::FrameTable;
use xen_core::mm::pte::{L1Entry, check_l1e, pte_mfn};

use crate::arch::x86_64::uaccess::read_guest;
use crate::arch::x86_64::{cpu, direct_map};
use crate::hypervisor::with_state;

/// Machine address of the L1 entry mapping `va` under the L4 `l4_mfn`, walking only page-table
/// frames of `dom`. Xen's answer for a va with no L1 table is -EINVAL as well.
pub fn l1e_maddr(frames: &FrameTable<'_>, dom: DomId, l4_mfn: u64, va: u64) -> Result<u64, Errno> {
    let mut table = l4_mfn;
    for level in (2..=4u32).rev() {
        let entry = direct_map::read_u64(table * PAGE_SIZE + table_index(va, level) as u64 * 8);
        let flags = PteFlags::from_bits_retain(entry);
        if !flags.contains(PteFlags::PRESENT) || flags.contains(PteFlags::PSE) {
            return Err(Errno::Inval);
        }
        table = pte_mfn(entry);
        if !frames.is_page_table(dom, table, (level - 1) as u8) {
            return Err(Errno::Inval);
        }
    }
    Ok(table * PAGE_SIZE + table_index(va, 1) as u64 * 8)
}

/// Handles update_va_mapping(va, new_pte, flags).
pub fn update_va_mapping(va: u64, value: u64, flags: u64) -> Result<u64, Errno> {
    // Decode: everything is checked before anything changes.
    let (flush, scope) = decode_uvmf(flags)?;
    if !guest_range_ok(va, 1) {
        return Err(Errno::Inval);
    }
    if let UvmScope::Multi(mask) = scope {
        // One vCPU: the mask can only name us, but it must be readable, as in Xen.
        read_guest::<u64>(mask)?;
    }
    with_state(|st| {
        apply(
            st.frames,
            st.dom.id,
            st.dom.vcpu.current_l4(),
            va,
            value,
            flush,
        )
    })
}

/// Checks the new entry against the frame table and writes it.
fn apply(
    frames: &mut FrameTable<'_>,
    dom: DomId,
    l4: u64,
    va: u64,
    value: u64,
    flush: UvmFlush,
) -> Result<u64, Errno> {
    let slot = l1e_maddr(frames, dom, l4, va)?;
    let new = check_l1e(frames, dom, value)?;

    // Act.
    if let L1Entry::Frame {
        mfn,
        writable: true,
        ..
    } = new
    {
        frames.get_writable(mfn)?;
    }
    let old = direct_map::read_u64(slot);
    let old_flags = PteFlags::from_bits_retain(old);
    if old_flags.contains(PteFlags::PRESENT | PteFlags::RW) {
        frames.put_writable(pte_mfn(old));
    }
    direct_map::write_u64(slot, new.value());
    // Always drop the old translation: a stale writable TLB entry would outlive the type
    // bookkeeping just done.
    cpu::invlpg(va);
    if flush == UvmFlush::TlbFlush {
        cpu::flush_tlb();
    }
    Ok(0)
}
