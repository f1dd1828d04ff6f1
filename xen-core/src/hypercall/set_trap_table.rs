//! set_trap_table: the guest's virtual IDT.

use hypercall_abi::Errno;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::is_canonical;
use hypercall_abi::segment::FLAT_KERNEL_CS64;
use hypercall_abi::traps::TrapInfo;
use xen_core::guest_regs::SYSCALL_INSN_LEN;
use xen_core::vcpu::TrapEntry;

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::uaccess::read_guest;
use crate::hypervisor::with_state;

/// Entries taken per call before the hypercall continues itself, as Xen does when it is
/// preempted: the table has no length, so a hostile one could otherwise keep xen-core busy for
/// as long as it can alias one page of entries across its address space.
pub const ENTRIES_PER_CALL: u64 = 512;

/// How far one call got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The table ended (an entry with address 0).
    Done,
    /// [`ENTRIES_PER_CALL`] entries were taken; the table goes on at this address.
    More(u64),
}

/// Takes entries from `table` in order, each replacing its vector's entry at once, until one
/// has address 0, as Xen does: there is no limit on their number, and an entry that cannot be
/// read (-EFAULT) or has a non-canonical address (-EINVAL) stops the call with the earlier ones
/// in place. A null `table` clears every vector.
pub fn set_trap_table(table: u64) -> Result<Progress, Errno> {
    if table == 0 {
        with_state(|st| st.dom.vcpu.trap_table = [TrapEntry::default(); 256]);
        return Ok(Progress::Done);
    }
    let mut at = table;
    for _ in 0..ENTRIES_PER_CALL {
        let entry: TrapInfo = read_guest(at)?;
        if entry.address == 0 {
            return Ok(Progress::Done);
        }
        if !is_canonical(entry.address) {
            return Err(Errno::Inval);
        }
        let cs = if entry.cs & !3 == 0 {
            FLAT_KERNEL_CS64
        } else {
            entry.cs | 3
        };
        with_state(|st| {
            st.dom.vcpu.trap_table[usize::from(entry.vector)] = TrapEntry {
                address: entry.address,
                cs,
                flags: entry.flags,
            }
        });
        at = at.checked_add(16).ok_or(Errno::Fault)?;
    }
    Ok(Progress::More(at))
}

/// The hypercall set_trap_table(table): after [`ENTRIES_PER_CALL`] entries it continues
/// itself, as Xen's hypercall continuation does: RIP goes back to the `syscall`, RAX holds the
/// hypercall's number again and RDI the rest of the table. Inside a multicall (whose entries
/// run on a frame of their own, not the `syscall`'s) there is nothing to continue, and the
/// whole table is taken at once.
pub fn hypercall(call: &mut Call<'_>, table: u64) -> Result<u64, Errno> {
    let mut at = table;
    loop {
        match set_trap_table(at)? {
            Progress::Done => return Ok(0),
            Progress::More(next) if call.regs.is_partial() => {
                call.regs.rewind_rip(SYSCALL_INSN_LEN);
                call.regs.rdi = next;
                call.exit = Exit::Iret;
                return Ok(Hypercall::SetTrapTable as u64);
            }
            Progress::More(next) => at = next,
        }
    }
}
