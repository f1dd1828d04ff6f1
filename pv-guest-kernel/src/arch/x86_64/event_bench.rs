//! Event and domain-switch benchmarks: a lean upcall that counts (and may echo) the bench ports, timed event round trips and yields.
// The upcall entry saves the caller-saved registers around `upcall`, which clears
// evtchn_upcall_pending and pending_sel, takes the unmasked pending bench ports of word 0
// (ports 1-63; every other pending port stays pending for whoever polls it), counts each and,
// on the echoing side, sends back on it. It leaves through the iret hypercall, whose RFLAGS.IF
// restores the event mask saved in the frame.

use core::arch::asm;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use hypercall_abi::callback::{CALLBACKF_MASK_EVENTS, CallbackType};
use hypercall_abi::event_channel::{EvtchnPort, EvtchnSend};
use hypercall_abi::shared_info::{SharedInfo, VcpuInfo};

use super::conform::{hypercalls, time};
use super::event_calls;
use super::memory::{self, SparePage};
use super::mmu_bench::NotMeasured;
use super::timing;
use super::traps::symbol_address;
use super::{shared_events, xen};

/// Ports the upcall handles: those of the first pending word.
const PORTS: usize = 64;

/// Bench ports (bit per port of word 0) the upcall takes.
static WATCHED: AtomicU64 = AtomicU64::new(0);
/// Of those, the ports it sends back on.
static ECHO: AtomicU64 = AtomicU64::new(0);
/// Events taken per port.
static COUNTS: [AtomicU64; PORTS] = [const { AtomicU64::new(0) }; PORTS];

super::upcall_stub::simple_upcall_stub!("pvk_bench_upcall", upcall);

/// The u64 at byte `offset` of the mapped shared_info page.
fn shared_u64(offset: usize) -> &'static AtomicU64 {
    debug_assert!(offset.is_multiple_of(8) && offset + 8 <= 4096);
    let p = (SparePage::SharedInfo.va() as *mut u8).wrapping_add(offset) as *mut u64;
    // SAFETY: only called once `setup` found shared_info mapped writable at the spare page,
    // where it stays for the rest of the run; the offsets are aligned words inside the page;
    // this kernel only accesses the page atomically or volatilely, and the hypervisor's
    // concurrent changes are atomic.
    unsafe { AtomicU64::from_ptr(p) }
}

/// The byte at `offset` of the mapped shared_info page.
fn shared_u8(offset: usize) -> &'static AtomicU8 {
    debug_assert!(offset < 4096);
    let p = (SparePage::SharedInfo.va() as *mut u8).wrapping_add(offset);
    // SAFETY: as in `shared_u64`, for a byte.
    unsafe { AtomicU8::from_ptr(p) }
}

const VCPU0: usize = offset_of!(SharedInfo, vcpu_info);

/// The upcall's work (see the top of this file).
extern "sysv64" fn upcall() {
    if !memory::shared_info_mapped() {
        return;
    }
    shared_u8(VCPU0 + offset_of!(VcpuInfo, evtchn_upcall_pending)).store(0, Ordering::SeqCst);
    let sel =
        shared_u64(VCPU0 + offset_of!(VcpuInfo, evtchn_pending_sel)).swap(0, Ordering::SeqCst);
    if sel & 1 == 0 {
        return;
    }
    let pending = shared_u64(offset_of!(SharedInfo, evtchn_pending));
    let mask = shared_u64(offset_of!(SharedInfo, evtchn_mask));
    let ready = pending.load(Ordering::SeqCst)
        & !mask.load(Ordering::SeqCst)
        & WATCHED.load(Ordering::Relaxed);
    if ready == 0 {
        return;
    }
    pending.fetch_and(!ready, Ordering::SeqCst);
    let echo = ready & ECHO.load(Ordering::Relaxed);
    let mut bits = ready;
    while bits != 0 {
        let port = bits.trailing_zeros();
        bits &= bits - 1;
        COUNTS[port as usize].fetch_add(1, Ordering::SeqCst);
        if echo & (1 << port) != 0 {
            let _ = event_calls::evtchn_op(&mut EvtchnSend { port });
        }
    }
}

/// Makes the bench upcall our event callback for `ports` (each 1-63), unmasks them and forgets
/// any event they had (bind_interdomain marks the binder's port pending, as Xen does), and
/// with `echo` sends back on each event taken. Maps shared_info if needed. Events stay masked
/// for the vCPU until [`enable_events`].
pub fn setup(ports: &[EvtchnPort], echo: bool) -> Result<(), NotMeasured> {
    if shared_events::map() != 0 {
        return Err(NotMeasured("shared_info could not be mapped"));
    }
    let mut bits = 0u64;
    for &port in ports {
        if port == 0 || port as usize >= PORTS {
            return Err(NotMeasured("a bench port beyond the first pending word"));
        }
        bits |= 1 << port;
    }
    WATCHED.store(bits, Ordering::SeqCst);
    ECHO.store(if echo { bits } else { 0 }, Ordering::SeqCst);
    shared_u64(offset_of!(SharedInfo, evtchn_mask)).fetch_and(!bits, Ordering::SeqCst);
    shared_u64(offset_of!(SharedInfo, evtchn_pending)).fetch_and(!bits, Ordering::SeqCst);
    let entry = symbol_address!("pvk_bench_upcall");
    // SAFETY: pvk_bench_upcall accepts the event callback's bounce frame and returns through
    // the iret hypercall with every register as it was.
    let ret =
        unsafe { hypercalls::register_callback(CallbackType::Event, CALLBACKF_MASK_EVENTS, entry) };
    if ret != 0 {
        return Err(NotMeasured("registering the event callback refused"));
    }
    Ok(())
}

/// Clears the vCPU's event mask: a pending upcall arrives at the next return from the
/// hypervisor.
pub fn enable_events() {
    if memory::shared_info_mapped() {
        shared_u8(VCPU0 + offset_of!(VcpuInfo, evtchn_upcall_mask)).store(0, Ordering::SeqCst);
    }
}

/// Events the upcall took on `port` so far.
pub fn count(port: EvtchnPort) -> u64 {
    COUNTS
        .get(port as usize)
        .map_or(0, |c| c.load(Ordering::SeqCst))
}

/// EVTCHNOP_send on `port`: 0 or -errno.
pub fn send(port: EvtchnPort) -> i64 {
    event_calls::evtchn_op(&mut EvtchnSend { port })
}

/// Blocks (SCHEDOP_block, events enabled) until the upcall has taken more than `seen` events
/// on `port`. Never returns if none comes.
pub fn wait_past(port: EvtchnPort, seen: u64) {
    while count(port) <= seen {
        let _ = time::block();
    }
}

/// TSC ticks for `n` round trips on `port`: send, then block until the upcall took the
/// answer. The other end must send back on each event (its upcall does, with `echo`).
/// Not measured if the upcall took more answers than events were sent.
pub fn time_round_trips(port: EvtchnPort, n: u64) -> Result<u64, NotMeasured> {
    let first = count(port);
    let start = timing::now();
    for i in 0..n {
        let _ = send(port);
        wait_past(port, first + i);
    }
    let ticks = timing::now() - start;
    if count(port) != first + n {
        return Err(NotMeasured("more answers than events sent"));
    }
    Ok(ticks)
}

/// TSC ticks for `n` SCHEDOP_yield calls.
pub fn time_yields(n: u64) -> u64 {
    let start = timing::now();
    for _ in 0..n {
        let _ = xen::sched_yield();
    }
    timing::now() - start
}
