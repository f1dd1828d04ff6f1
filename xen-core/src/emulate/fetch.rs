//! Reading the instruction a guest trapped at, through its own page tables.

use xen_core::guest_regs::GuestRegs;
use xen_core::trap::insn::MAX_INSN_LEN;

use crate::arch::x86_64::uaccess::copy_from_guest;

/// Up to 15 bytes at the guest's RIP: as many as are readable (the instruction may end just
/// before an unmapped page), 0 if none is. A read that fails is never a fault in xen-core.
pub fn instruction_bytes(regs: &GuestRegs) -> ([u8; MAX_INSN_LEN], usize) {
    let mut buf = [0u8; MAX_INSN_LEN];
    let to_page_end = (0x1000 - (regs.rip & 0xfff)) as usize;
    // First what lies in RIP's page, then one more page if the instruction may cross.
    let first = to_page_end.min(MAX_INSN_LEN);
    if copy_from_guest(&mut buf[..first], regs.rip).is_err() {
        return (buf, 0);
    }
    if first < MAX_INSN_LEN {
        let next = regs.rip.wrapping_add(first as u64);
        if copy_from_guest(&mut buf[first..], next).is_ok() {
            return (buf, MAX_INSN_LEN);
        }
    }
    (buf, first)
}
