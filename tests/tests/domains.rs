//! Dom0 builds and manages DomUs (the DomU kernel is Dom0's ramdisk): lifecycle, crash isolation, create/destroy churn.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417_with, succeeds_on_xen_core_with};
use tests::scenario::Scenario;

fn with_domu_image(scenario: Scenario) -> Scenario {
    scenario.guest_ramdisk()
}

#[test]
fn domu_lifecycle_on_xen_417() {
    succeeds_on_xen_417_with("domains=lifecycle", with_domu_image);
}

#[test]
fn crashing_guest_leaves_the_others_running_and_is_reported_to_dom0_on_xen_417() {
    succeeds_on_xen_417_with("domains=crash", with_domu_image);
}

#[test]
fn hundred_creates_and_destroys_give_the_free_frame_count_back_on_xen_417() {
    succeeds_on_xen_417_with("domains=churn", with_domu_image);
}

#[test]
fn domu_lifecycle_on_xen_core() {
    succeeds_on_xen_core_with("domains=lifecycle", with_domu_image);
}

#[test]
fn crashing_guest_leaves_the_others_running_and_is_reported_to_dom0_on_xen_core() {
    succeeds_on_xen_core_with("domains=crash", with_domu_image);
}

#[test]
fn hundred_creates_and_destroys_give_the_free_frame_count_back_on_xen_core() {
    succeeds_on_xen_core_with("domains=churn", with_domu_image);
}
