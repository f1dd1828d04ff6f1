//! mmuext_op: pinning, page-table roots, TLB and cache maintenance, page clear and copy.

use hypercall_abi::Errno;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::mmu::{MmuextCmd, MmuextOp};
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::frame_table::PageType;
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::page_type::Mm;

use super::{batch, foreign};
use crate::arch::x86_64::uaccess::read_guest;
use crate::arch::x86_64::{cpu, direct_map, paging};
use crate::domain::Domain;
use crate::hypervisor::with_state;
use crate::mm_glue::{with_mm, with_mm_on};
use hypercall_abi::domid::{DOMID_IO, DOMID_XEN};

/// Most LDT entries a guest may ask for (Xen's limit).
const MAX_LDT_ENTRIES: u64 = 8192;

/// A decoded, argument-checked mmuext op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    Pin { mfn: u64, level: u8 },
    Unpin { mfn: u64 },
    NewBaseptr { mfn: u64 },
    NewUserBaseptr { mfn: u64 },
    FlushTlb,
    Invlpg { va: u64 },
    FlushCache { global: bool },
    SetLdt { base: u64, entries: u64 },
    ClearPage { mfn: u64 },
    CopyPage { dst: u64, src: u64 },
}

/// Decodes `op`; a bad vCPU mask is -EINVAL as in Xen.
fn decode(op: &MmuextOp) -> Result<Request, Errno> {
    let mask_ok = |ptr: u64| read_guest::<u64>(ptr).map_err(|_| Errno::Inval);
    Ok(match MmuextCmd::try_from(op.cmd)? {
        MmuextCmd::PinL1Table => Request::Pin {
            mfn: op.arg1,
            level: 1,
        },
        MmuextCmd::PinL2Table => Request::Pin {
            mfn: op.arg1,
            level: 2,
        },
        MmuextCmd::PinL3Table => Request::Pin {
            mfn: op.arg1,
            level: 3,
        },
        MmuextCmd::PinL4Table => Request::Pin {
            mfn: op.arg1,
            level: 4,
        },
        MmuextCmd::Unpin => Request::Unpin { mfn: op.arg1 },
        MmuextCmd::NewBaseptr => Request::NewBaseptr { mfn: op.arg1 },
        MmuextCmd::NewUserBaseptr => Request::NewUserBaseptr { mfn: op.arg1 },
        MmuextCmd::TlbFlushLocal | MmuextCmd::TlbFlushAll => Request::FlushTlb,
        MmuextCmd::TlbFlushMulti => {
            mask_ok(op.arg2)?;
            Request::FlushTlb
        }
        MmuextCmd::InvlpgLocal | MmuextCmd::InvlpgAll => Request::Invlpg { va: op.arg1 },
        MmuextCmd::InvlpgMulti => {
            mask_ok(op.arg2)?;
            Request::Invlpg { va: op.arg1 }
        }
        MmuextCmd::FlushCache => Request::FlushCache { global: false },
        MmuextCmd::FlushCacheGlobal => Request::FlushCache { global: true },
        MmuextCmd::SetLdt => {
            let entries = op.arg2 & 0xFFFF_FFFF;
            let base = if entries == 0 { 0 } else { op.arg1 };
            if base % PAGE_SIZE != 0 || !guest_range_ok(base, 1) || entries > MAX_LDT_ENTRIES {
                return Err(Errno::Inval);
            }
            Request::SetLdt { base, entries }
        }
        MmuextCmd::ClearPage => Request::ClearPage { mfn: op.arg1 },
        MmuextCmd::CopyPage => Request::CopyPage {
            dst: op.arg1,
            src: op.arg2,
        },
        // Superpage marking went away from Xen along with PV superpages.
        MmuextCmd::MarkSuper | MmuextCmd::UnmarkSuper => return Err(Errno::OpNotSupp),
    })
}

/// Switches the vCPU's kernel page tables to L4 `mfn` (Xen's `new_guest_cr3`, for mmuext
/// new_baseptr and an emulated `mov` to CR3): the frame must take the L4 type; the LDT's
/// mapped pages, found through the old tables, are dropped; guest user mappings are global
/// (as in Xen), so the whole TLB goes.
pub fn new_guest_cr3<M: PageMemory>(
    mm: &mut Mm<'_, M>,
    dom: &mut Domain,
    mfn: u64,
) -> Result<(), Errno> {
    let old = dom.vcpu.kernel_l4;
    if mfn != old {
        mm.get_page_and_type(mfn, dom.id, PageType::PageTable(4))?;
        crate::descriptors::destroy_ldt(mm, dom);
        dom.vcpu.kernel_l4 = mfn;
        if old != 0 {
            mm.put_page_and_type(old);
        }
    }
    paging::load_guest_l4(mfn);
    cpu::flush_tlb_global();
    Ok(())
}

