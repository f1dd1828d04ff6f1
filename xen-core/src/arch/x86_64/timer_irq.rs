//! The local APIC timer interrupt: where its entry stub lands, the hook, and idling until it.
//!
//! Interrupts are off whenever xen-core runs, so the interrupt is taken in two places only:
//! in a guest (which runs with IF set), entering on the hypervisor stack like an exception,
//! and in [`idle_wait`]. Either way the stub (`entry.rs`, `timer_interrupt_entry`) saves a full
//! [`GuestRegs`] frame and jumps to [`interrupt`], which acknowledges the APIC, calls
//! [`on_timer`], and resumes what was interrupted.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

use xen_core::guest_regs::GuestRegs;

use super::{apic, entry};

/// Timer interrupts taken since boot.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// Timer interrupts taken since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The hook run on every timer interrupt, after the EOI, with the interrupted context's
/// registers. `from_guest` says whether a guest was running (its frame returns to it through
/// the checked exit path): then the running domain's due timers fire and the APIC is armed
/// again (`time_glue`). Otherwise xen-core was in [`idle_wait`], whose caller holds the
/// hypervisor state and runs the timers itself, so the hook only counts. The interrupt may
/// come after [`apic::cancel_deadline`] or earlier than the deadline asked for (see
/// [`apic::set_deadline`]): the timers compare with the time themselves.
pub fn on_timer(_regs: &mut GuestRegs, from_guest: bool) {
    TICKS.fetch_add(1, Ordering::Relaxed);
    if from_guest {
        crate::hypervisor::with_state(|st| crate::time_glue::on_timer_interrupt(st.dom));
    }
}

/// The timer stub's Rust side: EOI, the hook, then back to the interrupted context.
pub extern "C" fn interrupt(regs: &mut GuestRegs) -> ! {
    apic::eoi();
    let from_guest = regs.cs & 3 != 0;
    on_timer(regs, from_guest);
    if from_guest {
        crate::schedule::on_timer_from_guest(regs);
        crate::trap_entry::enter_guest(regs)
    }
    // SAFETY: the frame came from ring 0, so the interrupt was taken in xen-core (only in
    // idle_wait, the one place where it enables interrupts); the stub built it exactly as
    // exception_common does, and nothing changed it: resuming it continues idle_wait.
    unsafe { entry::resume_xen(regs) }
}

/// Waits for one interrupt with interrupts enabled (`sti; hlt`), then disables them again and
/// returns; the timer's, the UART's, or an NMI. The `sti` shadow covers the `hlt`, so an interrupt that is
/// already pending cannot slip in between and leave the CPU halted: it wakes the `hlt` at
/// once. Without an armed deadline (and no other interrupt source) it never returns.
pub fn idle_wait() {
    // SAFETY: the IDT sends every vector that can arrive to a stub that returns to this code
    // with all registers intact (the timer's through `interrupt`, the UART's through
    // `serial_irq::interrupt`, the others straight back); the
    // interrupt frame goes below RSP on this stack (x86_64-unknown-none has no red zone); the
    // handler may write memory (the tick counter), so this is not `nomem`.
    unsafe { asm!("sti", "hlt", "cli") };
}
