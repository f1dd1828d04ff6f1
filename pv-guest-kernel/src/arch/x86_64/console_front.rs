//! A DomU's console: its PV console ring (start_info console.domU) instead of console_io.
// The ring page is a frame of our initial mapping, shared with the console backend in Dom0;
// it is only accessed through ring_page's volatile accesses.

use core::sync::atomic::{AtomicU64, Ordering};

use hypercall_abi::start_info::{SIF_INITDOMAIN, StartInfo};

use dom0_tools::console_ring;

use super::ring_page::{RingPage, initial_frame_va};
use super::{toolstack_calls, xen};

/// The ring page's virtual address once `init` found it (0: not a DomU, or no ring).
static RING_VA: AtomicU64 = AtomicU64::new(0);
/// The console event channel (start_info console.domU.evtchn).
static PORT: AtomicU64 = AtomicU64::new(0);
/// Yields to wait for room in a full ring before the rest of a line is dropped.
const FULL_RING_YIELDS: u32 = 100_000;

/// For a DomU, finds the console ring named by start_info: `console.domU.mfn` through the M2P
/// to our frame number, which must lie in the initial mapping. True if output now goes there.
pub fn init(start_info: &StartInfo) -> bool {
    if start_info.flags & SIF_INITDOMAIN != 0 || start_info.console_mfn == 0 {
        return false;
    }
    let Some(va) = initial_frame_va(start_info.console_mfn) else {
        return false;
    };
    PORT.store(u64::from(start_info.console_evtchn), Ordering::SeqCst);
    RING_VA.store(va, Ordering::SeqCst);
    true
}

/// Whether console output goes to the ring.
pub fn active() -> bool {
    RING_VA.load(Ordering::SeqCst) != 0
}

/// The ring page, as the frontend sees it.
struct Ring;

impl Ring {
    fn get() -> Option<RingPage> {
        let va = RING_VA.load(Ordering::SeqCst);
        (va != 0).then_some(RingPage(va))
    }
}

fn notify() {
    let _ = toolstack_calls::evtchn_send(PORT.load(Ordering::SeqCst) as u32);
}

/// Writes `bytes` to the ring, waiting (yielding) while it is full; false if the ring is not
/// set up, is corrupt, or stayed full too long (the rest is dropped).
pub fn write(bytes: &[u8]) -> bool {
    let Some(mut ring) = Ring::get() else {
        return false;
    };
    let mut rest = bytes;
    let mut waited = 0;
    while !rest.is_empty() {
        match console_ring::write_output(&mut ring, rest) {
            Ok(0) => {
                notify();
                waited += 1;
                if waited > FULL_RING_YIELDS {
                    return false;
                }
                let _ = xen::sched_yield();
            }
            Ok(n) => rest = &rest[n..],
            Err(_) => return false,
        }
    }
    notify();
    true
}

/// Moves input the backend sent into `buf`; how many bytes (0 without a ring).
pub fn read_input(buf: &mut [u8]) -> usize {
    let Some(mut ring) = Ring::get() else {
        return 0;
    };
    console_ring::read_input(&mut ring, buf).unwrap_or(0)
}
