//! The DomU shell's `blk` commands without a disk: no devices listed, clear errors, and a shell that stays responsive.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::{images, xen_417_or_skip};
use tests::scenario::Scenario;
use xtask::qemu::Run;

/// Dom0's arguments: the xl shell, no autostart domains.
const ARGS: &str = "xl xl.autostart=0";

/// Boots the xl system, types `script` then `exit`; None when Xen 4.17 is wanted but missing.
fn xl_with(xen_417: bool, script: &str) -> Option<Run> {
    let scenario = if xen_417 {
        Scenario::xen_417(xen_417_or_skip()?, ARGS)
    } else {
        Scenario::xen_core(ARGS)
    };
    let run = scenario
        .ramdisk(images().dom0_ramdisk.clone())
        .input(&format!("{script}exit\n"))
        .stop_at("xl: shell ended")
        .linger(Duration::from_secs(30))
        .timeout(Duration::from_secs(600))
        .boot();
    assert!(
        !run.output.to_lowercase().contains("panic"),
        "{}",
        run.report(60)
    );
    assert!(
        run.input_done,
        "the script was not typed to its end\n{}",
        run.report(60)
    );
    Some(run)
}

/// The text between the echo of `command` at the DomU prompt and the next prompt.
fn answer(run: &Run, command: &str) -> String {
    let output = run.output.replace('\r', "");
    let echo = format!("domu# {command}\n");
    let start = output
        .find(&echo)
        .map(|i| i + echo.len())
        .unwrap_or_else(|| panic!("no `{command}` at a domu prompt\n{}", run.report(60)));
    let rest = &output[start..];
    rest[..rest.find("domu# ").unwrap_or(rest.len())].to_string()
}

fn no_disk(xen_417: bool) {
    let Some(run) = xl_with(
        xen_417,
        "create /etc/xen/d1.cfg\n\
         console d1\n\
         @wait domu: ready\n\
         blk\n\
         blk list\n\
         blk read xvda 0 8\n\
         blk bench xvdc 1 qd=32 read\n\
         uptime\n\
         blk read xvda 0\n\
         @wait usage: blk\n\
         ^]\n\
         destroy d1\n",
    ) else {
        return;
    };
    assert_eq!(answer(&run, "blk").trim(), "blk: no block devices");
    assert_eq!(answer(&run, "blk list").trim(), "blk: no block devices");
    assert_eq!(
        answer(&run, "blk read xvda 0 8").trim(),
        "blk: no device xvda"
    );
    assert_eq!(
        answer(&run, "blk bench xvdc 1 qd=32 read").trim(),
        "blk: no device xvdc"
    );
    assert!(answer(&run, "blk read xvda 0").starts_with("usage: blk"));
    assert!(answer(&run, "uptime").starts_with("uptime: "));
}

#[test]
fn a_domu_without_disks_lists_none_on_xen_core() {
    no_disk(false);
}

#[test]
fn a_domu_without_disks_lists_none_on_xen_417() {
    no_disk(true);
}

fn silent_backend(xen_417: bool) {
    let Some(run) = xl_with(
        xen_417,
        "create /etc/xen/d1.cfg\n\
         console d1\n\
         @wait domu: ready\n\
         write device/vbd/51712/backend /local/domain/0/backend/vbd/9/51712\n\
         write device/vbd/51712/backend-id 0\n\
         blk\n\
         blk read xvda 0 8\n\
         uptime\n\
         @wait uptime: \n\
         ^]\n\
         destroy d1\n",
    ) else {
        return;
    };
    assert_eq!(
        answer(&run, "blk").trim(),
        "xvda: not connected (frontend Initialising, backend Unknown)"
    );
    assert_eq!(
        answer(&run, "blk read xvda 0 8").trim(),
        "blk: xvda is not connected (frontend Initialising, backend Unknown)"
    );
    assert!(answer(&run, "uptime").starts_with("uptime: "));
}

#[test]
fn a_backend_that_never_answers_leaves_the_shell_responsive_on_xen_core() {
    silent_backend(false);
}

#[test]
fn a_backend_that_never_answers_leaves_the_shell_responsive_on_xen_417() {
    silent_backend(true);
}

/// A backend played by hand through xenstore (its directory is one the DomU may write): the
/// frontend sets its ring up at InitWait, connects at Connected, times out on a request nobody
/// serves, and closes when the "backend" closes.
fn hand_played_backend(xen_417: bool) {
    let Some(run) = xl_with(
        xen_417,
        "create /etc/xen/d1.cfg\n\
         console d1\n\
         @wait domu: ready\n\
         write data/be/sectors 32768\n\
         write device/vbd/51712/backend-id 0\n\
         write device/vbd/51712/backend /local/domain/1/data/be\n\
         write data/be/state 2\n\
         ls device/vbd/51712\n\
         write data/be/state 4\n\
         @wait blk: xvda connected\n\
         blk\n\
         blk read xvda 32768 8\n\
         blk read xvda 0 8\n\
         @wait no answer\n\
         write data/be/state 5\n\
         @wait blk: xvda closed\n\
         blk\n\
         uptime\n\
         @wait uptime: \n\
         ^]\n\
         destroy d1\n",
    ) else {
        return;
    };
    let keys = answer(&run, "ls device/vbd/51712");
    for key in ["ring-ref", "event-channel", "protocol", "state"] {
        assert!(
            keys.lines().any(|l| l == key),
            "{key} in {keys}\n{}",
            run.report(80)
        );
    }
    let text = run.output.replace('\r', "");
    assert!(
        text.contains("blk: xvda connected: 32768 sectors"),
        "{}",
        run.report(80)
    );
    assert!(
        text.contains("xvda: 32768 sectors (16 MiB) rw (Connected)"),
        "{}",
        run.report(80)
    );
    assert_eq!(
        answer(&run, "blk read xvda 32768 8").trim(),
        "blk: sector 32768 is past the end of xvda (32768 sectors)"
    );
    assert!(
        answer(&run, "blk read xvda 0 8")
            .contains("blk: xvda: no answer from the backend within 10 s"),
        "{}",
        run.report(80)
    );
    assert!(
        !text.contains("still in use by the backend"),
        "nobody mapped the grants: all end\n{}",
        run.report(80)
    );
    assert!(answer(&run, "uptime").starts_with("uptime: "));
}

#[test]
fn a_hand_played_backend_connects_and_closes_the_frontend_on_xen_core() {
    hand_played_backend(false);
}

#[test]
fn a_hand_played_backend_connects_and_closes_the_frontend_on_xen_417() {
    hand_played_backend(true);
}
