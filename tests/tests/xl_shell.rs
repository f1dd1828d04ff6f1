//! The `xl` shell in Dom0, driven through its console: create from a config, list, pause, console, destroy, and clear errors that change nothing.

#![forbid(unsafe_code)]

use tests::xl_session::{On, answer, listed, xl_on};

#[test]
fn bad_configs_unknown_domains_and_corrupt_images_are_refused_and_change_nothing_on_xen_core() {
    bad_configs_unknown_domains_and_corrupt_images_are_refused_and_change_nothing(On::XenCore);
}

#[test]
fn bad_configs_unknown_domains_and_corrupt_images_are_refused_and_change_nothing_on_xen_417() {
    bad_configs_unknown_domains_and_corrupt_images_are_refused_and_change_nothing(On::Xen417);
}

fn bad_configs_unknown_domains_and_corrupt_images_are_refused_and_change_nothing(on: On) {
    let Some(run) = xl_on(
        on,
        "create /etc/xen/tests/bad.cfg\n\
         create /etc/xen/tests/corrupt.cfg\n\
         create /etc/xen/tests/missing.cfg\n\
         destroy nosuch\n\
         pause 42\n\
         frobnicate\n\
         list\n",
    ) else {
        return;
    };
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
fn a_guest_is_created_listed_paused_unpaused_watched_on_its_console_and_destroyed_on_xen_core() {
    a_guest_is_created_listed_paused_unpaused_watched_on_its_console_and_destroyed(On::XenCore);
}

#[test]
fn a_guest_is_created_listed_paused_unpaused_watched_on_its_console_and_destroyed_on_xen_417() {
    a_guest_is_created_listed_paused_unpaused_watched_on_its_console_and_destroyed(On::Xen417);
}

fn a_guest_is_created_listed_paused_unpaused_watched_on_its_console_and_destroyed(on: On) {
    let Some(run) = xl_on(
        on,
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
    ) else {
        return;
    };
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

/// The numbers N of the `count N` lines in `text`.
fn counts(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("count "))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// Seconds of CPU time `name` has in an `xl list` answer.
fn cpu_seconds(list: &str, name: &str) -> f64 {
    list.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(5))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no Time(s) for {name} in\n{list}"))
}

#[test]
fn shutdown_and_reboot_are_honoured_and_mem_set_shrinks_the_guest_on_xen_core() {
    shutdown_and_reboot_are_honoured_and_mem_set_shrinks_the_guest(On::XenCore);
}

#[test]
fn shutdown_and_reboot_are_honoured_and_mem_set_shrinks_the_guest_on_xen_417() {
    shutdown_and_reboot_are_honoured_and_mem_set_shrinks_the_guest(On::Xen417);
}

fn shutdown_and_reboot_are_honoured_and_mem_set_shrinks_the_guest(on: On) {
    let Some(run) = xl_on(
        on,
        "create /etc/xen/d1.cfg\n\
         create /etc/xen/d2.cfg\n\
         console d1\n\
         @wait domu: ready\n\
         ^]\n\
         console d2\n\
         @wait domu: ready\n\
         ^]\n\
         mem-set d1 8m\n\
         console d1\n\
         @wait balloon: now 8192 KiB\n\
         ^]\n\
         list\n\
         shutdown -w d1\n\
         reboot -w d2\n\
         list\n",
    ) else {
        return;
    };
    let shrunk = listed(&answer(&run, "list", 0));
    let d1 = shrunk.iter().find(|r| r.0 == "d1").expect("d1 listed");
    let before = listed(&answer(&run, "list", 0));
    let old_d2 = before.iter().find(|r| r.0 == "d2").expect("d2 listed").1;
    let text = run.output.replace('\r', "");
    let list_line = text
        .lines()
        .find(|l| l.starts_with("d1 "))
        .expect("a d1 row");
    assert_eq!(
        list_line.split_whitespace().nth(2),
        Some("8"),
        "d1 is 8 MiB: {list_line}"
    );
    assert!(
        answer(&run, "shutdown -w d1", 0).contains(&format!("Domain {} has been destroyed.", d1.1)),
        "{}",
        run.report(60)
    );
    assert!(
        text.contains("domu: shutdown request 'poweroff'")
            || text.contains("poweroff: action destroy")
    );
    let after = listed(&answer(&run, "list", 1));
    assert!(after.iter().all(|r| r.0 != "d1"), "d1 is gone: {after:?}");
    let new_d2 = after
        .iter()
        .find(|r| r.0 == "d2")
        .expect("d2 is back after its reboot");
    assert_ne!(new_d2.1, old_d2, "d2 restarted as a new domain");
}

#[test]
fn on_crash_restart_restarts_the_guest_on_xen_core() {
    on_crash_restart_restarts_the_guest(On::XenCore);
}

#[test]
fn on_crash_restart_restarts_the_guest_on_xen_417() {
    on_crash_restart_restarts_the_guest(On::Xen417);
}

fn on_crash_restart_restarts_the_guest(on: On) {
    let Some(run) = xl_on(
        on,
        "create /etc/xen/tests/crashy.cfg\n\
         console crashy\n\
         @wait domu: ready\n\
         @send crash\n\
         @wait restarted as domain\n\
         @wait domu: ready\n\
         ^]\n\
         list\n",
    ) else {
        return;
    };
    let text = run.output.replace('\r', "");
    assert!(
        text.contains("crashy (domain 1) crash: action restart"),
        "{}",
        run.report(60)
    );
    let rows = listed(&answer(&run, "list", 0));
    let crashy = rows
        .iter()
        .find(|r| r.0 == "crashy")
        .expect("crashy is back");
    assert!(crashy.1 > 1, "crashy runs as a new domain: {rows:?}");
}

#[test]
fn a_paused_guest_counter_stops_and_resumes_after_unpause_on_xen_core() {
    a_paused_guest_counter_stops_and_resumes_after_unpause(On::XenCore);
}

#[test]
fn a_paused_guest_counter_stops_and_resumes_after_unpause_on_xen_417() {
    a_paused_guest_counter_stops_and_resumes_after_unpause(On::Xen417);
}

fn a_paused_guest_counter_stops_and_resumes_after_unpause(on: On) {
    let Some(run) = xl_on(
        on,
        "create /etc/xen/d1.cfg\n\
         console d1\n\
         @wait domu: ready\n\
         @send count\n\
         @wait count 2\n\
         ^]\n\
         pause d1\n\
         console d1\n\
         ^]\n\
         sleep 3\n\
         console d1\n\
         ^]\n\
         unpause d1\n\
         sleep 3\n\
         console d1\n\
         ^]\n",
    ) else {
        return;
    };
    let last = |nth: usize| {
        counts(&answer(&run, "console d1", nth))
            .into_iter()
            .max()
            .unwrap_or(0)
    };
    let (at_pause, after_sleep, after_unpause) = (last(1), last(2), last(3));
    assert!(at_pause >= 2, "{}", run.report(60));
    assert_eq!(
        at_pause,
        after_sleep,
        "the counter moved while paused\n{}",
        run.report(60)
    );
    assert!(
        after_unpause > after_sleep,
        "the counter did not resume\n{}",
        run.report(60)
    );
}

#[test]
fn sched_credit_changes_the_cpu_split_on_xen_core() {
    sched_credit_changes_the_cpu_split(On::XenCore);
}

#[test]
fn sched_credit_changes_the_cpu_split_on_xen_417() {
    sched_credit_changes_the_cpu_split(On::Xen417);
}

fn sched_credit_changes_the_cpu_split(on: On) {
    let Some(run) = xl_on(
        on,
        "create /etc/xen/tests/spin1.cfg\n\
         create /etc/xen/tests/spin2.cfg\n\
         sched-credit -d spin1 -w 512\n\
         console spin1\n\
         @wait domu: ready\n\
         @send busy 300\n\
         ^]\n\
         console spin2\n\
         @wait domu: ready\n\
         @send busy 300\n\
         ^]\n\
         sleep 1\n\
         list\n\
         sleep 6\n\
         list\n\
         sched-credit\n\
         destroy spin1\n\
         destroy spin2\n",
    ) else {
        return;
    };
    let (a, b) = (answer(&run, "list", 0), answer(&run, "list", 1));
    let one = cpu_seconds(&b, "spin1") - cpu_seconds(&a, "spin1");
    let two = cpu_seconds(&b, "spin2") - cpu_seconds(&a, "spin2");
    assert!(two > 0.5, "spin2 hardly ran: {two}\n{}", run.report(60));
    let ratio = one / two;
    eprintln!("sched-credit 512:256 split over the window: {one:.1} s : {two:.1} s = {ratio:.2}");
    assert!(
        (1.6..=2.5).contains(&ratio),
        "weights 512:256 gave {ratio:.2}\n{}",
        run.report(60)
    );
    let credit = answer(&run, "sched-credit", 0);
    assert!(
        credit
            .lines()
            .any(|l| l.starts_with("spin1") && l.split_whitespace().nth(2) == Some("512")),
        "{credit}"
    );
}

#[test]
fn host_and_naming_commands_answer_as_xl_does_on_xen_core() {
    host_and_naming_commands_answer_as_xl_does(On::XenCore);
}

#[test]
fn host_and_naming_commands_answer_as_xl_does_on_xen_417() {
    host_and_naming_commands_answer_as_xl_does(On::Xen417);
}

fn host_and_naming_commands_answer_as_xl_does(on: On) {
    let Some(run) = xl_on(
        on,
        "create /etc/xen/d1.cfg -c\n\
         @wait domu: ready\n\
         ^]\n\
         domid d1\n\
         rename d1 web\n\
         rename web Domain-0\n\
         domname 1\n\
         uptime\n\
         vcpu-list\n\
         list -l\n\
         dmesg\n\
         top\n\
         @wait CPU(sec)\n\
         @send q\n\
         list\n",
    ) else {
        return;
    };
    assert_eq!(
        answer(&run, "domid d1", 0).trim(),
        "1",
        "{}",
        run.report(60)
    );
    assert!(
        answer(&run, "rename web Domain-0", 0).contains("already exists"),
        "{}",
        run.report(60)
    );
    assert_eq!(answer(&run, "domname 1", 0).trim(), "web");
    let uptime = answer(&run, "uptime", 0);
    assert!(uptime.starts_with("Name"), "{uptime}");
    assert!(uptime.lines().any(|l| l.starts_with("web ")), "{uptime}");
    let vcpus = answer(&run, "vcpu-list", 0);
    assert!(
        vcpus.starts_with("Name                                ID  VCPU   CPU State"),
        "{vcpus}"
    );
    assert!(vcpus.lines().any(|l| l.starts_with("Domain-0 ")), "{vcpus}");
    assert!(answer(&run, "list -l", 0).contains("\"web\""));
    assert!(
        !answer(&run, "dmesg", 0).trim().is_empty(),
        "dmesg printed nothing"
    );
    let rows = listed(&answer(&run, "list", 0));
    assert!(rows.iter().any(|r| r.0 == "web" && r.1 == 1), "{rows:?}");
    assert!(run.output.contains("CPU(sec)"), "top printed its table");
}
