//! vm_assist: turns on or off the optional behaviours a PV guest may ask of xen-core.

use hypercall_abi::Errno;
use hypercall_abi::vm_assist::*;

use crate::hypervisor::with_state;

/// The assists a 64-bit PV guest may name (Xen's VM_ASSIST_VALID for x86_64 PV).
const VALID: u64 = (1 << VMASST_TYPE_4GB_SEGMENTS)
    | (1 << VMASST_TYPE_4GB_SEGMENTS_NOTIFY)
    | (1 << VMASST_TYPE_WRITABLE_PAGETABLES)
    | (1 << VMASST_TYPE_PAE_EXTENDED_CR3)
    | (1 << VMASST_TYPE_ARCHITECTURAL_IOPL)
    | (1 << VMASST_TYPE_RUNSTATE_UPDATE_FLAG)
    | (1 << VMASST_TYPE_M2P_STRICT);

/// Handles vm_assist(cmd, type). The bits are recorded; xen-core's behaviour does not depend on
/// them yet (writable page tables are always emulated, as Xen does for 64-bit guests).
pub fn vm_assist(cmd: u64, kind: u64) -> Result<u64, Errno> {
    let kind = kind as u32;
    if kind >= 64 || VALID & (1 << kind) == 0 {
        return Err(Errno::Inval);
    }
    match cmd as u32 {
        VMASST_CMD_ENABLE => with_state(|st| st.dom.vm_assist |= 1 << kind),
        VMASST_CMD_DISABLE => with_state(|st| st.dom.vm_assist &= !(1 << kind)),
        _ => return Err(Errno::NoSys),
    }
    Ok(0)
}
