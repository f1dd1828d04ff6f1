//! Hypercalls the conformance guests make that touch no memory of theirs, or only live arguments.

use hypercall_abi::Errno;
use hypercall_abi::callback::{CallbackOp, CallbackRegister, CallbackType, CallbackUnregister};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::physdev::{PHYSDEVOP_SET_IOPL, PhysdevSetIopl};

use super::super::hypercall::call;

/// Calls hypercall `nr`; -ENOSYS if the page has no stub for it.
///
/// # Safety
/// As for [`call`].
pub(super) unsafe fn hc(nr: Hypercall, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    // SAFETY: forwarded to the caller.
    unsafe { call(nr as u8, a1, a2, a3, a4, a5) }.unwrap_or(Errno::NoSys.to_ret())
}

/// fpu_taskswitch(`set`): sets (true) or clears (false) the virtual CR0.TS.
pub fn fpu_taskswitch(set: bool) -> i64 {
    // SAFETY: only the vCPU's virtual TS changes; no memory is passed. With TS set the next
    // FPU/SSE instruction raises #NM, which the conformance trap table handles.
    unsafe { hc(Hypercall::FpuTaskswitch, u64::from(set), 0, 0, 0, 0) }
}

/// get_debugreg(`reg`): the virtual debug register, or -errno.
pub fn get_debugreg(reg: u64) -> i64 {
    // SAFETY: a read of the vCPU's virtual debug register; no memory is passed.
    unsafe { hc(Hypercall::GetDebugreg, reg, 0, 0, 0, 0) }
}

/// set_debugreg(`reg`, `value`): 0 or -errno.
pub fn set_debugreg(reg: u64, value: u64) -> i64 {
    // SAFETY: only the vCPU's virtual debug register changes; no memory is passed. The
    // conformance guest arms no breakpoint, so no #DB can follow from it.
    unsafe { hc(Hypercall::SetDebugreg, reg, value, 0, 0, 0) }
}

/// physdev_op(PHYSDEVOP_set_iopl, `iopl`).
pub fn set_iopl(iopl: u32) -> i64 {
    let request = PhysdevSetIopl { iopl };
    // SAFETY: the hypervisor reads the live request; only the vCPU's virtual IOPL changes,
    // which decides whether later port I/O and cli/sti are emulated or raise #GP.
    unsafe {
        hc(
            Hypercall::PhysdevOp,
            PHYSDEVOP_SET_IOPL,
            &request as *const PhysdevSetIopl as u64,
            0,
            0,
            0,
        )
    }
}

/// callback_op register of `kind` at `address` with `flags`.
///
/// # Safety
/// `address` must be 0 or an entry point that accepts the frame the hypervisor builds for
/// this callback.
pub unsafe fn register_callback(kind: CallbackType, flags: u16, address: u64) -> i64 {
    let request = CallbackRegister {
        type_: kind as u16,
        flags,
        pad: 0,
        address,
    };
    // SAFETY: the hypervisor reads the live request; the address is the caller's contract.
    unsafe {
        hc(
            Hypercall::CallbackOp,
            CallbackOp::Register as u64,
            &request as *const CallbackRegister as u64,
            0,
            0,
            0,
        )
    }
}

/// callback_op unregister of `kind`.
pub fn unregister_callback(kind: CallbackType) -> i64 {
    let request = CallbackUnregister {
        type_: kind as u16,
        pad: 0,
    };
    // SAFETY: the hypervisor reads the live request; forgetting a callback only means its
    // event is no longer delivered to us.
    unsafe {
        hc(
            Hypercall::CallbackOp,
            CallbackOp::Unregister as u64,
            &request as *const CallbackUnregister as u64,
            0,
            0,
            0,
        )
    }
}

/// stack_switch(`ss`, `sp`).
///
/// # Safety
/// `sp` must be the top of a stack reserved for user-to-kernel entries.
pub unsafe fn stack_switch(ss: u16, sp: u64) -> i64 {
    // SAFETY: the hypervisor only records SS:RSP; the stack is the caller's contract.
    unsafe { hc(Hypercall::StackSwitch, u64::from(ss), sp, 0, 0, 0) }
}

/// xen_version(XENVER_version, NULL): a hypercall with no effect, to cross the boundary.
pub fn null_hypercall() -> i64 {
    // SAFETY: XENVER_version takes no buffer.
    unsafe { hc(Hypercall::XenVersion, 0, 0, 0, 0, 0) }
}
