//! Exception policy: the last-exception record, fatal reports, and the crash-me fault modes.

use spin::Mutex;

use crate::arch::x86_64::probes::{HYPERVISOR_ADDRESS, Probe, UNMAPPED_LOW_ADDRESS};
use crate::arch::x86_64::traps::TrapEvent;
use crate::arch::x86_64::xen;
use crate::console::kprintln;

/// The last exception the entry code reported.
static LAST: Mutex<Option<TrapEvent>> = Mutex::new(None);

/// The Rust handler for every exception: remembers it for whoever caused it on purpose.
pub fn record(event: &TrapEvent) {
    *LAST.lock() = Some(*event);
}

/// Takes (and clears) the last recorded exception.
pub fn take_last() -> Option<TrapEvent> {
    LAST.lock().take()
}

/// Forgets any recorded exception.
pub fn clear() {
    let _ = take_last();
}

/// An exception nobody expected: report it and crash the domain.
pub fn fatal(event: &TrapEvent) -> ! {
    let f = &event.frame;
    kprintln!(
        "pv-guest-kernel: unexpected exception {} error {:#x} at rip {:#x} cs {:#x} rflags {:#x} rsp {:#x} cr2 {:?}",
        f.vector,
        f.error,
        f.rip,
        f.cs,
        f.rflags,
        f.rsp,
        event.cr2
    );
    xen::crash()
}

/// A callback that should never arrive (event upcall or failsafe).
pub fn unexpected_callback(kind: &str) -> ! {
    kprintln!("pv-guest-kernel: unexpected {} callback", kind);
    xen::crash()
}

/// fault=nohandler: read an unmapped address with no trap table registered.
pub fn no_handler() -> ! {
    kprintln!(
        "pv-guest-kernel: fault=nohandler: reading unmapped address {:#x} with no trap table; the hypervisor must crash this domain",
        UNMAPPED_LOW_ADDRESS
    );
    Probe::ReadUnmapped.run_without_handler();
    survived()
}

/// fault=hvwrite: write to a hypervisor address with no trap table registered.
pub fn hypervisor_write() -> ! {
    kprintln!(
        "pv-guest-kernel: fault=hvwrite: writing hypervisor address {:#x} with no trap table; the hypervisor must crash this domain",
        HYPERVISOR_ADDRESS
    );
    Probe::WriteHypervisor.run_without_handler();
    survived()
}

fn survived() -> ! {
    kprintln!("pv-guest-kernel: ERROR: the faulting access returned; crashing ourselves");
    xen::crash()
}
