//! Events Xen raises itself: VIRQs (timer, console, DOM_EXC, ...) and physical IRQs routed to a domain.

use super::port_table::{PortState, PortTable};
use super::two_level::{self, Delivery, EventBits};
use super::virq::Virq;

/// Raises `virq` in the domain of `table`. A per-vCPU VIRQ goes to the port
/// bound on `vcpu`; a global VIRQ goes to the port bound on vCPU 0, delivered
/// to whichever vCPU that port notifies (`vcpu` is ignored). Nothing happens
/// when the VIRQ is not bound. The delivery is for that domain.
pub fn send_virq<B: EventBits + ?Sized>(
    table: &PortTable,
    bits: &B,
    vcpu: u32,
    virq: Virq,
) -> Delivery {
    let Some(port) = table.virq_port(vcpu, virq) else {
        return Delivery::NONE;
    };
    match table.channel(port) {
        Some(c) if c.state == PortState::Virq(virq) => {
            two_level::set_pending(bits, c.notify_vcpu, port)
        }
        _ => Delivery::NONE,
    }
}

/// Raises a global VIRQ such as `VIRQ_DOM_EXC` or `VIRQ_CONSOLE`; the caller
/// picks the handling domain (Xen: the hardware domain unless another was
/// set).
pub fn send_global_virq<B: EventBits + ?Sized>(
    table: &PortTable,
    bits: &B,
    virq: Virq,
) -> Delivery {
    send_virq(table, bits, 0, virq)
}

/// Raises physical IRQ `pirq` in the domain it is bound to; nothing happens
/// when it is not bound.
pub fn send_pirq<B: EventBits + ?Sized>(table: &PortTable, bits: &B, pirq: u32) -> Delivery {
    let Some(port) = table.pirq_port(pirq) else {
        return Delivery::NONE;
    };
    match table.channel(port) {
        Some(c) if c.state == PortState::Pirq(pirq) => {
            two_level::set_pending(bits, c.notify_vcpu, port)
        }
        _ => Delivery::NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ops;
    use crate::event::port_table::TableLimits;
    use crate::event::two_level::mock::MockBits;

    fn table() -> PortTable {
        PortTable::new(
            0,
            TableLimits {
                max_evtchn_port: u32::MAX,
                nr_vcpus: 3,
                nr_pirqs: 64,
            },
        )
        .unwrap()
    }

    #[test]
    fn per_vcpu_virq_goes_to_its_vcpu() {
        let mut t = table();
        let bits = MockBits::new(3);
        let p1 = ops::bind_virq(&mut t, Virq::TIMER, 1).unwrap();
        let p2 = ops::bind_virq(&mut t, Virq::TIMER, 2).unwrap();
        let d = send_virq(&t, &bits, 2, Virq::TIMER);
        assert_eq!(d.kick, Some(2));
        assert_eq!(d.newly_pending, Some(p2));
        assert!(bits.pending(p2) && !bits.pending(p1));
        assert_eq!(send_virq(&t, &bits, 0, Virq::TIMER), Delivery::NONE);
        assert_eq!(send_virq(&t, &bits, 9, Virq::TIMER), Delivery::NONE);
        assert_eq!(send_virq(&t, &bits, 1, Virq::DEBUG), Delivery::NONE);
    }

    #[test]
    fn global_virq_follows_bind_vcpu() {
        let mut t = table();
        let bits = MockBits::new(3);
        assert_eq!(send_global_virq(&t, &bits, Virq::DOM_EXC), Delivery::NONE);
        let p = ops::bind_virq(&mut t, Virq::DOM_EXC, 0).unwrap();
        ops::bind_vcpu(&mut t, p, 2).unwrap();
        let d = send_global_virq(&t, &bits, Virq::DOM_EXC);
        assert_eq!(d.kick, Some(2));
        assert!(bits.pending(p) && bits.upcall(2) && !bits.upcall(0));
        // The vCPU argument does not matter for a global VIRQ.
        bits.guest_ack(2);
        bits.guest_clear(p);
        assert_eq!(send_virq(&t, &bits, 1, Virq::DOM_EXC).kick, Some(2));
    }

    #[test]
    fn masked_virq_stays_pending_until_unmasked() {
        let mut t = table();
        let bits = MockBits::new(3);
        let p = ops::bind_virq(&mut t, Virq::TIMER, 0).unwrap();
        bits.set_mask(p, true);
        let d = send_virq(&t, &bits, 0, Virq::TIMER);
        assert_eq!(d.kick, None);
        assert_eq!(d.newly_pending, Some(p));
        assert_eq!(ops::unmask(&t, &bits, p).unwrap().kick, Some(0));
    }

    #[test]
    fn pirq_goes_to_its_port() {
        let mut t = table();
        let bits = MockBits::new(3);
        assert_eq!(send_pirq(&t, &bits, 5), Delivery::NONE);
        let p = ops::bind_pirq(&mut t, 5).unwrap();
        ops::bind_vcpu(&mut t, p, 1).unwrap();
        assert_eq!(send_pirq(&t, &bits, 5).kick, Some(1));
        assert_eq!(send_pirq(&t, &bits, u32::MAX), Delivery::NONE);
        let ab = MockBits::new(3);
        ops::close(&mut t, &ab, None, p).unwrap();
        assert_eq!(send_pirq(&t, &ab, 5), Delivery::NONE);
    }
}
