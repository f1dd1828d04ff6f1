//! Physical IRQs in the running hypervisor: binding a PIRQ claims its PIC line, and each interrupt raises the bound port in the hardware domain.
//
// Only the hardware domain maps GSIs (physdev_op), so an ISA line belongs to at most one
// PIRQ of one domain: the line is unmasked while a port is bound to that PIRQ and masked
// again when the port closes or the PIRQ is unmapped. An interrupt is recorded in [`FIRED`]
// by the handler (`arch::x86_64::pirq_irq`); from a guest it is delivered at once, from
// `idle_wait` at the scheduler's next decision ([`notify`]), as serial input is. A line that
// fires with nothing bound is counted and dropped.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hypercall_abi::Errno;
use hypercall_abi::event_channel::EvtchnPort;
use xen_core::event::ops;
use xen_core::event::raise;
use xen_core::pirq::lines::{self, NR_ISA_IRQS};
use xen_core::pirq::table::PirqTable;

use crate::arch::x86_64::pirq_irq;
use crate::domain::Domain;
use crate::hypervisor::{HV, Hypervisor};
use crate::schedule;

/// ISA lines that interrupted since the last [`notify`] (bit per line).
static FIRED: AtomicU32 = AtomicU32::new(0);
/// Interrupts per line that found no bound port.
static DROPPED: [AtomicU64; NR_ISA_IRQS as usize] =
    [const { AtomicU64::new(0) }; NR_ISA_IRQS as usize];

/// EVTCHNOP_bind_pirq for `dom`: a new port for its PIRQ `pirq`, notifying vCPU 0, and the
/// PIRQ's line unmasked. Errors in Xen's order: `EINVAL` out of range, `EPERM` not mapped,
/// `EEXIST` already bound, the port allocation's, `EBUSY` for a line xen-core keeps.
pub fn bind(dom: &mut Domain, pirq: u32) -> Result<EvtchnPort, Errno> {
    let gsi = dom.pirqs.bindable(pirq, dom.events.nr_pirqs())?;
    // A line that is not routable never gets a port, so `ops::bind_pirq`'s own `EEXIST` for
    // a bound PIRQ keeps its place before `EBUSY`.
    if !lines::routable(gsi) {
        return Err(Errno::Busy);
    }
    let port = ops::bind_pirq(&mut dom.events, pirq)?;
    pirq_irq::set_line(gsi, true);
    Ok(port)
}

/// A port bound to `pirq` was closed in the domain whose table is `pirqs`: its line is masked (if the PIRQ is still
/// mapped; a PIRQ unmapped while bound let its line go then) and a stale PIRQ is forgotten.
pub fn unbound(pirqs: &mut PirqTable, pirq: u32) {
    if let Some(gsi) = pirqs.unbound(pirq) {
        pirq_irq::set_line(gsi, false);
    }
}

/// The interrupt handler's hook for ISA line `irq` (EOI done). From a guest the hypervisor
/// state is free, so the event is raised at once; otherwise the scheduler raises it.
pub fn on_interrupt(irq: u32, from_guest: bool) {
    if irq < NR_ISA_IRQS {
        FIRED.fetch_or(1 << irq, Ordering::Relaxed);
    }
    if from_guest {
        HV.with(|hv| {
            if let Some(hv) = hv.as_mut() {
                notify(hv);
            }
        });
    }
}

/// Raises the port bound to each line that fired in the hardware domain, waking it if it
/// waits for that (called by the scheduler at each decision, and after an interrupt).
pub fn notify(hv: &mut Hypervisor) {
    let fired = FIRED.swap(0, Ordering::Relaxed);
    if fired == 0 {
        return;
    }
    for irq in (0..NR_ISA_IRQS).filter(|i| fired & (1 << i) != 0) {
        let delivered = match hv.current.as_deref_mut() {
            Some(cur) if cur.is_hardware() => raise_line(cur, irq),
            _ => match hv.domains.iter_mut().find(|(_, d)| d.is_hardware()) {
                Some((_, dom)) => {
                    let delivered = raise_line(dom, irq);
                    schedule::kick(&mut hv.sched, dom);
                    delivered
                }
                None => false,
            },
        };
        if !delivered
            && let Some(count) = DROPPED.get(irq as usize)
            && count.fetch_add(1, Ordering::Relaxed) == 0
        {
            log::info!("IRQ {irq} has no port bound: its interrupts are dropped");
        }
    }
}

/// Marks the port bound to the PIRQ of line `irq` pending in `dom`; false if there is none.
fn raise_line(dom: &mut Domain, irq: u32) -> bool {
    let Some(pirq) = dom.pirqs.pirq_of_gsi(irq) else {
        return false;
    };
    if dom.events.pirq_port(pirq).is_none() {
        return false;
    }
    let delivery = raise::send_pirq(&dom.events, &dom.event_bits(), pirq);
    dom.note_delivery(delivery);
    true
}
