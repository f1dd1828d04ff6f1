//! Dom0's physical interrupts: physdev_op PIRQ calls, bind_pirq, and the virtual IOPL that lets its port instructions through.
// A PV kernel runs at CPL 3, so its `in`/`out`/`ins` instructions trap to the hypervisor,
// which performs them for a domain allowed the port (the hardware domain, with a virtual
// IOPL of at least 1 in kernel mode: `set_iopl`) and raises #GP otherwise. The disk's ports
// themselves are `ata_ports`'.

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::event_channel::{EVTCHNOP_BIND_PIRQ, EvtchnBindPirq, EvtchnPort};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::physdev::{
    MAP_PIRQ_TYPE_GSI, PHYSDEVOP_EOI, PHYSDEVOP_IRQ_STATUS_QUERY, PHYSDEVOP_MAP_PIRQ,
    PHYSDEVOP_SET_IOPL, PHYSDEVOP_UNMAP_PIRQ, PhysdevEoi, PhysdevIrqStatusQuery, PhysdevMapPirq,
    PhysdevSetIopl, PhysdevUnmapPirq,
};

use super::calls::hc;

/// A physdev_op argument struct the hypervisor may read and write back.
trait PhysdevArg {}
impl PhysdevArg for PhysdevMapPirq {}
impl PhysdevArg for PhysdevUnmapPirq {}
impl PhysdevArg for PhysdevEoi {}
impl PhysdevArg for PhysdevIrqStatusQuery {}
impl PhysdevArg for PhysdevSetIopl {}

fn physdev_op<T: PhysdevArg>(cmd: u64, arg: &mut T) -> i64 {
    // SAFETY: the hypervisor reads and writes back only the live struct, of the type `cmd`
    // takes (the trait lists no other). These commands change the domain's PIRQ mappings,
    // event bindings and virtual IOPL: nothing in our memory but the struct.
    unsafe { hc(Hypercall::PhysdevOp, cmd, arg as *mut T as u64, 0, 0, 0) }
}

/// PHYSDEVOP_map_pirq with the struct as given: the result and the struct written back.
pub fn map_pirq_raw(request: PhysdevMapPirq) -> (i64, PhysdevMapPirq) {
    let mut arg = request;
    let ret = physdev_op(PHYSDEVOP_MAP_PIRQ, &mut arg);
    (ret, arg)
}

/// A GSI-type map_pirq request of `gsi` into `domid`, asking for `pirq` (-1: any).
pub fn gsi_request(domid: DomId, gsi: i32, pirq: i32) -> PhysdevMapPirq {
    PhysdevMapPirq {
        domid,
        type_: MAP_PIRQ_TYPE_GSI,
        index: gsi,
        pirq,
        ..PhysdevMapPirq::default()
    }
}

/// Maps GSI `gsi` to a PIRQ of ours chosen by the hypervisor: the PIRQ, or -errno.
pub fn map_gsi(gsi: u32) -> Result<u32, i64> {
    map_gsi_to(gsi, -1)
}

/// Maps GSI `gsi` to PIRQ `pirq` of ours (-1: the hypervisor chooses): the PIRQ, or -errno.
pub fn map_gsi_to(gsi: u32, pirq: i32) -> Result<u32, i64> {
    let index = i32::try_from(gsi).unwrap_or(-1);
    match map_pirq_raw(gsi_request(DOMID_SELF, index, pirq)) {
        (0, out) => u32::try_from(out.pirq).map_err(|_| -1),
        (ret, _) => Err(ret),
    }
}

/// PHYSDEVOP_unmap_pirq of `pirq` in `domid`: 0 or -errno.
pub fn unmap_in(domid: DomId, pirq: i32) -> i64 {
    physdev_op(
        PHYSDEVOP_UNMAP_PIRQ,
        &mut PhysdevUnmapPirq {
            domid,
            pad: 0,
            pirq,
        },
    )
}

/// Unmaps our PIRQ `pirq`: 0 or -errno.
pub fn unmap(pirq: u32) -> i64 {
    unmap_in(DOMID_SELF, i32::try_from(pirq).unwrap_or(-1))
}

/// PHYSDEVOP_eoi: we are done with PIRQ `pirq`'s event. 0 or -errno.
pub fn eoi(pirq: u32) -> i64 {
    physdev_op(PHYSDEVOP_EOI, &mut PhysdevEoi { irq: pirq })
}

/// PHYSDEVOP_irq_status_query of `pirq`: its `XENIRQSTAT_*` flags, or -errno.
pub fn status_query(pirq: u32) -> Result<u32, i64> {
    let mut arg = PhysdevIrqStatusQuery {
        irq: pirq,
        flags: 0,
    };
    match physdev_op(PHYSDEVOP_IRQ_STATUS_QUERY, &mut arg) {
        0 => Ok(arg.flags),
        ret => Err(ret),
    }
}

/// PHYSDEVOP_set_iopl: our virtual IOPL (1 lets kernel mode do port I/O). 0 or -errno.
pub fn set_iopl(iopl: u32) -> i64 {
    physdev_op(PHYSDEVOP_SET_IOPL, &mut PhysdevSetIopl { iopl })
}

/// EVTCHNOP_bind_pirq of `pirq` (not shared): the new port, or -errno.
pub fn bind_pirq(pirq: u32) -> Result<EvtchnPort, i64> {
    let mut arg = EvtchnBindPirq {
        pirq,
        flags: 0,
        port: 0,
    };
    // SAFETY: the hypervisor reads and writes back only the live struct; binding changes
    // our ports and later event bits in shared_info, which we only access atomically.
    let ret = unsafe {
        hc(
            Hypercall::EventChannelOp,
            u64::from(EVTCHNOP_BIND_PIRQ),
            &mut arg as *mut EvtchnBindPirq as u64,
            0,
            0,
            0,
        )
    };
    if ret == 0 { Ok(arg.port) } else { Err(ret) }
}
