//! The CPU conformance guests (traps, user mode, FPU, descriptor tables, privileged instructions) pass on xen-core and on Xen 4.17.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::xen_417_or_skip;
use tests::markers::TEST_SUCCESS;
use tests::report::context;
use tests::scenario::Scenario;

/// The banner line the guest prints once it has picked the area (so a mistyped word, which
/// would run the self-test instead, cannot pass).
fn banner(area: &str) -> String {
    format!("CPU conformance guest conform={area}")
}

/// Boots `conform=<area>` on xen-core and requires `Test result: SUCCESS` and a clean power-off.
fn passes_on_xen_core(area: &str) {
    let run = Scenario::xen_core(&format!("conform={area}"))
        .stop_when(tests::guest_verdict::verdict_line_done)
        .linger(Duration::from_secs(30))
        .timeout(Duration::from_secs(180))
        .boot();
    let why = context(&run);
    assert!(
        run.output.contains(&banner(area)),
        "the guest did not start conform={area}\n{why}"
    );
    assert!(
        run.output.contains(TEST_SUCCESS),
        "conform={area} did not pass on xen-core\n{why}"
    );
    assert!(!run.output.contains("PANIC"), "xen-core panicked\n{why}");
    assert_eq!(run.status, Some(0), "Dom0 did not power off cleanly\n{why}");
}

/// Boots `conform=<area>` on Xen 4.17 (skipping, with a message, when the image is not
/// available) and requires `Test result: SUCCESS`.
fn passes_on_xen_417(area: &str) {
    let Some(xen) = xen_417_or_skip() else { return };
    let run = Scenario::xen_417(xen, &format!("conform={area}"))
        .stop_when(tests::guest_verdict::verdict_line_done)
        .timeout(Duration::from_secs(300))
        .boot();
    let why = context(&run);
    assert!(
        !run.timed_out,
        "no verdict from conform={area} on Xen 4.17\n{why}"
    );
    assert!(
        run.output.contains(&banner(area)),
        "the guest did not start conform={area}\n{why}"
    );
    assert!(
        run.output.contains(TEST_SUCCESS),
        "conform={area} did not pass on Xen 4.17\n{why}"
    );
}

#[test]
fn traps_pass_on_xen_core() {
    passes_on_xen_core("traps");
}

#[test]
fn traps_pass_on_xen_417() {
    passes_on_xen_417("traps");
}

/// `int n` through vectors that Xen's own IDT gates at DPL 0 (a DPL-3, DPL-1 and DPL-0 guest
/// gate, no gate, #BR): xen-core only. Under QEMU 7.2 such an `int n` reaches the hypervisor
/// as #GP with a wrong error code ((n << 4) | 2 instead of (n << 3) | 2, QEMU bug #1382, fixed
/// in QEMU 8.0); Xen 4.17 trusts the error code, so it looks up the gate of vector 2n: there
/// `int $0x40` through a DPL-3 gate arrives as vector 0x80, and the refused ones as #GP with
/// QEMU's code (0x412, 0x422, ...). xen-core decodes the `int n` instruction instead.
/// Vectors #BP, #OF and 0x80, which Xen gates at DPL 3, are compared on both hypervisors by
/// the traps guest.
#[test]
fn software_interrupts_pass_on_xen_core() {
    passes_on_xen_core("softint");
}

#[test]
fn user_mode_passes_on_xen_core() {
    passes_on_xen_core("user");
}

#[test]
fn user_mode_passes_on_xen_417() {
    passes_on_xen_417("user");
}

#[test]
fn fpu_passes_on_xen_core() {
    passes_on_xen_core("fpu");
}

#[test]
fn fpu_passes_on_xen_417() {
    passes_on_xen_417("fpu");
}

#[test]
fn descriptor_tables_pass_on_xen_core() {
    passes_on_xen_core("desc");
}

#[test]
fn descriptor_tables_pass_on_xen_417() {
    passes_on_xen_417("desc");
}

#[test]
fn privileged_instructions_pass_on_xen_core() {
    passes_on_xen_core("priv");
}

#[test]
fn privileged_instructions_pass_on_xen_417() {
    passes_on_xen_417("priv");
}
