//! A guest that faults without a handler, or writes to the hypervisor's range, crashes alone.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::xen_417_or_skip;
use tests::markers::{DOM0_CRASHED, HARDWARE_DOM0_CRASHED, dom0_crash_reported};
use tests::report::context;
use tests::scenario::Scenario;
use xtask::exit_code;

/// The address the guest writes to in `fault=hvwrite`: the start of xen-core's direct map.
const HYPERVISOR_ADDRESS: &str = "ffff830000000000";

/// Boots the guest with `guest_args` on xen-core and checks that only Dom0 went down.
fn crashes_only_the_guest_on_xen_core(guest_args: &str, also_expected: &[&str]) {
    let run = Scenario::xen_core(guest_args)
        .stop_when(dom0_crash_reported)
        .linger(Duration::from_secs(30))
        .timeout(Duration::from_secs(180))
        .boot();
    let why = context(&run);
    assert!(dom0_crash_reported(&run.output), "no crash report\n{why}");
    assert!(!run.output.contains("PANIC"), "xen-core panicked\n{why}");
    assert!(
        !run.output.contains("fatal"),
        "xen-core hit a fatal error\n{why}"
    );
    for text in also_expected {
        assert!(
            run.output.contains(text),
            "`{text}` is not in the output\n{why}"
        );
    }
    assert_eq!(
        run.status,
        Some(exit_code::DOM0_CRASHED),
        "QEMU did not exit with `Dom0 crashed`\n{why}"
    );
}

/// Boots the guest with `guest_args` on Xen 4.17 (if available) and checks that Xen reports the crash.
fn crashes_the_guest_on_xen_417(guest_args: &str) {
    let Some(xen) = xen_417_or_skip() else { return };
    let run = Scenario::xen_417(xen, guest_args)
        .stop_when(|out| out.contains(HARDWARE_DOM0_CRASHED) || out.contains(DOM0_CRASHED))
        .timeout(Duration::from_secs(300))
        .boot();
    let why = context(&run);
    assert!(
        dom0_crash_reported(&run.output),
        "Xen 4.17 reported no Dom0 crash\n{why}"
    );
}

#[test]
fn fault_without_handler_crashes_only_the_guest() {
    crashes_only_the_guest_on_xen_core("fault=nohandler", &["page fault", "no handler registered"]);
}

#[test]
fn write_to_hypervisor_address_crashes_only_the_guest() {
    crashes_only_the_guest_on_xen_core(
        "fault=hvwrite",
        &["page fault", "no handler registered", HYPERVISOR_ADDRESS],
    );
}

#[test]
fn fault_without_handler_crashes_the_guest_on_xen_417() {
    crashes_the_guest_on_xen_417("fault=nohandler");
}

#[test]
fn write_to_hypervisor_address_crashes_the_guest_on_xen_417() {
    crashes_the_guest_on_xen_417("fault=hvwrite");
}
