//! set_debugreg and get_debugreg: the vCPU's virtual debug registers.

use hypercall_abi::Errno;
use xen_core::trap::debug_regs;

use crate::hypervisor::with_state;

/// Handles set_debugreg(reg, value) with Xen's rules (`xen_core::trap::debug_regs`); a refused
/// value changes nothing.
pub fn set_debugreg(reg: u64, value: u64) -> Result<u64, Errno> {
    with_state(|st| {
        let reg = debug_regs::resolve(reg, st.dom.vcpu.cr4_guest)?;
        st.dom.vcpu.debug_regs[reg] = debug_regs::write_value(reg, value)?;
        Ok(0)
    })
}

/// Handles get_debugreg(reg): the register's value itself is the return value, as in Xen.
pub fn get_debugreg(reg: u64) -> Result<u64, Errno> {
    with_state(|st| {
        let reg = debug_regs::resolve(reg, st.dom.vcpu.cr4_guest)?;
        Ok(st.dom.vcpu.debug_regs[reg])
    })
}
