//! The `xl` shell's loop: console input to the line editor or the attached guest, commands run, shutdowns acted on.

use alloc::format;
use alloc::string::String;

use dom0_tools::xl::command::parse_line;
use dom0_tools::xl::line_editor::{Event, LineEditor};
use dom0_tools::xl_cfg::Action;

use super::commands::{self, Flow};
use super::create_cmd::{action_for, create_from, load};
use super::output::{print, xlprint};
use super::toolstack::{MS, ShutdownNews, Toolstack};

/// The prompt (scripts wait for its `# `).
pub const PROMPT: &str = "dom0# ";
/// `Ctrl-]`: leaves an attached console, as in xl.
const DETACH: u8 = 0x1d;
/// The autostart directory, as xendomains reads it.
const AUTO_DIR: &str = "/etc/xen/auto";

/// Pumps everything (consoles, xenstore, shutdowns) and waits for news until `done` holds
/// (true) or `timeout_ms` pass (false).
pub fn wait_until(
    ts: &mut Toolstack,
    timeout_ms: u64,
    mut done: impl FnMut(&mut Toolstack) -> bool,
) -> bool {
    let start = Toolstack::now_ns();
    let mut rounds = 0u64;
    loop {
        pump(ts);
        if done(ts) {
            return true;
        }
        // A stuck clock must not wait forever: 20 rounds count as a second at least.
        let elapsed_ms = (Toolstack::now_ns().saturating_sub(start) / MS).max(rounds * 50);
        rounds += 1;
        if elapsed_ms > timeout_ms {
            return false;
        }
        ts.wait((timeout_ms - elapsed_ms).saturating_mul(MS));
    }
}

/// One round of housekeeping: consoles, xenstore rings, shutdown actions.
pub fn pump(ts: &mut Toolstack) {
    ts.pump_consoles();
    super::store::pump(ts);
    crate::dom0::blkback::xl_block::pump(ts);
    crate::dom0::netback::xl_net::pump(ts);
    for news in ts.take_shutdowns() {
        on_shutdown(ts, news);
    }
}

/// Takes the action the domain's config asks for on this shutdown.
fn on_shutdown(ts: &mut Toolstack, news: ShutdownNews) {
    let Some(d) = ts.domain(news.domid) else {
        return;
    };
    let name = d.name.clone();
    let path = d.config_path.clone();
    let reason = dom0_tools::domain_info::shutdown_name(news.code);
    let Some(action) = action_for(news.code, d.on_poweroff, d.on_reboot, d.on_crash) else {
        return;
    };
    let attached = ts.attached == Some(news.domid);
    xlprint!(
        "\n[xl] {name} (domain {}) {reason}: action {}\n",
        news.domid,
        action.name()
    );
    match action {
        Action::Preserve => {}
        Action::Destroy | Action::CoredumpDestroy => {
            if let Err(e) = commands::destroy(ts, news.domid) {
                print(&e);
            }
        }
        Action::Restart | Action::RenameRestart | Action::CoredumpRestart => {
            if let Err(e) = commands::destroy(ts, news.domid) {
                print(&e);
                return;
            }
            match load(&path, &[]).and_then(|cfg| create_from(ts, &cfg, &path, false)) {
                Ok(domid) => {
                    xlprint!("[xl] {name} restarted as domain {domid}\n");
                    if attached {
                        ts.attached = Some(domid);
                    }
                }
                Err(e) => print(&e),
            }
        }
    }
    if ts.attached.is_none() && !ts.in_command {
        print(PROMPT);
    }
}

/// Creates every domain whose config is in /etc/xen/auto.
fn autostart(ts: &mut Toolstack) {
    let mut paths: alloc::vec::Vec<String> = alloc::vec::Vec::new();
    super::files::list(AUTO_DIR, &mut |name| paths.push(format!("/{name}")));
    for path in paths {
        commands::execute(
            ts,
            dom0_tools::xl::command::XlCommand::Create {
                config: path,
                paused: false,
                console: false,
                overrides: alloc::vec::Vec::new(),
            },
        );
    }
}

/// Runs the shell until `exit`; `auto` creates the autostart domains first.
pub fn run(ts: &mut Toolstack, auto: bool) {
    if auto {
        ts.in_command = true;
        autostart(ts);
        ts.in_command = false;
    }
    let mut editor = LineEditor::new(PROMPT);
    print(PROMPT);
    let mut buf = [0u8; 64];
    loop {
        pump(ts);
        let n = ts.read_input(&mut buf);
        for &b in &buf[..n] {
            if let Some(domid) = ts.attached {
                if b == DETACH {
                    ts.attached = None;
                    print("\n");
                    print(PROMPT);
                } else if let Some(d) = ts.domain(domid) {
                    let _ = d.console.send(&[b]);
                } else {
                    ts.attached = None;
                }
                continue;
            }
            let step = editor.feed(b);
            super::output::echo(&step.echo);
            let Some(Event::Line(line)) = step.event else {
                continue;
            };
            let flow = match parse_line(&line) {
                Ok(Some(cmd)) => {
                    ts.in_command = true;
                    let flow = commands::execute(ts, cmd);
                    ts.in_command = false;
                    flow
                }
                Ok(None) => Flow::Prompt,
                Err(e) => {
                    xlprint!("{e}");
                    Flow::Prompt
                }
            };
            match flow {
                Flow::Prompt => print(PROMPT),
                Flow::Attached => {}
                Flow::Exit => return,
            }
        }
        if n == 0 {
            ts.wait(50 * MS);
        }
    }
}
