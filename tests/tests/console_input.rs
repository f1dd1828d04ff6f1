//! Dom0's console input through the hypervisor's serial line: lines typed at Dom0's prompt reach it (`console=echo`).

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417_with, succeeds_on_xen_core_with};
use xtask::qemu::Run;

/// Typed at `dom0# ` prompts, one line each time the prompt is back (the first only once Dom0
/// prompts: Xen 4.17 hands serial input to Dom0 at the end of its boot).
const SCRIPT: &str = "\
# console=echo answers every line and stops at `done`
hello
two  words\ttab
@wait got \"two  words tab\"
done
";

/// The lines Dom0 must have echoed, in order.
const ECHOED: [&str; 2] = ["echo: got \"hello\"", "echo: got \"two  words tab\""];

fn check_echoes(run: &Run) {
    let lines: Vec<&str> = run
        .output
        .lines()
        .map(str::trim_end)
        .filter(|line| line.starts_with("echo: got"))
        .collect();
    assert_eq!(lines, ECHOED, "{}", run.report(40));
    assert!(
        run.output.contains("echo: 2 lines, done"),
        "{}",
        run.report(40)
    );
    assert!(run.input_done, "the script was not typed to its end");
}

#[test]
fn typed_lines_reach_dom0_on_xen_core() {
    let run = succeeds_on_xen_core_with("console=echo", |s| s.input(SCRIPT));
    check_echoes(&run);
}

#[test]
fn typed_lines_reach_dom0_on_xen_417() {
    if let Some(run) = succeeds_on_xen_417_with("console=echo", |s| s.input(SCRIPT)) {
        check_echoes(&run);
    }
}

/// Far more than the hypervisor's 128-byte ring and the UART's FIFO, typed without waiting for
/// prompts: nothing is lost (the full ring leaves bytes in the UART, which holds the rest back).
#[test]
fn input_typed_ahead_of_dom0_is_not_lost_on_xen_core() {
    let count = 120;
    let mut script: String = (1..=count)
        .map(|i| format!("@send line {i:03} of the text typed ahead of the prompt\n"))
        .collect();
    script.push_str("@send done\n");
    let run = succeeds_on_xen_core_with("console=echo", |s| s.input(&script));
    for i in 1..=count {
        let echoed = format!("echo: got \"line {i:03} of the text typed ahead of the prompt\"");
        assert!(
            run.output.contains(&echoed),
            "missing {echoed}\n{}",
            run.report(40)
        );
    }
    assert!(run.output.contains(&format!("echo: {count} lines, done")));
}
