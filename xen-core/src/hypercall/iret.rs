//! The iret hypercall: return from a guest exception or callback frame.

use hypercall_abi::Errno;
use hypercall_abi::traps::IretContext;
use xen_core::trap::iret::{IretError, apply};

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::uaccess::read_guest;
use crate::domain::Shutdown;
use crate::hypervisor::with_state;

fn crash(call: &mut Call<'_>, why: core::fmt::Arguments<'_>) -> Result<u64, Errno> {
    call.exit = Exit::Stop(with_state(|st| st.dom.shut_down(Shutdown::Crash, why)));
    Ok(0)
}

/// Handles iret: pops the 72-byte context from the guest stack and resumes there. A context
/// that cannot be used crashes the guest, as a faulting iret does in Xen without a failsafe.
pub fn iret(call: &mut Call<'_>) -> Result<u64, Errno> {
    let Ok(ctx) = read_guest::<IretContext>(call.regs.rsp) else {
        let rsp = call.regs.rsp;
        return crash(
            call,
            format_args!("fault reading the iret context at {rsp:#x}"),
        );
    };
    let outcome = match apply(call.regs, &ctx) {
        Ok(outcome) => outcome,
        Err(IretError::NonCanonical) => {
            return crash(
                call,
                format_args!(
                    "iret to non-canonical rip {:#x} / rsp {:#x}",
                    ctx.rip, ctx.rsp
                ),
            );
        }
        Err(IretError::BadSelector) => {
            return crash(
                call,
                format_args!("iret with bad selectors cs {:#x} ss {:#x}", ctx.cs, ctx.ss),
            );
        }
    };
    let entered = with_state(|st| {
        if outcome.to_user && st.dom.vcpu.kernel_mode {
            if st.dom.vcpu.user_l4 == 0 {
                return false;
            }
            st.dom.enter_user_mode();
        }
        st.dom.set_upcall_mask(outcome.upcall_mask);
        true
    });
    if !entered {
        return crash(
            call,
            format_args!("iret to user mode without user page tables"),
        );
    }
    call.exit = Exit::Iret;
    Ok(outcome.rax)
}
