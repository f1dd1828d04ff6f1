//! Two DomUs built by Dom0 ping-pong over an interdomain event channel and share a page by grant map and grant copy; a mapped grant's frame is not freed under its mapper.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417_with, succeeds_on_xen_core_with};
use tests::scenario::Scenario;

fn with_domu_image(scenario: Scenario) -> Scenario {
    scenario.guest_ramdisk()
}

#[test]
fn two_guests_ping_pong_and_share_a_page_by_grant_map_and_copy_on_xen_417() {
    succeeds_on_xen_417_with("domains=pingpong", with_domu_image);
}

#[test]
fn two_guests_ping_pong_and_share_a_page_by_grant_map_and_copy_on_xen_core() {
    succeeds_on_xen_core_with("domains=pingpong", with_domu_image);
}
