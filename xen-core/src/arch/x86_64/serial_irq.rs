//! COM1's receive interrupt: IRQ 4 through the legacy PIC, where its entry stub lands, and its hook.
//
// As for the timer (`timer_irq.rs`), the interrupt is taken in a guest (on the hypervisor
// stack) or in `timer_irq::idle_wait`, never elsewhere in xen-core (interrupts are off). The
// stub (`entry.rs`, `serial_interrupt_entry`) saves a full frame and jumps to [`interrupt`].

use xen_core::guest_regs::GuestRegs;

use super::platform::{self, LEGACY_IRQ_BASE};
use super::serial::COM1_IRQ;
use super::{apic, entry};

/// The IDT vector of COM1's interrupt (the master PIC's IRQ 4 as `platform` programs it).
pub const SERIAL_VECTOR: u8 = LEGACY_IRQ_BASE + COM1_IRQ;

/// Routes COM1's interrupt to the CPU: the PIC's line 4 unmasked, the PIC let in through the
/// local APIC. Called once, when Dom0 is about to run (after the timer's boot self-check,
/// which must see its own interrupt first); the UART itself interrupts once
/// `console_input::start` enables it.
pub fn enable() {
    apic::pass_pic();
    platform::unmask_legacy_irq(COM1_IRQ);
}

/// The stub's Rust side: EOI to the PIC, the received bytes into the ring (`console_input`),
/// then back to the interrupted context. From a guest, VIRQ_CONSOLE is raised at once; in
/// `idle_wait` its caller's next scheduling decision raises it.
pub extern "C" fn interrupt(regs: &mut GuestRegs) -> ! {
    platform::legacy_pic_eoi();
    let from_guest = regs.cs & 3 != 0;
    crate::console_input::on_interrupt(from_guest);
    if from_guest {
        crate::trap_entry::enter_guest(regs)
    }
    // SAFETY: the frame came from ring 0, so the interrupt was taken in xen-core (only in
    // timer_irq::idle_wait, the one place where it enables interrupts); the stub built it as
    // exception_common does, and nothing changed it: resuming it continues idle_wait.
    unsafe { entry::resume_xen(regs) }
}
