//! The control-hypercall conformance guest (domctl, sysctl) passes on xen-core and Xen 4.17.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417, succeeds_on_xen_core};

#[test]
fn control_conforms_on_xen_core() {
    succeeds_on_xen_core("conform=control");
}

#[test]
fn control_conforms_on_xen_417() {
    succeeds_on_xen_417("conform=control");
}
