//! Running one test guest to its verdict on either hypervisor, requiring `Test result: SUCCESS`.

use std::time::Duration;

use crate::images::xen_417_or_skip;
use crate::markers::{TEST_RESULT, TEST_SUCCESS, dom0_crash_reported};
use crate::report::context;
use crate::scenario::Scenario;
use xtask::qemu::Run;

/// The guest's `FAIL ...` lines, one per failed check.
pub fn failed_checks(output: &str) -> Vec<&str> {
    output
        .lines()
        .map(str::trim_end)
        .filter(|line| line.starts_with("FAIL "))
        .collect()
}

/// Whether the guest's whole verdict line arrived (the serial log can end mid-line, after
/// "Test result:" and before the word that matters).
pub fn verdict_line_done(output: &str) -> bool {
    output
        .find(TEST_RESULT)
        .is_some_and(|at| output[at..].contains('\n'))
}

/// Whether the run is over: the guest printed its verdict, or Dom0 crashed.
fn finished(output: &str) -> bool {
    verdict_line_done(output) || dom0_crash_reported(output)
}

/// Boots the guest with `guest_args` on xen-core and requires SUCCESS, a clean power-off, and
/// no panic or fatal error of the hypervisor.
pub fn succeeds_on_xen_core(guest_args: &str) {
    succeeds_on_xen_core_with(guest_args, |s| s);
}

/// As [`succeeds_on_xen_core`], with the scenario adjusted by `setup` first (a ramdisk, say);
/// returns the run for further checks.
pub fn succeeds_on_xen_core_with(
    guest_args: &str,
    setup: impl FnOnce(Scenario) -> Scenario,
) -> Run {
    let run = setup(Scenario::xen_core(guest_args))
        .stop_when(finished)
        .linger(Duration::from_secs(30))
        .timeout(Duration::from_secs(180))
        .boot();
    let why = context(&run);
    let failed = failed_checks(&run.output).join("\n");
    assert!(!run.output.contains("PANIC"), "xen-core panicked\n{why}");
    assert!(
        !run.output.contains("fatal"),
        "xen-core hit a fatal error\n{why}"
    );
    assert!(
        run.output.contains(TEST_SUCCESS),
        "`{guest_args}` did not pass on xen-core; failed checks:\n{failed}\n{why}"
    );
    assert_eq!(run.status, Some(0), "Dom0 did not power off cleanly\n{why}");
    run
}

/// Boots the guest with `guest_args` on Xen 4.17 (skipping with a message when the image is
/// not available) and requires SUCCESS.
pub fn succeeds_on_xen_417(guest_args: &str) {
    succeeds_on_xen_417_with(guest_args, |s| s);
}

/// As [`succeeds_on_xen_417`], with the scenario adjusted by `setup` first (a ramdisk, say);
/// returns the run for further checks (None when Xen 4.17 is not available).
pub fn succeeds_on_xen_417_with(
    guest_args: &str,
    setup: impl FnOnce(Scenario) -> Scenario,
) -> Option<Run> {
    let xen = xen_417_or_skip()?;
    let run = setup(Scenario::xen_417(xen, guest_args))
        .stop_when(finished)
        .timeout(Duration::from_secs(300))
        .boot();
    let why = context(&run);
    let failed = failed_checks(&run.output).join("\n");
    assert!(!run.timed_out, "no verdict on Xen 4.17\n{why}");
    assert!(
        run.output.contains(TEST_SUCCESS),
        "`{guest_args}` did not pass on Xen 4.17; failed checks:\n{failed}\n{why}"
    );
    Some(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_the_failed_checks() {
        let out = "PASS a\r\nFAIL b: x is 1, expected 2\r\nPASS c\r\nFAIL d: faulted\r\n";
        assert_eq!(
            failed_checks(out),
            ["FAIL b: x is 1, expected 2", "FAIL d: faulted"]
        );
        assert!(failed_checks("PASS a\r\n").is_empty());
    }

    #[test]
    fn a_verdict_or_a_crash_ends_the_run() {
        assert!(finished("PASS a\r\nTest result: FAILURE\r\n"));
        assert!(finished("(XEN) Hardware Dom0 crashed: 'noreboot' set\r\n"));
        assert!(!finished("PASS a\r\n"));
    }
}
