//! The legacy interrupt lines: which ISA IRQs xen-core keeps for itself and which it can route to the hardware domain.
//
// xen-core drives the two 8259 PICs (no IO-APIC), so the machine's GSIs are the 16 ISA IRQs.
// PIRQ numbers still follow Xen's layout for a machine with one 24-pin IO-APIC: GSIs 0-23
// own PIRQs 0-23 when a domain maps them "as is", and the PIRQs the hypervisor chooses
// start at 16.

/// GSIs as Xen counts them for PIRQ numbering (`nr_irqs_gsi` with one 24-pin IO-APIC).
pub const NR_GSIS: u32 = 24;
/// ISA IRQs: the lines of the two PICs.
pub const NR_ISA_IRQS: u32 = 16;
/// The PIT's line, xen-core's (Xen keeps IRQ 0 from the hardware domain as well).
pub const TIMER_IRQ: u32 = 0;
/// The slave PIC's cascade into the master.
pub const CASCADE_IRQ: u32 = 2;
/// COM1, xen-core's console.
pub const COM1_IRQ: u32 = 4;

/// Whether the hardware domain may have access to `irq` at all (Xen's
/// `irq_access_permitted`): every GSI but the timer's.
pub fn access_permitted(irq: u32) -> bool {
    irq != TIMER_IRQ && irq < NR_GSIS
}

/// Whether xen-core handles `irq` itself, so that no domain can bind it (Xen: the IRQ has a
/// handler of its own and `pirq_guest_bind` answers `EBUSY`).
pub fn kept_by_xen(irq: u32) -> bool {
    matches!(irq, TIMER_IRQ | CASCADE_IRQ | COM1_IRQ)
}

/// Whether xen-core has a line for `irq` that a guest can be given: an ISA IRQ it does not keep.
pub fn routable(irq: u32) -> bool {
    irq < NR_ISA_IRQS && !kept_by_xen(irq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xen_core_keeps_timer_cascade_and_com1() {
        let kept: Vec<u32> = (0..NR_GSIS).filter(|&i| kept_by_xen(i)).collect();
        assert_eq!(kept, [0, 2, 4]);
        let routable: Vec<u32> = (0..64).filter(|&i| routable(i)).collect();
        assert_eq!(routable, [1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    }

    #[test]
    fn access_is_every_gsi_but_the_timer() {
        assert!(!access_permitted(0));
        assert!(access_permitted(2));
        assert!(access_permitted(14));
        assert!(access_permitted(23));
        assert!(!access_permitted(24));
        assert!(!access_permitted(u32::MAX));
    }
}
