//! The shell's loop: console input edited into commands, the `count` heartbeat, and xenstore watch events, all waited for with SCHEDOP_poll.

use core::hint::black_box;

use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::sched::ShutdownReason;

use dom0_tools::domu_shell::{self, BadCommand, Command, HELP, PROMPT, READY};
use dom0_tools::guest_balloon;
use dom0_tools::xl::line_editor::{Event, LineEditor};

/// A line end on the console ring.
const ENTER_ECHO: &[u8] = b"\r\n";
/// Back to the start of the line and erase it (VT100).
const ERASE_LINE: &[u8] = b"\r\x1b[K";

use super::balloon::BalloonDriver;
use super::blk;
use super::control::{self, Control};
use crate::arch::x86_64::xenstore_front::NoStore;
use crate::arch::x86_64::{boot, console_front, shared_events, toolstack_calls, xen};
use crate::console::{Escaped, kprintln};
use crate::domu::blk::devices::BlkDevices;
use crate::domu::xenbus::Xenbus;

/// Nanoseconds in a second.
const SECOND_NS: u64 = 1_000_000_000;
/// Longest wait without news before looking around anyway.
const IDLE_WAIT_NS: u64 = SECOND_NS;

/// The shell's state.
struct Shell {
    input: LineEditor,
    /// System time when the shell started (our boot, to within milliseconds).
    boot_ns: u64,
    /// The heartbeat while on: lines printed so far and when the next is due.
    count: Option<(u64, u64)>,
    xenbus: Option<Xenbus>,
    control: Control,
    /// The virtual disks.
    blk: BlkDevices,
    /// Watch events the xenbus client had dropped when we last looked.
    dropped_seen: u64,
    /// The vifs and the IPv4 host.
    net: crate::domu::net::runtime::NetRuntime,
}

/// Xen system time now (0 if shared_info gives none: the shell still answers input).
fn now_ns() -> u64 {
    shared_events::system_time_ns().unwrap_or(0)
}

/// Writes bytes to the console as they are (no line end).
fn put(bytes: &[u8]) {
    let _ = console_front::write(bytes);
}

/// Runs the shell until a command or the toolstack shuts the domain down.
pub fn run() -> ! {
    let mapped = shared_events::map();
    if mapped != 0 {
        kprintln!("domu: mapping shared_info returned {}; no clock", mapped);
    }
    let mut shell = Shell {
        input: LineEditor::new(PROMPT),
        boot_ns: now_ns(),
        count: None,
        xenbus: None,
        control: Control::new(),
        blk: BlkDevices::new(),
        dropped_seen: 0,
        net: Default::default(),
    };
    match Xenbus::connect() {
        Ok(mut xb) => match shell.control.setup(&mut xb) {
            Ok(()) => {
                if let Err(e) = shell.blk.setup(&mut xb) {
                    kprintln!("blk: watching device/vbd failed: {}", e);
                }
                shell.net.start(&mut xb);
                shell.xenbus = Some(xb);
            }
            Err(e) => kprintln!("domu: xenstore setup failed: {}", e),
        },
        Err(NoStore::NoEventChannel) => kprintln!("domu: no xenstore"),
        Err(e) => kprintln!("domu: no xenstore ({:?})", e),
    }
    // For the toolstack's figures: when our first code ran and when we became ready, in Xen
    // system time (instructions, under -icount shift=0).
    let entry = shared_events::ENTRY_TSC.load(core::sync::atomic::Ordering::Relaxed);
    if let (Some(first), Some(ready)) = (
        shared_events::system_time_at(entry),
        shared_events::system_time_ns(),
    ) {
        kprintln!("domu: boot times first={} ready={} ns", first, ready);
    }
    kprintln!("{}", READY);
    put(PROMPT.as_bytes());
    loop {
        shell.console_input();
        shell.store_events();
        shell.heartbeat();
        shell.net_poll();
        shell.wait();
    }
}

impl Shell {
    /// Takes the console input typed so far: echoes it and runs complete lines.
    fn console_input(&mut self) {
        let console = boot::start_info().console_evtchn;
        // Taken before reading: input that arrives after the read leaves the bit set.
        shared_events::take_pending(console);
        let mut buf = [0u8; 64];
        loop {
            let n = console_front::read_input(&mut buf);
            if n == 0 {
                return;
            }
            for &b in &buf[..n] {
                let step = self.input.feed(b);
                put(&step.echo);
                if let Some(Event::Line(line)) = step.event {
                    self.execute(line.as_bytes());
                    put(PROMPT.as_bytes());
                }
            }
        }
    }

    /// Handles the watch events xenstored sent.
    fn store_events(&mut self) {
        let Some(xb) = self.xenbus.as_mut() else {
            return;
        };
        if let Err(e) = xb.poll() {
            kprintln!("domu: xenstore: {}", e);
        }
        if xb.dropped_events() > self.dropped_seen {
            self.dropped_seen = xb.dropped_events();
            kprintln!(
                "domu: {} xenstore watch events dropped so far",
                self.dropped_seen
            );
        }
        let mut handled = false;
        while let Some(event) = xb.take_event() {
            if !handled {
                // What the handlers print replaces the prompt line (back to its start and
                // erase it), which is drawn again after them: a handler that prints nothing
                // leaves the screen as it was.
                put(ERASE_LINE);
                handled = true;
            }
            if BlkDevices::owns(&event) {
                self.blk.handle(xb, &event);
            } else if !self.net.handle_event(xb, &event) {
                self.control.handle(xb, &event);
            }
        }
        if handled {
            self.reprompt();
        }
    }

