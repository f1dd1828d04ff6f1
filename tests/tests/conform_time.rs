//! The time conformance guest (vcpu_time_info, wall clock, timers, block, poll) passes on Xen 4.17 and xen-core.

#![forbid(unsafe_code)]

use tests::guest_verdict;

#[test]
fn succeeds_on_xen_core() {
    guest_verdict::succeeds_on_xen_core("conform=time");
}

#[test]
fn succeeds_on_xen_417() {
    guest_verdict::succeeds_on_xen_417("conform=time");
}
