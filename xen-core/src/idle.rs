//! Waiting with the CPU idle until a blocked vCPU wakes: the one-domain stand-in for the scheduler.
//!
//! SCHEDOP_block and SCHEDOP_poll call [`wait_until`] with the hypervisor state held. It halts
//! the CPU until the next interrupt (`timer_irq::idle_wait`, the only place where xen-core
//! enables interrupts), runs the vCPU's timers that came due, and returns once the wake
//! condition holds. The timer interrupt taken in the halt returns into this loop (resume_xen)
//! and touches no hypervisor state. Without any deadline armed and with nothing else able to
//! raise an event, the wait never ends, as on Xen with one idle vCPU.

use xen_core::time::vcpu_timers::Expiry;

use crate::arch::x86_64::{timer_irq, tsc};
use crate::domain::Domain;
use crate::time_glue;

/// Waits until `wake(dom, passed)` holds, where `passed` says which of the vCPU's timers ran
/// out on that round (a one-shot or periodic timer has already raised VIRQ_TIMER; a poll
/// timeout only ends the poll). The vCPU is off the CPU meanwhile: its periodic tick is
/// stopped, as Xen stops it for a descheduled vCPU. The scheduler replaces this with "mark
/// blocked, run something else, wake on an event or a timer".
pub fn wait_until(dom: &mut Domain, mut wake: impl FnMut(&Domain, Expiry) -> bool) {
    loop {
        let passed = time_glue::expire(dom, tsc::now_ns(), false);
        if wake(dom, passed) {
            return;
        }
        time_glue::arm(dom, false);
        timer_irq::idle_wait();
    }
}
