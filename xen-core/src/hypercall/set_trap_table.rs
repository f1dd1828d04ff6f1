//! set_trap_table: the guest's virtual IDT.

use heapless::Vec;
use hypercall_abi::Errno;
use hypercall_abi::layout::is_canonical;
use hypercall_abi::segment::FLAT_KERNEL_CS64;
use hypercall_abi::traps::TrapInfo;
use xen_core::vcpu::TrapEntry;

use crate::arch::x86_64::uaccess::read_guest;
use crate::hypervisor::with_state;

const MAX_ENTRIES: usize = 256;

/// Handles set_trap_table(table). A null table clears every entry; otherwise the entries up to
/// the first with address 0 replace those vectors. The whole table is read and checked before
/// anything changes.
pub fn set_trap_table(table: u64) -> Result<u64, Errno> {
    if table == 0 {
        with_state(|st| st.dom.vcpu.trap_table = [TrapEntry::default(); 256]);
        return Ok(0);
    }
    let mut entries: Vec<TrapInfo, MAX_ENTRIES> = Vec::new();
    for i in 0..=MAX_ENTRIES as u64 {
        let at = table.checked_add(i * 16).ok_or(Errno::Fault)?;
        let entry: TrapInfo = read_guest(at)?;
        if entry.address == 0 {
            break;
        }
        if !is_canonical(entry.address) {
            return Err(Errno::Inval);
        }
        entries.push(entry).map_err(|_| Errno::TooBig)?;
    }
    with_state(|st| {
        for e in entries {
            let cs = if e.cs & !3 == 0 {
                FLAT_KERNEL_CS64
            } else {
                e.cs | 3
            };
            st.dom.vcpu.trap_table[usize::from(e.vector)] = TrapEntry {
                address: e.address,
                cs,
                flags: e.flags,
            };
        }
    });
    Ok(0)
}
