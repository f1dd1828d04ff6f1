//! The disk's interrupt in Dom0: ISA IRQ 14 mapped to a PIRQ, bound to an event channel, and the ATA driver's wait blocking on it.
// Between status polls the driver calls the channel's wait hook (a plain `fn()`), so the bound
// port and the PIRQ live in statics. The wait takes the port's pending bit if set (the device
// interrupted since the last look), else blocks in SCHEDOP_poll on the port for at most
// `WAIT_NS`, then EOIs the PIRQ (Xen 4.17 reports every PIRQ as needing one). Other domains
// run while Dom0 is blocked. A lost interrupt costs one `WAIT_NS`; the driver's poll budget
// (`IRQ_POLL_BUDGET` waits) bounds a device that never answers.

use core::sync::atomic::{AtomicU32, Ordering};

use dom0_tools::ata::PRIMARY_IRQ;
use hypercall_abi::event_channel::EvtchnPort;

use super::open::Disk;
use crate::arch::x86_64::{pirq_calls, shared_events, toolstack_calls, xen};

/// The longest one wait blocks.
const WAIT_NS: u64 = 20_000_000;
/// Waits one ATA status wait may take with interrupts on (at most 10 s).
pub const IRQ_POLL_BUDGET: u32 = 500;
/// No port bound yet.
const NONE: u32 = u32::MAX;

/// The event channel the disk's PIRQ is bound to.
static PORT: AtomicU32 = AtomicU32::new(NONE);
/// The disk's PIRQ.
static PIRQ: AtomicU32 = AtomicU32::new(NONE);

/// Routes the disk's interrupt to us and makes the driver wait for it: maps GSI 14 to a
/// PIRQ, binds it, turns the device's interrupts on. On failure says which step (the driver
/// keeps polling).
pub fn enable(disk: &mut Disk) -> Result<EvtchnPort, (&'static str, i64)> {
    match shared_events::map() {
        0 => {}
        e => return Err(("map our shared_info", e)),
    }
    let pirq = pirq_calls::map_gsi(PRIMARY_IRQ).map_err(|e| ("map_pirq(GSI 14)", e))?;
    let port = match pirq_calls::bind_pirq(pirq) {
        Ok(port) => port,
        Err(e) => {
            let _ = pirq_calls::unmap(pirq);
            return Err(("bind_pirq", e));
        }
    };
    PIRQ.store(pirq, Ordering::Relaxed);
    PORT.store(port, Ordering::Relaxed);
    disk.ata.ports_mut().set_wait(wait_for_irq);
    disk.ata.set_poll_budget(IRQ_POLL_BUDGET);
    disk.ata.set_interrupts(true);
    Ok(port)
}

/// The driver's wait with interrupts on: returns once the disk interrupted (or had since the
/// last wait), or after [`WAIT_NS`].
fn wait_for_irq() {
    let port = PORT.load(Ordering::Relaxed);
    if port == NONE {
        let _ = xen::sched_yield();
        return;
    }
    if !shared_events::take_pending(port) {
        match shared_events::system_time_ns() {
            Some(now) => {
                toolstack_calls::sched_poll(&[port], now.saturating_add(WAIT_NS));
            }
            None => {
                let _ = xen::sched_yield();
            }
        }
        shared_events::take_pending(port);
    }
    let _ = pirq_calls::eoi(PIRQ.load(Ordering::Relaxed));
}
