//! event_channel_op from the guest: the live argument struct goes to the hypervisor and back.

use hypercall_abi::event_channel::{
    EVTCHNOP_ALLOC_UNBOUND, EVTCHNOP_BIND_INTERDOMAIN, EVTCHNOP_BIND_IPI, EVTCHNOP_BIND_PIRQ,
    EVTCHNOP_BIND_VCPU, EVTCHNOP_BIND_VIRQ, EVTCHNOP_CLOSE, EVTCHNOP_EXPAND_ARRAY, EVTCHNOP_RESET,
    EVTCHNOP_SEND, EVTCHNOP_SET_PRIORITY, EVTCHNOP_STATUS, EVTCHNOP_UNMASK, EvtchnAllocUnbound,
    EvtchnBindInterdomain, EvtchnBindIpi, EvtchnBindPirq, EvtchnBindVcpu, EvtchnBindVirq,
    EvtchnClose, EvtchnReset, EvtchnSend, EvtchnStatus, EvtchnUnmask,
};
use hypercall_abi::hypercall::Hypercall;

use super::calls::hc;

/// An event_channel_op argument struct and the sub-command that takes it.
pub trait EvtchnArg {
    /// The `EVTCHNOP_*` number.
    const CMD: u32;
}

macro_rules! evtchn_args {
    ($($ty:ty => $cmd:expr,)*) => {
        $(impl EvtchnArg for $ty {
            const CMD: u32 = $cmd;
        })*
    };
}

evtchn_args! {
    EvtchnAllocUnbound => EVTCHNOP_ALLOC_UNBOUND,
    EvtchnBindInterdomain => EVTCHNOP_BIND_INTERDOMAIN,
    EvtchnBindVirq => EVTCHNOP_BIND_VIRQ,
    EvtchnBindPirq => EVTCHNOP_BIND_PIRQ,
    EvtchnBindIpi => EVTCHNOP_BIND_IPI,
    EvtchnClose => EVTCHNOP_CLOSE,
    EvtchnSend => EVTCHNOP_SEND,
    EvtchnStatus => EVTCHNOP_STATUS,
    EvtchnBindVcpu => EVTCHNOP_BIND_VCPU,
    EvtchnUnmask => EVTCHNOP_UNMASK,
    EvtchnReset => EVTCHNOP_RESET,
}

/// event_channel_op(`T::CMD`, `arg`): 0 or -errno; the hypervisor may write `arg` back.
pub fn evtchn_op<T: EvtchnArg>(arg: &mut T) -> i64 {
    // SAFETY: the hypervisor reads and writes only the live struct, whose type is the one the
    // command takes. The commands change nothing of ours but ports and event bits in
    // shared_info, which the kernel only reads through volatile or atomic accesses.
    unsafe {
        hc(
            Hypercall::EventChannelOp,
            u64::from(T::CMD),
            arg as *mut T as u64,
            0,
            0,
            0,
        )
    }
}

/// EVTCHNOP_expand_array (FIFO ABI) with frame `gfn`: 0 or -errno.
pub fn expand_array(gfn: u64) -> i64 {
    let arg = gfn;
    // SAFETY: the hypervisor reads the live 8-byte struct; on a domain using the 2-level ABI
    // it changes nothing (and a FIFO hypervisor would only map the frame named, which the
    // callers never make one of ours).
    unsafe {
        hc(
            Hypercall::EventChannelOp,
            u64::from(EVTCHNOP_EXPAND_ARRAY),
            &arg as *const u64 as u64,
            0,
            0,
            0,
        )
    }
}

/// EVTCHNOP_set_priority of `port` (FIFO ABI): 0 or -errno.
pub fn set_priority(port: u32, priority: u32) -> i64 {
    let arg = [port, priority];
    // SAFETY: the hypervisor reads the live 8-byte struct (port, priority) and changes no
    // memory of ours.
    unsafe {
        hc(
            Hypercall::EventChannelOp,
            u64::from(EVTCHNOP_SET_PRIORITY),
            arg.as_ptr() as u64,
            0,
            0,
            0,
        )
    }
}
