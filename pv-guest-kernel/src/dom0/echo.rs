//! `console=echo`: Dom0 reads lines typed on the hypervisor's serial console and echoes them until `done`.

use dom0_tools::xl::line_editor::{Event, LineEditor};
use hypercall_abi::start_info::StartInfo;

use crate::arch::x86_64::console_input::ConsoleInput;
use crate::arch::x86_64::xen;
use crate::conform_mm::guest;
use crate::console::{Escaped, kprintln};
use crate::selftest::report::{Detail, Report};

/// The prompt, as the `xl` shell's (a script feeder types the next line once it appears).
const PROMPT_STR: &str = "dom0# ";
const PROMPT: &[u8] = PROMPT_STR.as_bytes();
/// How long one wait for input lasts before waiting again (input has no deadline).
const WAIT_NS: u64 = 10_000_000_000;

/// Runs the echo loop as Dom0, prints the verdict and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("console=echo", start_info, p2m, |_, report| echo(report))
}

fn echo(report: &mut Report) {
    let input = match ConsoleInput::bind() {
        Ok(input) => input,
        Err((step, errno)) => {
            report.check(
                "bind console input",
                Err(Detail::new(format_args!("{step} returned {errno}"))),
            );
            return;
        }
    };
    report.check("bind console input", Ok(()));
    kprintln!("echo: VIRQ_CONSOLE on port {}", input.port());
    kprintln!("echo: ready");
    let _ = xen::console_write(PROMPT);
    let mut editor = LineEditor::new(PROMPT_STR);
    let mut lines = 0u32;
    let mut buf = [0u8; 64];
    loop {
        let n = input.read_timeout(&mut buf, WAIT_NS);
        for &byte in &buf[..n] {
            // The serial line does not echo: show what was typed, as a terminal would.
            let step = editor.feed(byte);
            let _ = xen::console_write(&step.echo);
            match step.event {
                Some(Event::Line(line)) => {
                    if line == "done" {
                        kprintln!("echo: {} lines, done", lines);
                        report.check("echo typed lines until done", Ok(()));
                        return;
                    }
                    kprintln!("echo: got \"{}\"", Escaped(line.as_bytes()));
                    lines += 1;
                    let _ = xen::console_write(PROMPT);
                }
                Some(Event::Cancelled) | None => {}
            }
        }
    }
}
