//! physdev_op: the calling vCPU's virtual IOPL and I/O bitmap, and the PIRQ commands; others are -ENOSYS.
//!
//! PIRQs (`xen_core::pirq`): map_pirq and unmap_pirq are the hardware domain's, on itself
//! (xen-core routes physical IRQs to no other domain): GSIs only, checked and numbered as in
//! Xen 4.17. eoi and irq_status_query are any domain's, on its own PIRQs; the ISA lines are
//! edge-triggered and get their PIC EOI when they fire, so an EOI only checks the PIRQ.
//!
//! As in Xen 4.17 (`arch/x86/physdev.c`): set_iopl takes 0..=3 (else -EINVAL); set_iobitmap
//! takes the guest address of a bitmap (outside the hypervisor range) and at most 65536 ports (else -EINVAL). Both only
//! record what the guest asked; the port-I/O emulation consults them
//! (`xen_core::trap::port_io`).

use hypercall_abi::Errno;
use hypercall_abi::physdev::{
    PHYSDEVOP_EOI, PHYSDEVOP_IRQ_STATUS_QUERY, PHYSDEVOP_MAP_PIRQ, PHYSDEVOP_SET_IOBITMAP,
    PHYSDEVOP_SET_IOPL, PHYSDEVOP_UNMAP_PIRQ, PhysdevEoi, PhysdevIrqStatusQuery, PhysdevMapPirq,
    PhysdevUnmapPirq,
};
use xen_core::desc_tables::guest_addr_ok;
use xen_core::pirq::request::{MapKind, MapRequest, UnmapRequest, non_gsi_errno};
use xen_core::pirq::table;

use crate::arch::x86_64::pirq_irq;
use crate::arch::x86_64::uaccess::{read_guest, write_guest};
use crate::hypervisor::with_state;

/// A decoded physdev_op request.
enum Request {
    SetIopl(u8),
    SetIobitmap { bitmap: u64, ports: u32 },
}

fn decode(cmd: u64, arg: u64) -> Result<Request, Errno> {
    // Xen takes `cmd` as an int.
    match u64::from(cmd as u32) {
        PHYSDEVOP_SET_IOPL => {
            let iopl = read_guest::<u32>(arg)?;
            if iopl > 3 {
                return Err(Errno::Inval);
            }
            Ok(Request::SetIopl(iopl as u8))
        }
        PHYSDEVOP_SET_IOBITMAP => {
            let bitmap = read_guest::<u64>(arg)?;
            let ports = read_guest::<u32>(arg.checked_add(8).ok_or(Errno::Fault)?)?;
            // Xen's guest_handle_okay() checks where the bitmap starts only.
            if !guest_addr_ok(bitmap) || ports > 65536 {
                return Err(Errno::Inval);
            }
            Ok(Request::SetIobitmap { bitmap, ports })
        }
        _ => Err(Errno::NoSys),
    }
}

/// Handles physdev_op(cmd, arg).
pub fn physdev_op(cmd: u64, arg: u64) -> Result<u64, Errno> {
    match u64::from(cmd as u32) {
        PHYSDEVOP_MAP_PIRQ => return map_pirq(arg),
        PHYSDEVOP_UNMAP_PIRQ => return unmap_pirq(arg),
        PHYSDEVOP_EOI => return eoi(arg),
        PHYSDEVOP_IRQ_STATUS_QUERY => return irq_status_query(arg),
        _ => {}
    }
    let request = decode(cmd, arg)?;
    with_state(|st| {
        let io = &mut st.dom.vcpu.io;
        match request {
            Request::SetIopl(iopl) => io.iopl = iopl,
            Request::SetIobitmap { bitmap, ports } => {
                io.bitmap = bitmap;
                io.bitmap_ports = ports;
            }
        }
    });
    Ok(0)
}

/// PHYSDEVOP_map_pirq: the struct goes back to the guest whatever the result, as in Xen (with
/// the PIRQ mapped on success).
fn map_pirq(arg: u64) -> Result<u64, Errno> {
    let mut raw: PhysdevMapPirq = read_guest(arg)?;
    let result = with_state(|mut st| {
        let req = MapRequest::decode(&raw, st.dom.id)?;
        let (caller, hardware) = (st.dom.id, st.dom.is_hardware());
        let target = st.lookup(req.domid).ok_or(Errno::Srch)?;
        if !hardware || target.id != caller {
            return Err(Errno::Perm);
        }
        match req.kind {
            MapKind::Gsi { index } => {
                let nr_pirqs = target.events.nr_pirqs();
                target.pirqs.map_gsi(index, req.pirq, nr_pirqs)
            }
            other => Err(non_gsi_errno(other)),
        }
    });
    if let Ok(pirq) = result {
        // PIRQs are below nr_pirqs, far below 2^31.
        raw.pirq = pirq as i32;
    }
    write_guest(arg, &raw)?;
    result.map(|_| 0)
}

/// PHYSDEVOP_unmap_pirq: a PIRQ still bound keeps its port (delivering nothing) and lets its
/// line go.
fn unmap_pirq(arg: u64) -> Result<u64, Errno> {
    let raw: PhysdevUnmapPirq = read_guest(arg)?;
    with_state(|mut st| {
        let req = UnmapRequest::decode(&raw, st.dom.id);
        let (caller, hardware) = (st.dom.id, st.dom.is_hardware());
        let target = st.lookup(req.domid).ok_or(Errno::Srch)?;
        if !hardware || target.id != caller {
            return Err(Errno::Perm);
        }
        let bound = u32::try_from(req.pirq)
            .ok()
            .and_then(|p| target.events.pirq_port(p))
            .is_some();
        let nr_pirqs = target.events.nr_pirqs();
        let done = target.pirqs.unmap(req.pirq, nr_pirqs, bound)?;
        if done.was_bound {
            pirq_irq::set_line(done.gsi, false);
        }
        Ok(0)
    })
}

/// PHYSDEVOP_eoi: nothing to do for an edge-triggered line beyond checking the PIRQ.
fn eoi(arg: u64) -> Result<u64, Errno> {
    let raw: PhysdevEoi = read_guest(arg)?;
    with_state(|st| {
        let bound = st.dom.events.pirq_port(raw.irq).is_some();
        st.dom
            .pirqs
            .eoi(raw.irq, st.dom.events.nr_pirqs(), bound)
            .map(|()| 0)
    })
}

/// PHYSDEVOP_irq_status_query: every PIRQ in range needs an EOI, none is shared (as Xen
/// answers a PV domain).
fn irq_status_query(arg: u64) -> Result<u64, Errno> {
    let mut raw: PhysdevIrqStatusQuery = read_guest(arg)?;
    raw.flags = with_state(|st| table::status_query(raw.irq, st.dom.events.nr_pirqs()))?;
    write_guest(arg, &raw)?;
    Ok(0)
}
