//! A guest kernel's write to one of its read-only L1 page tables, emulated as a checked update.
//!
//! Xen 4.17 (`fixup_page_fault` in `arch/x86/traps.c`, `pv_ro_page_fault` in
//! `arch/x86/pv/ro-page-fault.c`): a page fault from guest kernel mode with the write and
//! present bits set (not reserved-bit, not instruction fetch) is tried as a page-table write
//! when the domain enabled VMASST_TYPE_writable_pagetables, or always for the hardware domain
//! (Xen 4.17.7 emulates Dom0's writes without the assist: checked with a probe guest). The
//! kernel's own page tables must map the faulting address read-only, to a frame that is an L1
//! table of the domain; the write must be naturally aligned and inside that page. The new
//! entry then goes through the same checks as mmu_update (`Mm::mod_entry`); if anything fails,
//! the guest gets its page fault.

use hypercall_abi::traps::{PFEC_INSN_FETCH, PFEC_PRESENT, PFEC_RESERVED, PFEC_WRITE};
use hypercall_abi::vm_assist::VMASST_TYPE_WRITABLE_PAGETABLES;
use xen_core::guest_regs::GuestRegs;
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::pte::pte_mfn;
use xen_core::trap::insn::{Seg, write_gpr};
use xen_core::trap::msr::{MSR_FS_BASE, MSR_GS_BASE};
use xen_core::trap::pte_write::{RFLAGS_ARITH, decode, extract, merge, write_allowed};

use super::fetch::instruction_bytes;
use crate::arch::x86_64::msr_safe::rdmsr_safe;
use crate::hypercall::update_va_mapping::find_l1e;
use crate::mm_glue::with_mm;

const PTE_PRESENT: u64 = 1 << 0;
const PTE_RW: u64 = 1 << 1;

/// Whether a page fault with `error` may be a page-table write Xen would emulate.
pub fn candidate(error: u64) -> bool {
    error & (PFEC_RESERVED | PFEC_INSN_FETCH) == 0
        && error & (PFEC_WRITE | PFEC_PRESENT) == PFEC_WRITE | PFEC_PRESENT
}

/// Emulates the write that faulted at `cr2`, if it is one Xen emulates. `Some(())`: done, RIP
/// advanced; `None`: the guest gets its page fault. Takes the hypervisor state itself, so the
/// caller must not hold it.
pub fn emulate(regs: &mut GuestRegs, cr2: u64) -> Option<()> {
    if !candidate(u64::from(regs.error_code)) {
        return None;
    }
    let (bytes, len) = instruction_bytes(regs);
    let write = decode(&bytes[..len])?;
    let seg_base = match write.segment {
        Some(Seg::Fs) => rdmsr_safe(MSR_FS_BASE)?,
        Some(Seg::Gs) => rdmsr_safe(MSR_GS_BASE)?,
        _ => 0,
    };
    let next_rip = regs.rip.wrapping_add(u64::from(write.len));
    let addr = seg_base.wrapping_add(write.mem.offset(regs, next_rip));
    if !write_allowed(addr, write.size, cr2) {
        return None;
    }
    with_mm(|mm, dom| {
        let assisted = dom.vm_assist & (1 << VMASST_TYPE_WRITABLE_PAGETABLES) != 0;
        if !dom.vcpu.kernel_mode || !(assisted || dom.is_hardware()) {
            return None;
        }
        // The kernel's mapping of the address: present, read-only, to one of its L1 tables.
        let (l1, slot) = find_l1e(mm, dom.id, dom.vcpu.kernel_l4, addr).ok()?;
        let pte = mm.mem.read(l1, slot);
        if pte & (PTE_PRESENT | PTE_RW) != PTE_PRESENT {
            return None;
        }
        let table = pte_mfn(pte);
        if mm.table_level(dom.id, table) != Some(1) {
            return None;
        }
        let index = ((addr & 0xfff) / 8) as usize;
        let offset = (addr & 7) as u8;
        let full = mm.mem.read(table, index);
        let outcome = write.apply(extract(full, offset, write.size), regs);
        if let Some(value) = outcome.store {
            let new = merge(full, offset, write.size, value);
            mm.mod_entry(dom.id, dom.id, table, index, new, false)
                .ok()?;
        }
        if let Some((reg, high8, value)) = outcome.load {
            write_gpr(regs, reg, write.size, high8, value);
        }
        if let Some(flags) = outcome.flags {
            regs.rflags = (regs.rflags & !RFLAGS_ARITH) | flags;
        }
        regs.advance_rip(u64::from(write.len));
        Some(())
    })
}
