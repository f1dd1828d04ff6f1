//! The guest's self-test passes on xen-core and on the reference Xen 4.17.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::xen_417_or_skip;
use tests::markers::TEST_SUCCESS;
use tests::report::context;
use tests::scenario::Scenario;

#[test]
fn selftest_passes_on_xen_core() {
    let run = Scenario::xen_core("selftest")
        .stop_when(tests::guest_verdict::verdict_line_done)
        .linger(Duration::from_secs(30))
        .timeout(Duration::from_secs(180))
        .boot();
    let why = context(&run);
    assert!(
        run.output.contains("(XEN) xen-core"),
        "no xen-core boot log\n{why}"
    );
    assert!(
        run.output.contains("pv-guest-kernel"),
        "no Dom0 banner\n{why}"
    );
    assert!(
        run.output.contains(TEST_SUCCESS),
        "the self-test did not pass\n{why}"
    );
    assert_eq!(run.status, Some(0), "Dom0 did not power off cleanly\n{why}");
}

#[test]
fn selftest_passes_on_xen_417() {
    let Some(xen) = xen_417_or_skip() else { return };
    let run = Scenario::xen_417(xen, "selftest")
        .stop_when(tests::guest_verdict::verdict_line_done)
        .timeout(Duration::from_secs(300))
        .boot();
    let why = context(&run);
    assert!(
        !run.timed_out,
        "no verdict from the guest on Xen 4.17\n{why}"
    );
    assert!(
        run.output.contains("pv-guest-kernel"),
        "no Dom0 banner\n{why}"
    );
    assert!(
        run.output.contains(TEST_SUCCESS),
        "the self-test did not pass on Xen 4.17\n{why}"
    );
}
