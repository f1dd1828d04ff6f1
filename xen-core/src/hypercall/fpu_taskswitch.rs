//! fpu_taskswitch: the guest's CR0.TS, which PV kernels use for lazy FPU switching.

use hypercall_abi::Errno;

use crate::arch::x86_64::fpu;
use crate::hypervisor::with_state;

/// Handles fpu_taskswitch(set): a non-zero `set` (a C `int`) sets the vCPU's virtual CR0.TS and
/// the CPU's TS, so the guest's next FPU/SSE instruction raises #NM and reaches its trap 7;
/// zero clears both. Always succeeds, as in Xen.
pub fn fpu_taskswitch(set: u64) -> Result<u64, Errno> {
    let set = set as u32 != 0;
    with_state(|st| {
        st.dom.vcpu.fpu.virtual_ts = set;
        fpu::apply_virtual_ts(&st.dom.vcpu.fpu);
    });
    Ok(0)
}
