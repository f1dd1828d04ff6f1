//! The iret hypercall: return from a guest exception or callback frame.

use hypercall_abi::Errno;
use hypercall_abi::traps::IretContext;
use xen_core::trap::iret::apply;

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::uaccess::read_guest;
use crate::domain::Shutdown;
use crate::hypervisor::with_state;

/// Handles iret: pops the 72-byte context from the guest stack and resumes there, as Xen does.
/// A stack that cannot be read, or a return to user mode without user page tables, crashes the
/// guest. The context itself is not judged here: on the way out, a frame the CPU would refuse
/// (a bad selector, a non-canonical RIP) becomes the #GP the guest takes there, which is what a
/// faulting `iretq` in Xen amounts to.
pub fn iret(call: &mut Call<'_>) -> Result<u64, Errno> {
    let Ok(ctx) = read_guest::<IretContext>(call.regs.rsp) else {
        let rsp = call.regs.rsp;
        call.exit = with_state(|st| {
            st.dom.shut_down(
                Shutdown::Crash,
                format_args!("fault reading the iret context at {rsp:#x}"),
            )
        });
        return Ok(0);
    };
    let regs = &mut *call.regs;
    let exit = with_state(|st| {
        let vcpu = &st.dom.vcpu;
        if ctx.cs & 3 == 3 && vcpu.kernel_mode && vcpu.user_l4 == 0 {
            return st.dom.shut_down(
                Shutdown::Crash,
                format_args!("iret to user mode without user page tables"),
            );
        }
        let outcome = apply(regs, &ctx);
        if outcome.to_user && st.dom.vcpu.kernel_mode {
            st.dom.enter_user_mode();
        }
        st.dom.set_upcall_mask(outcome.upcall_mask);
        Exit::Iret
    });
    call.exit = exit;
    Ok(ctx.rax)
}
