//! The xl system driven by a script through Dom0's console, on either hypervisor, and reading its answers.

use std::time::Duration;

use xtask::qemu::Run;

use crate::images::{images, xen_417_or_skip};
use crate::scenario::Scenario;

/// The hypervisors the xl system runs on.
#[derive(Clone, Copy, Debug)]
pub enum On {
    /// xen-core.
    XenCore,
    /// The reference Xen 4.17.
    Xen417,
}

/// Dom0's arguments: the xl shell, no autostart domains.
pub const ARGS: &str = "xl xl.autostart=0";

/// Boots the xl system without the autostart domains and types `script`, then `exit`; None
/// when Xen 4.17 is not available (the test is then skipped, as the other Xen tests are).
pub fn xl_on(on: On, script: &str) -> Option<Run> {
    xl_on_with(on, script, |scenario| scenario)
}

/// As [`xl_on`], with `configure` adding to the scenario (a disk, say) before it boots.
pub fn xl_on_with(
    on: On,
    script: &str,
    configure: impl FnOnce(Scenario) -> Scenario,
) -> Option<Run> {
    let mut all = String::from(script);
    all.push_str("exit\n");
    let scenario = match on {
        On::XenCore => Scenario::xen_core(ARGS),
        On::Xen417 => Scenario::xen_417(xen_417_or_skip()?, ARGS),
    };
    let run = configure(
        scenario
            .ramdisk(images().dom0_ramdisk.clone())
            .input(&all)
            .stop_at("xl: shell ended")
            .linger(Duration::from_secs(30))
            .timeout(Duration::from_secs(600)),
    )
    .boot();
    for word in ["PANIC", "panic"] {
        assert!(
            !run.output.contains(word),
            "{on:?}: a panic\n{}",
            run.report(60)
        );
    }
    assert!(
        run.input_done,
        "{on:?}: the script was not typed to its end\n{}",
        run.report(60)
    );
    Some(run)
}

/// The text printed between the echo of `command` at the prompt and the next prompt, for the
/// `nth` time `command` was typed.
pub fn answer(run: &Run, command: &str, nth: usize) -> String {
    answer_at(run, "dom0# ", command, nth)
}

/// As [`answer`], for a command typed at `prompt` (`domu# ` in a guest's console, say); the
/// answer ends at the next such prompt or Dom0's.
pub fn answer_at(run: &Run, prompt: &str, command: &str, nth: usize) -> String {
    let output = run.output.replace('\r', "");
    let echo = format!("{prompt}{command}\n");
    let start = output
        .match_indices(&echo)
        .nth(nth)
        .map(|(i, _)| i + echo.len())
        .unwrap_or_else(|| panic!("no `{command}` (#{nth}) at a prompt\n{}", run.report(60)));
    let rest = &output[start..];
    let end = [prompt, "dom0# "]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Rows of `xl list` output: (name, id, state).
pub fn listed(text: &str) -> Vec<(String, u32, String)> {
    text.lines()
        .skip_while(|l| !l.starts_with("Name "))
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 6).then(|| {
                (
                    w[0].to_string(),
                    w[1].parse().unwrap_or(u32::MAX),
                    w[4].to_string(),
                )
            })
        })
        .collect()
}
