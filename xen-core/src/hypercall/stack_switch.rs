//! stack_switch: the kernel stack xen-core switches to when a trap arrives from guest user mode.

use hypercall_abi::Errno;

use crate::hypervisor::with_state;

/// Handles stack_switch(ss, sp). The stack is only used when a bounce needs it; a bad one
/// makes that bounce fail and crashes the guest then, as in Xen.
pub fn stack_switch(ss: u64, sp: u64) -> Result<u64, Errno> {
    with_state(|st| {
        st.dom.vcpu.kernel_ss = ss | 3;
        st.dom.vcpu.kernel_sp = sp;
    });
    Ok(0)
}
