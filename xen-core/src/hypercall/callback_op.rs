//! callback_op and set_callbacks: the guest's event, failsafe, syscall and NMI entry points.

use hypercall_abi::Errno;
use hypercall_abi::callback::*;
use hypercall_abi::layout::is_canonical;
use xen_core::vcpu::{Callback, VcpuState};

use crate::arch::x86_64::uaccess::read_guest;
use crate::hypervisor::with_state;

fn slot(vcpu: &mut VcpuState, ty: CallbackType) -> &mut Callback {
    match ty {
        CallbackType::Event => &mut vcpu.event_callback,
        CallbackType::Failsafe => &mut vcpu.failsafe_callback,
        CallbackType::Syscall => &mut vcpu.syscall_callback,
        CallbackType::Syscall32 => &mut vcpu.syscall32_callback,
        CallbackType::Sysenter => &mut vcpu.sysenter_callback,
        CallbackType::Nmi => &mut vcpu.nmi_callback,
    }
}

/// Handles callback_op(cmd, arg).
pub fn callback_op(cmd: u64, arg: u64) -> Result<u64, Errno> {
    match CallbackOp::try_from(cmd)? {
        CallbackOp::Register => {
            let reg: CallbackRegister = read_guest(arg)?;
            // Xen checks the address before the type.
            if !is_canonical(reg.address) {
                return Err(Errno::Inval);
            }
            let ty = CallbackType::try_from(reg.type_)?;
            let mask_events = reg.flags & CALLBACKF_MASK_EVENTS != 0;
            with_state(|st| {
                *slot(&mut st.dom.vcpu, ty) = Callback {
                    address: reg.address,
                    mask_events,
                }
            });
            Ok(0)
        }
        CallbackOp::Unregister => {
            let unreg: CallbackUnregister = read_guest(arg)?;
            // As in Xen, only the NMI callback can be taken away.
            match CallbackType::try_from(unreg.type_)? {
                CallbackType::Nmi => {
                    with_state(|st| st.dom.vcpu.nmi_callback = Callback::default());
                    Ok(0)
                }
                _ => Err(Errno::Inval),
            }
        }
    }
}

/// Handles the older set_callbacks(event, failsafe, syscall).
pub fn set_callbacks(event: u64, failsafe: u64, syscall: u64) -> Result<u64, Errno> {
    if ![event, failsafe, syscall].iter().all(|&a| is_canonical(a)) {
        return Err(Errno::Inval);
    }
    with_state(|st| {
        let vcpu = &mut st.dom.vcpu;
        vcpu.event_callback.address = event;
        vcpu.failsafe_callback.address = failsafe;
        vcpu.syscall_callback.address = syscall;
    });
    Ok(0)
}
