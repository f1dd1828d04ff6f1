//! The event channel conformance guest (ports, sends, masking, upcalls) passes on xen-core and Xen 4.17.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417, succeeds_on_xen_core};

#[test]
fn events_conform_on_xen_core() {
    succeeds_on_xen_core("conform=events");
}

#[test]
fn events_conform_on_xen_417() {
    succeeds_on_xen_417("conform=events");
}
