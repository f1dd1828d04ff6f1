//! The credit scheduler's shares: spinning DomUs with weights 512 and 256 get CPU time 2:1, a 25% cap holds (within 10%).

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417_with, succeeds_on_xen_core_with};
use tests::scenario::Scenario;

fn with_domu_image(scenario: Scenario) -> Scenario {
    scenario.guest_ramdisk()
}

#[test]
fn weights_512_and_256_share_the_cpu_2_to_1_on_xen_417() {
    succeeds_on_xen_417_with("domains=weights", with_domu_image);
}

#[test]
fn a_25_percent_cap_holds_on_xen_417() {
    succeeds_on_xen_417_with("domains=cap", with_domu_image);
}

#[test]
fn weights_512_and_256_share_the_cpu_2_to_1_on_xen_core() {
    succeeds_on_xen_core_with("domains=weights", with_domu_image);
}

#[test]
fn a_25_percent_cap_holds_on_xen_core() {
    succeeds_on_xen_core_with("domains=cap", with_domu_image);
}
