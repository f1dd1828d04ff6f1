//! The grant-table conformance guest (grant_table_op on self-grants) passes on xen-core and Xen 4.17.
//!
//! Xen 4.17 offers grant tables v2 by default (`gnttab=max-ver:2`), so set_version(2) would
//! switch its table to v2; xen-core implements v1 only. The reference runs with
//! `gnttab=max-ver:1`, Xen's own configuration for a v1-only hypervisor, where set_version(2)
//! answers -ENOSYS as it does on xen-core.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::guest_verdict::{failed_checks, succeeds_on_xen_core};
use tests::images::{images, xen_417_or_skip};
use tests::markers::{TEST_RESULT, TEST_SUCCESS, dom0_crash_reported};
use tests::report::context;
use tests::scenario::Scenario;
use xtask::boot::{Boot, Hypervisor};
use xtask::qemu::RunOptions;

/// The guest's arguments.
const GUEST_ARGS: &str = "conform=grants";
/// Xen 4.17 with grant tables v1 only, as xen-core.
const XEN_V1_ONLY: &str = "gnttab=max-ver:1";

#[test]
fn grants_conform_on_xen_core() {
    succeeds_on_xen_core(GUEST_ARGS);
}

#[test]
fn grants_conform_on_xen_417() {
    let Some(xen) = xen_417_or_skip() else { return };
    let mut boot = Boot::new(Hypervisor::Xen417, xen, images().guest.clone());
    boot.dom0_args = GUEST_ARGS.to_string();
    boot.extra_cmdline = XEN_V1_ONLY.to_string();
    let options = RunOptions::until_exit(Duration::from_secs(300))
        .stop_when(|out| out.contains(TEST_RESULT) || dom0_crash_reported(out));
    let run = Scenario::from_parts(boot, options).boot();
    let why = context(&run);
    let failed = failed_checks(&run.output).join("\n");
    assert!(!run.timed_out, "no verdict on Xen 4.17\n{why}");
    assert!(
        run.output.contains(TEST_SUCCESS),
        "`{GUEST_ARGS}` did not pass on Xen 4.17; failed checks:\n{failed}\n{why}"
    );
}
