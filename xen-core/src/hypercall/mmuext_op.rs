//! mmuext_op: page-table roots and TLB maintenance (pinning arrives with issue 3).

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::mmu::{MmuextCmd, MmuextOp};
use xen_core::mm::frame_table::FrameTable;

use crate::arch::x86_64::uaccess::{read_guest, write_guest};
use crate::arch::x86_64::{cpu, paging};
use crate::domain::Domain;
use crate::hypervisor::with_state;

/// Xen marks a continued batch with this bit of `count`.
const MMU_UPDATE_PREEMPTED: u32 = 1 << 31;

fn one(domain: &mut Domain, frames: &FrameTable<'_>, op: &MmuextOp) -> Result<(), Errno> {
    let dom = domain.id;
    match MmuextCmd::try_from(op.cmd)? {
        MmuextCmd::NewBaseptr => {
            // Until pinning exists, only an already validated L4 can become a root.
            if !frames.is_page_table(dom, op.arg1, 4) {
                return Err(Errno::Inval);
            }
            domain.vcpu.kernel_l4 = op.arg1;
            paging::load_guest_l4(op.arg1);
            Ok(())
        }
        MmuextCmd::NewUserBaseptr => {
            if op.arg1 != 0 && !frames.is_page_table(dom, op.arg1, 4) {
                return Err(Errno::Inval);
            }
            domain.vcpu.user_l4 = op.arg1;
            Ok(())
        }
        MmuextCmd::TlbFlushLocal | MmuextCmd::TlbFlushAll => {
            cpu::flush_tlb();
            Ok(())
        }
        MmuextCmd::TlbFlushMulti => {
            read_guest::<u64>(op.arg2)?;
            cpu::flush_tlb();
            Ok(())
        }
        MmuextCmd::InvlpgLocal | MmuextCmd::InvlpgAll | MmuextCmd::InvlpgMulti => {
            if op.cmd == MmuextCmd::InvlpgMulti as u32 {
                read_guest::<u64>(op.arg2)?;
            }
            // Like Xen, an address outside the guest's range is silently ignored.
            if guest_range_ok(op.arg1, 1) {
                cpu::invlpg(op.arg1);
            }
            Ok(())
        }
        _ => Err(Errno::NoSys),
    }
}

/// Handles mmuext_op(ops, count, pdone, foreigndom): runs the ops in order, stops at the first
/// error, and reports how many completed in `*pdone`.
pub fn mmuext_op(ops: u64, count: u64, pdone: u64, foreigndom: u64) -> Result<u64, Errno> {
    let count = count as u32;
    if count & MMU_UPDATE_PREEMPTED != 0 {
        return Err(Errno::Inval);
    }
    let foreigndom = foreigndom as u16;
    if foreigndom != DOMID_SELF && foreigndom != with_state(|st| st.dom.id) {
        return Err(Errno::Srch);
    }
    let mut done: u32 = 0;
    let mut result = Ok(0);
    for i in 0..u64::from(count) {
        let op = ops
            .checked_add(i * 24)
            .ok_or(Errno::Fault)
            .and_then(read_guest::<MmuextOp>)
            .and_then(|op| with_state(|st| one(st.dom, st.frames, &op)));
        if let Err(e) = op {
            result = Err(e);
            break;
        }
        done += 1;
    }
    if pdone != 0 {
        // As in Xen, a bad pdone pointer does not change the result.
        let _ = write_guest(pdone, &done);
    }
    result
}
