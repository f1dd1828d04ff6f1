//! The hypercalls of Dom0's toolstack that carry pointers or act on other domains' frames.
// Each wrapper builds the argument structure itself, so every pointer handed to the hypervisor
// names a live object of the right size that the hypervisor may read (and, where stated,
// write). The frames they act on belong to other domains: no Rust object of ours lives there.

use hypercall_abi::domctl::{DomctlCmd, XenDomctl, XenDomctlVcpucontext};
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::event_channel::{
    EVTCHNOP_ALLOC_UNBOUND, EVTCHNOP_BIND_INTERDOMAIN, EVTCHNOP_BIND_VIRQ, EVTCHNOP_CLOSE,
    EVTCHNOP_SEND, EvtchnAllocUnbound, EvtchnBindInterdomain, EvtchnBindVirq, EvtchnClose,
    EvtchnPort, EvtchnSend,
};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::memory::XENMEM_POPULATE_PHYSMAP;
use hypercall_abi::mmu::{MmuextCmd, MmuextOp};
use hypercall_abi::sched::{SchedOp, SchedPoll};
use hypercall_abi::vcpu::VcpuGuestContext;

use super::calls::hc;
use super::frames;
use super::memory_calls;

/// domctl setvcpucontext: loads `ctx` into vCPU `vcpu` of `domid` (the hypervisor only reads
/// it).
pub fn set_vcpu_context(domid: DomId, vcpu: u32, ctx: &VcpuGuestContext) -> i64 {
    let mut op = XenDomctl::new(DomctlCmd::Setvcpucontext, domid);
    op.set_payload(&XenDomctlVcpucontext {
        vcpu,
        pad: 0,
        ctxt: ctx as *const VcpuGuestContext as u64,
    });
    // SAFETY: the hypervisor reads and may write back the live `op`, and reads the live
    // context it names; loading another domain's vCPU changes nothing of ours.
    unsafe {
        hc(
            Hypercall::Domctl,
            &mut op as *mut XenDomctl as u64,
            0,
            0,
            0,
            0,
        )
    }
}

/// memory_op populate_physmap of order-0 extents for `domid`: `gpfns` in, machine frames out
/// (for a PV domain). Returns how many extents were populated, or -errno.
pub fn populate_physmap(domid: DomId, gpfns: &mut [u64]) -> i64 {
    match memory_calls::reservation(XENMEM_POPULATE_PHYSMAP, gpfns, 0, 0, domid) {
        Ok(ret) => ret,
        Err(_) => hypercall_abi::Errno::Inval.to_ret(),
    }
}

/// mmuext_op pin of frame `mfn` of domain `domid` as a level-`level` table (1-4).
pub fn pin_table(domid: DomId, mfn: u64, level: u8) -> i64 {
    let cmd = match level {
        1 => MmuextCmd::PinL1Table,
        2 => MmuextCmd::PinL2Table,
        3 => MmuextCmd::PinL3Table,
        4 => MmuextCmd::PinL4Table,
        _ => return hypercall_abi::Errno::Inval.to_ret(),
    };
    if domid == DOMID_SELF || frames::in_p2m(mfn) {
        // Our own frames are not this wrapper's business.
        return hypercall_abi::Errno::Inval.to_ret();
    }
    let op = MmuextOp {
        cmd: cmd as u32,
        pad: 0,
        arg1: mfn,
        arg2: 0,
    };
    // SAFETY: pinning another domain's frame as a page table changes no memory of ours (the
    // frame is not in our P2M, checked above); the hypervisor reads the live op.
    unsafe {
        hc(
            Hypercall::MmuextOp,
            &op as *const MmuextOp as u64,
            1,
            0,
            u64::from(domid),
            0,
        )
    }
}

/// Calls event_channel_op `cmd` on `arg`, which the hypervisor reads and writes back.
fn evtchn_op<T>(cmd: u32, arg: &mut T) -> i64 {
    // SAFETY: every caller passes one of the event channel argument structs, live and of the
    // size the command expects; event channel operations change no memory of ours besides it
    // (the pending bits they set live in shared_info, which the hypervisor owns).
    unsafe {
        hc(
            Hypercall::EventChannelOp,
            u64::from(cmd),
            arg as *mut T as u64,
            0,
            0,
            0,
        )
    }
}

/// A new port of domain `dom`, unbound, that `remote_dom` may bind to.
pub fn evtchn_alloc_unbound(dom: DomId, remote_dom: DomId) -> Result<EvtchnPort, i64> {
    let mut arg = EvtchnAllocUnbound {
        dom,
        remote_dom,
        port: 0,
    };
    match evtchn_op(EVTCHNOP_ALLOC_UNBOUND, &mut arg) {
        0 => Ok(arg.port),
        e => Err(e),
    }
}

/// A local port connected to `remote_port` of `remote_dom`.
pub fn evtchn_bind_interdomain(
    remote_dom: DomId,
    remote_port: EvtchnPort,
) -> Result<EvtchnPort, i64> {
    let mut arg = EvtchnBindInterdomain {
        remote_dom,
        pad: 0,
        remote_port,
        local_port: 0,
    };
    match evtchn_op(EVTCHNOP_BIND_INTERDOMAIN, &mut arg) {
        0 => Ok(arg.local_port),
        e => Err(e),
    }
}

/// A local port for virtual interrupt `virq` on vCPU `vcpu`.
pub fn evtchn_bind_virq(virq: u32, vcpu: u32) -> Result<EvtchnPort, i64> {
    let mut arg = EvtchnBindVirq {
        virq,
        vcpu,
        port: 0,
    };
    match evtchn_op(EVTCHNOP_BIND_VIRQ, &mut arg) {
        0 => Ok(arg.port),
        e => Err(e),
    }
}

/// Closes local port `port`.
pub fn evtchn_close(port: EvtchnPort) -> i64 {
    evtchn_op(EVTCHNOP_CLOSE, &mut EvtchnClose { port })
}

/// Notifies the other end of local port `port`.
pub fn evtchn_send(port: EvtchnPort) -> i64 {
    evtchn_op(EVTCHNOP_SEND, &mut EvtchnSend { port })
}

/// sched_op poll: blocks until one of `ports` is pending or system time reaches `timeout`
/// (ns; 0 for no timeout).
pub fn sched_poll(ports: &[EvtchnPort], timeout: u64) -> i64 {
    let arg = SchedPoll {
        ports: ports.as_ptr() as u64,
        nr_ports: ports.len() as u32,
        pad: 0,
        timeout,
    };
    // SAFETY: the hypervisor reads the live argument and the live port array it names.
    unsafe {
        hc(
            Hypercall::SchedOp,
            SchedOp::Poll as u64,
            &arg as *const SchedPoll as u64,
            0,
            0,
            0,
        )
    }
}
