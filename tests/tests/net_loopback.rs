//! The guest's network glue (smoltcp over a `NetLink` device) carries ping and TCP between two hosts on an in-memory wire, on xen-core and on Xen 4.17.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417, succeeds_on_xen_core};

/// The guest's arguments.
const GUEST_ARGS: &str = "net=loopback";

#[test]
fn smoltcp_over_a_wire_on_xen_core() {
    succeeds_on_xen_core(GUEST_ARGS);
}

#[test]
fn smoltcp_over_a_wire_on_xen_417() {
    succeeds_on_xen_417(GUEST_ARGS);
}
