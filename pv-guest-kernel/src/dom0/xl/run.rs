//! `xl` mode: Dom0 starts xenstored and the toolstack, creates the autostart domains and hands the console to the shell.

use hypercall_abi::start_info::StartInfo;

use super::output::print;
use super::shell;
use super::toolstack::Toolstack;
use crate::arch::x86_64::console_input::ConsoleInput;
use crate::arch::x86_64::xen;
use crate::console::kprintln;
use crate::dom0::events::Events;

/// The word that turns autostart off.
const NO_AUTOSTART: &[u8] = b"xl.autostart=0";

/// Runs the toolstack until `exit`, then powers off.
pub fn run(start_info: &'static StartInfo) -> ! {
    kprintln!("xl: Dom0 toolstack starting (xenstored, consoles, xl shell)");
    let events = match Events::bind() {
        Ok(events) => events,
        Err((what, e)) => {
            kprintln!("xl: {} failed ({}): cannot manage domains", what, e);
            xen::power_off();
        }
    };
    let input = match ConsoleInput::bind() {
        Ok(input) => Some(input),
        Err((what, e)) => {
            kprintln!("xl: {} failed ({}): no console input", what, e);
            None
        }
    };
    kprintln!("xl: ramdisk: {}", super::files::describe());
    let mut ts = Toolstack::new(events, input);
    ts.blk.devices.open_physical();
    let auto = !start_info
        .cmdline()
        .split(|b| b.is_ascii_whitespace())
        .any(|w| w == NO_AUTOSTART);
    kprintln!("xl: type `help` for the commands; Ctrl-] leaves a guest console");
    shell::run(&mut ts, auto);
    print("xl: shell ended; powering off\n");
    xen::power_off();
}
