//! Event channels in the running hypervisor: port tables for new domains, VIRQs, and upcall delivery.

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;
use xen_core::domain_table::DomainTable;
use xen_core::event::ops::{self, PeerTables};
use xen_core::event::port_table::{PortState, PortTable, TableLimits};
use xen_core::event::raise;
use xen_core::event::virq::Virq;
use xen_core::guest_regs::GuestRegs;
use xen_core::pirq::table::PirqTable;

use crate::arch::x86_64::entry;
use crate::domain::{Caps, Domain, Shutdown};
use crate::guest_trap;
use crate::hypercall::dispatch::Exit;
use crate::hypervisor::State;

/// Static IRQs (GSIs) of the machine, as Xen counts them for a domain's PIRQ space.
const NR_STATIC_IRQS: u32 = 24;
/// PIRQs a domain gets beyond the static ones (Xen's `extra_domU_pirqs` default).
const EXTRA_DOMU_PIRQS: u32 = 32;
/// PIRQs the hardware domain gets beyond the static ones (for MSIs).
const EXTRA_HWDOM_PIRQS: u32 = 256;

/// The port table for new domain `id` with one vCPU: port 0 reserved, ports up to
/// `max_evtchn_port` (createdomain's field; `u32::MAX` for Xen's "no limit", as Dom0 has; the
/// 2-level ABI stops at 4095 anyway), and a PIRQ space sized as Xen sizes it for the domain's
/// role. `ENOMEM` when the heap is out.
pub fn new_port_table(id: DomId, caps: Caps, max_evtchn_port: u32) -> Result<PortTable, Errno> {
    let extra = if caps.contains(Caps::HARDWARE) {
        EXTRA_HWDOM_PIRQS
    } else {
        EXTRA_DOMU_PIRQS
    };
    PortTable::new(
        id,
        TableLimits {
            max_evtchn_port,
            nr_vcpus: 1,
            nr_pirqs: NR_STATIC_IRQS + extra,
        },
    )
}

/// Raises VIRQ `virq` (a `VIRQ_*` number) in `dom`: for a per-vCPU VIRQ (timer, debug) the
/// port bound on vCPU 0, for a global one the port bound on vCPU 0 delivered to whichever vCPU
/// it notifies. Nothing happens when it is not bound or the number is out of range. Whether
/// the domain must be woken is left in `dom.event_kick` / `dom.poll_wake`.
pub fn send_virq(dom: &mut Domain, virq: u32) {
    let Some(virq) = Virq::new(virq) else {
        return;
    };
    let delivery = raise::send_virq(&dom.events, &dom.event_bits(), 0, virq);
    dom.note_delivery(delivery);
}

/// Raises global VIRQ `virq` (such as `VIRQ_DOM_EXC` or `VIRQ_CONSOLE`) in the domain that
/// handles it: the hardware domain, as in Xen without a `set_global_virq_handler`. Nothing
/// happens when there is none or it has not bound the VIRQ.
pub fn send_global_virq(st: &mut State<'_>, virq: u32) {
    if st.dom.is_hardware() {
        send_global_virq_to(st.dom, virq);
    } else if let Some((_, dom)) = st.domains.iter_mut().find(|(_, d)| d.is_hardware()) {
        send_global_virq_to(dom, virq);
    }
}

/// Raises global VIRQ `virq` in `dom` (which the caller picked as its handler).
pub fn send_global_virq_to(dom: &mut Domain, virq: u32) {
    let Some(virq) = Virq::new(virq) else {
        return;
    };
    let delivery = raise::send_global_virq(&dom.events, &dom.event_bits(), virq);
    dom.note_delivery(delivery);
}

/// The other domains' tables while one domain's ports are all closed: `caller` is the
/// running domain when it is not the one being closed (which is then out of `domains`).
struct Peers<'a> {
    caller: Option<&'a mut Domain>,
    domains: &'a mut DomainTable<Domain>,
    /// The PIRQs of the domain whose ports are closed.
    pirqs: &'a mut PirqTable,
}

impl PeerTables for Peers<'_> {
    fn with_table(&mut self, dom: DomId, f: &mut dyn FnMut(Option<&mut PortTable>)) {
        let peer = match self.caller.as_deref_mut() {
            Some(caller) if caller.id == dom => Some(caller),
            _ => self.domains.get_mut(dom),
        };
        f(peer.map(|d| &mut d.events));
    }

    fn closed(&mut self, _port: EvtchnPort, was: PortState) {
        if let PortState::Pirq(pirq) = was {
            crate::pirq_glue::unbound(self.pirqs, pirq);
        }
    }
}

/// Closes every port of `target` as EVTCHNOP_reset does: the other end of each interdomain
/// port goes back to unbound, waiting for `target`. `domains` holds the other domains; pass
/// the running domain as `caller` when `target` is not it (and `target` was taken out of
/// `domains`). For domain destruction, call `target.events.set_dying()` first so that nothing
/// binds again. `EAGAIN` only if a port stayed open (never with consistent tables).
pub fn close_all_ports(
    target: &mut Domain,
    caller: Option<&mut Domain>,
    domains: &mut DomainTable<Domain>,
) -> Result<(), Errno> {
    let bits = target.event_bits();
    let mut peers = Peers {
        caller,
        domains,
        pirqs: &mut target.pirqs,
    };
    ops::reset(&mut target.events, &bits, &mut peers)
}

/// Makes `dom`'s vCPU the one whose upcall the hypercall fast path checks: call it whenever
/// `dom` becomes the running domain (before its first return to the guest).
pub fn load_vcpu(dom: &Domain) {
    if let Some(info) = dom.event_bits().vcpu_info(0) {
        entry::set_upcall_vcpu_info(info);
    }
}

/// The last step before any return to `dom`'s guest with `regs`: if its vCPU has an event
/// upcall pending and events are not masked (`evtchn_upcall_pending` set,
/// `evtchn_upcall_mask` clear), bounce to the registered event callback with events masked,
/// the saved mask in the frame's CS, as Xen's `test_all_events` does.
///
/// Returns [`Exit::Sysret`] when there was nothing to deliver (`regs` unchanged),
/// [`Exit::Iret`] when the frame now enters the callback, and [`Exit::Stop`] when the guest
/// was crashed: no callback registered, or a kernel stack the frame cannot be written to (as
/// in Xen).
pub fn deliver_upcall(dom: &mut Domain, regs: &mut GuestRegs) -> Exit {
    if !dom.event_bits().upcall_state(0).deliverable() {
        return Exit::Sysret;
    }
    let callback = dom.vcpu.event_callback.address;
    if callback == 0 {
        return dom.shut_down(
            Shutdown::Crash,
            format_args!("event upcall with no event callback registered"),
        );
    }
    // The event callback always starts with events masked (Xen's TBF_INTERRUPT), whatever
    // flags it was registered with.
    guest_trap::deliver(dom, regs, callback, None, true)
}
