//! A `domu=shell` DomU built by Dom0 says it is ready, answers commands typed on its console (uptime, mem, busy, count) and powers off on `shutdown`.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417_with, succeeds_on_xen_core_with};
use tests::scenario::Scenario;

fn with_domu_image(scenario: Scenario) -> Scenario {
    scenario.guest_ramdisk()
}

#[test]
fn domu_shell_answers_typed_commands_and_powers_off_on_xen_core() {
    succeeds_on_xen_core_with("domains=shell", with_domu_image);
}

#[test]
fn domu_shell_answers_typed_commands_and_powers_off_on_xen_417() {
    succeeds_on_xen_417_with("domains=shell", with_domu_image);
}