    /// Shows the prompt and the line typed so far again (after output in between).
    fn reprompt(&self) {
        put(PROMPT.as_bytes());
        put(self.input.line());
    }

    /// Polls the network; prints what the background listener has to say.
    fn net_poll(&mut self) {
        for line in self.net.poll() {
            put(ERASE_LINE);
            kprintln!("{}", line);
            self.reprompt();
        }
    }

    /// Prints `count N` when it is due.
    fn heartbeat(&mut self) {
        let Some((n, due)) = self.count else {
            return;
        };
        let now = now_ns();
        if now >= due {
            put(ENTER_ECHO);
            kprintln!("count {}", n + 1);
            self.reprompt();
            // After a pause the next line comes a second from now: no catching up.
            self.count = Some((n + 1, now + SECOND_NS));
        }
    }

    /// Waits for console input, a store event or the next heartbeat.
    fn wait(&mut self) {
        let now = now_ns();
        let deadline = match self.count {
            Some((_, due)) => due.min(now + IDLE_WAIT_NS),
            None => now + IDLE_WAIT_NS,
        };
        let deadline = self.net.deadline_ns().map_or(deadline, |d| d.min(deadline));
        let mut ports: heapless::Vec<EvtchnPort, 10> = heapless::Vec::new();
        for p in self.net.ports() {
            let _ = ports.push(p);
        }
        let _ = ports.push(boot::start_info().console_evtchn);
        if let Some(xb) = &self.xenbus {
            let _ = ports.push(xb.port());
        }
        if now == 0 {
            // No clock: poll without a timeout would wait forever for a heartbeat.
            let _ = xen::sched_yield();
            return;
        }
        let _ = toolstack_calls::sched_poll(&ports, deadline);
    }

    /// Runs one command line.
    fn execute(&mut self, line: &[u8]) {
        if super::net::run(&mut self.net, line) {
            return;
        }
        match domu_shell::parse(line) {
            Command::Empty => {}
            Command::Help => HELP
                .iter()
                .chain(&super::net::HELP)
                .for_each(|l| kprintln!("{}", l)),
            Command::Uptime => {
                let ms = now_ns().saturating_sub(self.boot_ns) / 1_000_000;
                kprintln!("uptime: {}.{:03} s", ms / 1000, ms % 1000);
            }
            Command::Mem => self.mem(),
            Command::Busy(s) => busy(s),
            Command::Count => {
                if self.count.take().is_some() {
                    kprintln!("count: off");
                } else {
                    kprintln!("count: on");
                    self.count = Some((0, now_ns() + SECOND_NS));
                }
            }
            Command::Crash => {
                kprintln!("domu: crashing on purpose");
                xen::crash();
            }
            Command::Shutdown => control::shut_down(ShutdownReason::Poweroff),
            Command::Reboot => control::shut_down(ShutdownReason::Reboot),
            Command::Ls(path) => self.ls(path),
            Command::Balloon(kib) => self.control.balloon_to(kib, true),
            Command::Write(path, value) => self.write(path, value),
            Command::Blk(c) => blk::run(&mut self.blk, self.xenbus.as_mut(), c),
            Command::Bad(BadCommand::Unknown(word)) => {
                kprintln!("domu: unknown command '{}' (try help)", Escaped(word))
            }
            Command::Bad(BadCommand::Usage(usage)) => kprintln!("{}", usage),
        }
    }

    /// `ls PATH`: the children of a xenstore node.
    fn ls(&mut self, path: &str) {
        let Some(xb) = self.xenbus.as_mut() else {
            kprintln!("ls: no xenstore");
            return;
        };
        match xb.directory(path) {
            Ok(names) => {
                for name in dom0_tools::xs_client::directory_names(&names) {
                    kprintln!("{}", Escaped(name));
                }
            }
            Err(e) => kprintln!("ls: {}: {}", path, e),
        }
    }

    /// `write PATH VALUE`: sets a xenstore node.
    fn write(&mut self, path: &str, value: &[u8]) {
        let Some(xb) = self.xenbus.as_mut() else {
            kprintln!("write: no xenstore");
            return;
        };
        if let Err(e) = xb.write(path, value) {
            kprintln!("write: {}: {}", path, e);
        }
    }

    /// `mem`: what we hold, the target and the maximum.
    fn mem(&mut self) {
        let balloon = &self.control.balloon;
        let target = match self.xenbus.as_mut() {
            None => None,
            Some(xb) => xb
                .read(guest_balloon::TARGET_NODE)
                .ok()
                .and_then(|v| guest_balloon::parse_kib(&v)),
        };
        let reservation = BalloonDriver::reservation_pages();
        match target {
            Some(t) => kprintln!(
                "mem: now {} KiB, target {} KiB, max {} KiB ({} pages held, hypervisor says {})",
                balloon.current_kib(),
                t,
                balloon.max_kib(),
                balloon.plan().current_pages(),
                reservation
            ),
            None => kprintln!(
                "mem: now {} KiB, target none, max {} KiB ({} pages held, hypervisor says {})",
                balloon.current_kib(),
                balloon.max_kib(),
                balloon.plan().current_pages(),
                reservation
            ),
        }
    }
}

/// `busy SECONDS`: counts in a loop, without hypercalls, until SECONDS of system time pass.
fn busy(seconds: u64) {
    let start = now_ns();
    if start == 0 {
        kprintln!("busy: no clock");
        return;
    }
    let end = start + seconds * SECOND_NS;
    let mut turns = 0u64;
    while now_ns() < end {
        for _ in 0..1024 {
            turns = black_box(turns + 1);
        }
    }
    kprintln!("busy: {} s done ({} turns)", seconds, turns);
}
