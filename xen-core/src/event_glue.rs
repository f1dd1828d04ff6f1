//! Raising events on a domain from xen-core's own sources (VIRQs); replaced by the event-channel work.

use crate::domain::Domain;

/// Raises `virq` (`VIRQ_*`) on `dom`'s vCPU 0 if the domain bound it. Empty for now: replaced
/// by the event-channel work.
pub fn send_virq(dom: &mut Domain, virq: u32) {
    let _ = (dom, virq);
}
