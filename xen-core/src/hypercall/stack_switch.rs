//! stack_switch: the kernel stack xen-core switches to when a trap arrives from guest user mode.

use hypercall_abi::Errno;

use super::dispatch::Call;

/// Handles stack_switch(ss, sp). The stack is only used when a bounce needs it; a bad one
/// makes that bounce fail and crashes the guest then, as in Xen.
pub fn stack_switch(call: &mut Call<'_>, ss: u64, sp: u64) -> Result<u64, Errno> {
    call.dom.vcpu.kernel_ss = ss | 3;
    call.dom.vcpu.kernel_sp = sp;
    Ok(0)
}