fn act(req: Request) -> Result<(), Errno> {
    match req {
        Request::Pin { mfn, level } => with_mm(|mm, dom| mm.pin(dom.id, mfn, level)),
        Request::Unpin { mfn } => with_mm(|mm, dom| mm.unpin(dom.id, mfn)),
        Request::NewBaseptr { mfn } => with_mm(|mm, dom| new_guest_cr3(mm, dom, mfn)),
        Request::NewUserBaseptr { mfn } => with_mm(|mm, dom| {
            let old = dom.vcpu.user_l4;
            if mfn == old {
                return Ok(());
            }
            if mfn != 0 {
                mm.get_page_and_type(mfn, dom.id, PageType::PageTable(4))?;
            }
            dom.vcpu.user_l4 = mfn;
            if old != 0 {
                mm.put_page_and_type(old);
            }
            // The old user tables' global entries must not survive into the new ones.
            cpu::flush_tlb_global();
            Ok(())
        }),
        Request::FlushTlb => {
            cpu::flush_tlb_global();
            Ok(())
        }
        Request::Invlpg { va } => {
            // Like Xen, an address outside the guest's range is silently ignored.
            if guest_range_ok(va, 1) {
                cpu::invlpg(va);
            }
            Ok(())
        }
        Request::FlushCache { global } => {
            // Only a domain with I/O memory access may flush caches; that is Dom0 here. Xen
            // answers the two commands' refusals differently.
            if with_state(|st| st.dom.is_hardware()) {
                cpu::wbinvd();
                Ok(())
            } else if global {
                Err(Errno::Inval)
            } else {
                Err(Errno::Acces)
            }
        }
        Request::SetLdt { base, entries } => {
            with_mm(|mm, dom| crate::descriptors::set_ldt(mm, dom, base, entries))
        }
        Request::ClearPage { mfn } => with_mm(|mm, dom| {
            writable_ref(mm, dom.id, mfn)?;
            direct_map::zero_frame(mfn);
            mm.put_page_and_type(mfn);
            Ok(())
        }),
        Request::CopyPage { dst, src } => with_mm(|mm, dom| {
            mm.get_page(src, dom.id).map_err(|_| Errno::Inval)?;
            if let Err(e) = writable_ref(mm, dom.id, dst) {
                mm.put_page(src);
                return Err(e);
            }
            direct_map::copy_frame(dst, src);
            mm.put_page_and_type(dst);
            mm.put_page(src);
            Ok(())
        }),
    }
}

/// A general and a writable-type reference on `mfn`, or -EINVAL (Xen's answer for clear and copy).
fn writable_ref<M: xen_core::mm::page_memory::PageMemory>(
    mm: &mut xen_core::mm::page_type::Mm<'_, M>,
    dom: u16,
    mfn: u64,
) -> Result<(), Errno> {
    mm.get_page_and_type(mfn, dom, PageType::Writable)
        .map_err(|_| Errno::Inval)
}

/// Handles mmuext_op(ops, count, pdone, foreigndom): runs the ops in order, stops at the first
/// error, and reports how many completed in `*pdone`.
pub fn mmuext_op(ops: u64, count: u64, pdone: u64, foreigndom: u64) -> Result<u64, Errno> {
    let count = batch::check::<MmuextOp>(ops, count)?;
    let (self_id, pg_owner) =
        with_state(|st| Ok((st.dom.id, foreign::page_owner(&st, foreigndom as u16)?)))?;
    // DOMID_IO and DOMID_XEN own no page tables.
    if matches!(pg_owner, DOMID_IO | DOMID_XEN) {
        return Err(Errno::Inval);
    }
    batch::run(ops, count, pdone, |op: MmuextOp| {
        let req = decode(&op)?;
        match req {
            // A builder pins a new domain's tables on its behalf (Xen's pg_owner).
            Request::Pin { mfn, level } if pg_owner != self_id => {
                with_mm_on(pg_owner, |mm, dom| mm.pin(dom.id, mfn, level)).ok_or(Errno::Srch)?
            }
            Request::Unpin { mfn } if pg_owner != self_id => {
                with_mm_on(pg_owner, |mm, dom| mm.unpin(dom.id, mfn)).ok_or(Errno::Srch)?
            }
            // Everything else acts on the caller's own vCPU.
            _ if pg_owner != self_id => Err(Errno::Perm),
            _ => act(req),
        }
    })
}
