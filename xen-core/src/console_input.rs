//! Serial input for the hardware domain: the receive ring, VIRQ_CONSOLE, and CONSOLEIO_read's side.
//
// As in Xen, bytes received on the UART wait in a small ring ([`SerialRx`], 128 bytes) until
// the hardware domain reads them with CONSOLEIO_read, and each arrival raises VIRQ_CONSOLE
// in it. The UART's receive interrupt moves bytes in ([`on_interrupt`]); a read also polls
// the UART. Unlike Xen, nothing is dropped: while the ring is full the receive interrupt is
// off and the bytes stay in the UART, whose sender then waits.
//
// Interrupts are off whenever xen-core runs, so the ring's lock is never contended.

use core::sync::atomic::{AtomicBool, Ordering};

use hypercall_abi::Errno;
use hypercall_abi::event_channel::VIRQ_CONSOLE;
use spin::Mutex;
use xen_core::serial_rx::{SERIAL_RX_SIZE, SerialRx};

use crate::arch::x86_64::{serial, serial_irq};
use crate::event_glue;
use crate::hypervisor::{HV, Hypervisor};
use crate::schedule;

/// Received bytes the hardware domain has not read yet.
static RX: Mutex<SerialRx> = Mutex::new(SerialRx::new());
/// Bytes arrived since VIRQ_CONSOLE was last raised.
static ARRIVED: AtomicBool = AtomicBool::new(false);
/// The receive interrupt is routed ([`start`] ran).
static STARTED: AtomicBool = AtomicBool::new(false);
/// The UART's receive interrupt is enabled (the ring has room).
static RX_IRQ_ON: AtomicBool = AtomicBool::new(false);

/// Moves what the UART holds into the ring, as far as it has room, then enables the receive
/// interrupt if there is room left and disables it if not. Returns how many bytes moved.
fn fill() -> usize {
    let mut rx = RX.lock();
    let moved = rx.fill_from(serial::read_byte);
    if STARTED.load(Ordering::Relaxed) {
        let want_irq = !rx.is_full();
        if RX_IRQ_ON.swap(want_irq, Ordering::Relaxed) != want_irq {
            serial::set_rx_interrupt(want_irq);
        }
    }
    if moved > 0 {
        ARRIVED.store(true, Ordering::Relaxed);
    }
    moved
}

/// Turns serial input on, when Dom0 is about to run (Xen switches its input to Dom0 at the end
/// of boot as well): routes the UART's interrupt and takes what arrived during boot.
pub fn start() {
    serial_irq::enable();
    STARTED.store(true, Ordering::Relaxed);
    fill();
}

/// The UART's interrupt: takes the received bytes. From a guest (`from_guest`), the hypervisor
/// state is free, so VIRQ_CONSOLE is raised at once; otherwise the CPU was idle and the
/// scheduler's next decision raises it ([`notify`]).
pub fn on_interrupt(from_guest: bool) {
    fill();
    if from_guest {
        HV.with(|hv| {
            if let Some(hv) = hv.as_mut() {
                notify(hv);
            }
        });
    }
}

/// Raises VIRQ_CONSOLE in the hardware domain if bytes arrived since the last time, waking it
/// if it waits for that (called by the scheduler at each decision, and after an interrupt).
pub fn notify(hv: &mut Hypervisor) {
    if !ARRIVED.swap(false, Ordering::Relaxed) {
        return;
    }
    match hv.current.as_deref_mut() {
        Some(cur) if cur.is_hardware() => event_glue::send_global_virq_to(cur, VIRQ_CONSOLE),
        _ => {
            if let Some((_, dom)) = hv.domains.iter_mut().find(|(_, d)| d.is_hardware()) {
                event_glue::send_global_virq_to(dom, VIRQ_CONSOLE);
                schedule::kick(&mut hv.sched, dom);
            }
        }
    }
}

/// CONSOLEIO_read's side: hands up to `max` waiting bytes (at most [`SERIAL_RX_SIZE`]) to
/// `deliver`, and drops them from the ring only if it succeeds. Returns how many were
/// delivered and whether more bytes wait.
pub fn read(
    max: usize,
    deliver: impl FnOnce(&[u8]) -> Result<(), Errno>,
) -> Result<(usize, bool), Errno> {
    fill();
    let mut buf = [0u8; SERIAL_RX_SIZE];
    let want = max.min(SERIAL_RX_SIZE);
    let n = RX.lock().peek(&mut buf[..want]);
    deliver(&buf[..n])?;
    RX.lock().consume(n);
    // Room again: take what the UART held back (and let it interrupt again).
    fill();
    ARRIVED.store(false, Ordering::Relaxed);
    let more = !RX.lock().is_empty();
    Ok((n, more))
}
