//! mmu_update: checked writes of page-table entries and M2P entries, in batches.

use hypercall_abi::Errno;
use hypercall_abi::mmu::{MmuRequest, MmuUpdate, decode_foreigndom, decode_mmu_update};
use xen_core::mm::frame_table::PageType;
use xen_core::mm::page_memory::PageMemory;

use super::{batch, foreign};
use crate::hypervisor::with_state;
use crate::mm_glue::with_mm;

/// Handles mmu_update(reqs, count, pdone, foreigndom): applies the requests in order, stops at
/// the first error and reports in `*pdone` how many took effect, as Xen does.
pub fn mmu_update(reqs: u64, count: u64, pdone: u64, foreigndom: u64) -> Result<u64, Errno> {
    let count = batch::check::<MmuUpdate>(reqs, count)?;
    let owners = decode_foreigndom(foreigndom as u32);
    let (pt_owner, pg_owner) = with_state(|st| {
        let self_id = st.dom.id;
        // Another domain's page tables are never written directly: a builder writes a new
        // domain's tables as ordinary pages, before they are pinned.
        let pt_owner = match owners.pt_owner {
            None => self_id,
            Some(id) if id == self_id => self_id,
            Some(_) => return Err(Errno::Srch),
        };
        Ok((pt_owner, foreign::page_owner(&st, owners.pg_owner)?))
    })?;

    batch::run(reqs, count, pdone, |req: MmuUpdate| {
        apply(decode_mmu_update(req)?, pt_owner, pg_owner)
    })
}

fn apply(req: MmuRequest, pt_owner: u16, pg_owner: u16) -> Result<(), Errno> {
    match req {
        MmuRequest::PtUpdate {
            table,
            index,
            value,
            preserve_ad,
        } => with_mm(|mm, _| {
            mm.get_page(table, pt_owner)?;
            let result = match mm.table_level(pt_owner, table) {
                // Upper levels may only point at the page-table owner's own tables.
                Some(level) if level > 1 && pg_owner != pt_owner => Err(Errno::Inval),
                Some(_) => mm
                    .mod_entry(pt_owner, pg_owner, table, index, value, preserve_ad)
                    .map(|_| ()),
                // Not a page table: Xen writes the word like any store to a writable page.
                None => match mm.get_page_type(table, pt_owner, PageType::Writable) {
                    Ok(()) => {
                        mm.mem.write(table, index, value);
                        mm.put_page_type(table);
                        Ok(())
                    }
                    Err(_) => Err(Errno::Inval),
                },
            };
            mm.put_page(table);
            result
        }),
        MmuRequest::MachPhys { mfn, pfn } => {
            // The frame must be the page owner's; the reference only lasts for the check since
            // nothing else runs while xen-core handles the call.
            with_mm(|mm, _| {
                mm.get_page(mfn, pg_owner)?;
                mm.put_page(mfn);
                Ok(())
            })?;
            with_state(|mut st| st.set_m2p(mfn, pfn));
            Ok(())
        }
    }
}
