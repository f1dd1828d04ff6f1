//! Dom0's block backend driven from the `xl` shell: disks from a config and hot-plugged ones reach InitWait with libxl's nodes, are listed, detached and let go with the guest.

#![forbid(unsafe_code)]

use std::time::Duration;

use tests::images::{images, xen_417_or_skip};
use tests::scenario::Scenario;
use xtask::qemu::Run;

/// Boots the xl shell (no autostart domains), types `script` then `exit`.
fn xl(scenario: Scenario, script: &str) -> Run {
    let run = scenario
        .ramdisk(images().dom0_ramdisk.clone())
        .input(&format!("{script}exit\n"))
        .stop_at("xl: shell ended")
        .linger(Duration::from_secs(30))
        .timeout(Duration::from_secs(600))
        .boot();
    assert!(!run.output.contains("PANIC"), "{}", run.report(60));
    assert!(!run.output.contains("panic"), "{}", run.report(60));
    assert!(run.input_done, "{}", run.report(60));
    run
}

/// The text between the echo of `command` at the prompt and the next prompt.
fn answer(run: &Run, command: &str) -> String {
    let output = run.output.replace('\r', "");
    let echo = format!("dom0# {command}\n");
    let start = output
        .find(&echo)
        .map(|i| i + echo.len())
        .unwrap_or_else(|| panic!("no `{command}` at a prompt\n{}", run.report(60)));
    let rest = &output[start..];
    rest[..rest.find("dom0# ").unwrap_or(rest.len())].to_string()
}

const CREATE: &str = "create /etc/xen/tests/spin1.cfg disk=['phy:/dev/ram0,xvda,w']";

fn disks_are_announced_listed_and_detached(scenario: Scenario) {
    let run = xl(
        scenario,
        &format!(
            "{CREATE}\n\
             block-list spin1\n\
             block-attach spin1 phy:/dev/ram0,xvdb,r\n\
             block-attach spin1 phy:/dev/nosuch,xvdc,r\n\
             block-attach spin1 phy:/dev/ram0,xvdb,r\n\
             block-list spin1\n\
             block-detach spin1 xvdb\n\
             block-detach spin1 xvdq\n\
             block-list spin1\n\
             destroy spin1\n\
             list\n"
        ),
    );
    let created = answer(&run, CREATE);
    assert!(
        created.contains("blkback: vbd 1/51712 InitWait"),
        "{created}"
    );
    let list = answer(&run, "block-list spin1");
    assert!(
        list.starts_with("Vdev  BE  handle state evt-ch ring-ref BE-path"),
        "{list}"
    );
    assert!(
        list.contains("51712 0   1      1     -1     -1       /local/domain/0/backend/vbd/1/51712"),
        "{list}"
    );
    let attached = answer(&run, "block-attach spin1 phy:/dev/ram0,xvdb,r");
    assert!(
        attached.contains("blkback: vbd 1/51728 InitWait"),
        "{attached}"
    );
    let missing = answer(&run, "block-attach spin1 phy:/dev/nosuch,xvdc,r");
    assert!(
        missing.contains("/dev/nosuch: No such block device"),
        "{missing}"
    );
    assert!(
        missing.contains("libxl_device_disk_add failed."),
        "{missing}"
    );
    let twice = run.output.replace('\r', "");
    assert!(
        twice.contains("already has a disk xvdb (51728)"),
        "{}",
        run.report(60)
    );
    let detached = answer(&run, "block-detach spin1 xvdb");
    assert!(
        detached.contains("blkback: vbd 1/51728 Closed"),
        "{detached}"
    );
    let unknown = answer(&run, "block-detach spin1 xvdq");
    assert!(
        unknown.contains("Error: Device xvdq not connected."),
        "{unknown}"
    );
    let out = run.output.replace('\r', "");
    let last_list = out
        .rsplit("dom0# block-list spin1\n")
        .next()
        .and_then(|r| r.split("dom0# ").next())
        .unwrap_or_default();
    assert!(last_list.contains("51712 "), "{last_list}");
    assert!(!last_list.contains("51728 "), "{last_list}");
    assert!(
        !answer(&run, "list").contains("spin1"),
        "{}",
        run.report(60)
    );
}

#[test]
fn disks_are_announced_listed_and_detached_on_xen_core() {
    disks_are_announced_listed_and_detached(Scenario::xen_core("xl xl.autostart=0"));
}

#[test]
fn disks_are_announced_listed_and_detached_on_xen_417() {
    let Some(xen) = xen_417_or_skip() else {
        return;
    };
    disks_are_announced_listed_and_detached(Scenario::xen_417(xen, "xl xl.autostart=0"));
}
