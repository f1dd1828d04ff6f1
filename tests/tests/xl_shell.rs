//! The `xl` shell in Dom0, driven through its console: create from a config, list, pause, console, destroy, and clear errors that change nothing.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::images;
use tests::scenario::Scenario;
use xtask::qemu::Run;

/// Boots the xl system on xen-core without the autostart domains and types `script`, then `exit`.
fn xl_on_xen_core(script: &str) -> Run {
    let mut all = String::from(script);
    all.push_str("exit\n");
    let run = Scenario::xen_core("xl xl.autostart=0")
        .ramdisk(images().dom0_ramdisk.clone())
        .input(&all)
        .stop_at("xl: shell ended")
        .linger(Duration::from_secs(30))
        .timeout(Duration::from_secs(400))
        .boot();
    assert!(
        !run.output.contains("PANIC"),
        "xen-core panicked\n{}",
        run.report(60)
    );
    assert!(!run.output.contains("panic"), "a panic\n{}", run.report(60));
    assert!(
        run.input_done,
        "the script was not typed to its end\n{}",
        run.report(60)
    );
    run
}

/// The text printed between the echo of `command` at the prompt and the next prompt.
fn answer(run: &Run, command: &str, nth: usize) -> String {
    let output = run.output.replace('\r', "");
    let echo = format!("dom0# {command}\n");
    let start = output
        .match_indices(&echo)
        .nth(nth)
        .map(|(i, _)| i + echo.len())
        .unwrap_or_else(|| panic!("no `{command}` (#{nth}) at a prompt\n{}", run.report(60)));
    let rest = &output[start..];
    rest[..rest.find("dom0# ").unwrap_or(rest.len())].to_string()
}

/// Rows of `xl list` output: (name, id, state).
fn listed(text: &str) -> Vec<(String, u32, String)> {
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

#[test]
fn bad_configs_unknown_domains_and_corrupt_images_are_refused_and_change_nothing() {
    let run = xl_on_xen_core(
        "create /etc/xen/tests/bad.cfg\n\
         create /etc/xen/tests/corrupt.cfg\n\
         create /etc/xen/tests/missing.cfg\n\
         destroy nosuch\n\
         pause 42\n\
         frobnicate\n\
         list\n",
    );
    assert!(
        answer(&run, "create /etc/xen/tests/bad.cfg", 0)
            .contains("/etc/xen/tests/bad.cfg:4: memory: expected a number, got \"lots\""),
        "{}",
        run.report(60)
    );
    let corrupt = answer(&run, "create /etc/xen/tests/corrupt.cfg", 0);
    assert!(corrupt.contains("bad DomU kernel"), "{corrupt}");
    assert!(
        answer(&run, "create /etc/xen/tests/missing.cfg", 0)
            .contains("Failed to read config file: /etc/xen/tests/missing.cfg"),
    );
    assert!(
        answer(&run, "destroy nosuch", 0)
            .contains("nosuch is an invalid domain identifier (rc=-6)")
    );
    assert!(answer(&run, "pause 42", 0).contains("Domain '42' does not exist"));
    assert!(answer(&run, "frobnicate", 0).contains("command not implemented"));
    let rows = listed(&answer(&run, "list", 0));
    assert_eq!(rows.len(), 1, "only Dom0 is left: {rows:?}");
    assert_eq!(rows[0].0, "Domain-0");
}

#[test]
fn a_guest_is_created_listed_paused_unpaused_watched_on_its_console_and_destroyed() {
    let run = xl_on_xen_core(
        "create /etc/xen/tests/spin1.cfg extra=\"domu=ticker\"\n\
         list\n\
         pause spin1\n\
         list\n\
         unpause spin1\n\
         console spin1\n\
         @wait ticker: tick 2\n\
         ^]\n\
         destroy spin1\n\
         list\n",
    );
    let created = listed(&answer(&run, "list", 0));
    let spin = created
        .iter()
        .find(|r| r.0 == "spin1")
        .unwrap_or_else(|| panic!("spin1 not listed: {created:?}\n{}", run.report(60)));
    assert!(spin.1 >= 1);
    let paused = listed(&answer(&run, "list", 1));
    let spin_paused = paused
        .iter()
        .find(|r| r.0 == "spin1")
        .expect("spin1 listed while paused");
    assert_eq!(&spin_paused.2[2..3], "p", "paused state {:?}", spin_paused);
    assert!(run.output.contains("ticker: running"), "{}", run.report(60));
    let after = listed(&answer(&run, "list", 2));
    assert!(
        after.iter().all(|r| r.0 != "spin1"),
        "spin1 still listed: {after:?}"
    );
}
