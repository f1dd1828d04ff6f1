//! A minimal event upcall for the time guest: bind a VIRQ, note which ports fired, clear them.
//!
//! The callback is registered with CALLBACKF_mask_events, so the hypervisor masks events on
//! entry; the entry stub saves the caller-saved registers, the handler clears
//! evtchn_upcall_pending and every unmasked pending port named by evtchn_pending_sel (noting
//! each in [`SEEN`]), and the stub leaves through the iret hypercall, which restores the mask
//! from the frame's IF.

use core::arch::asm;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use hypercall_abi::callback::{CALLBACKF_MASK_EVENTS, CallbackType};
use hypercall_abi::event_channel::{EVTCHNOP_BIND_VIRQ, EvtchnBindVirq};
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::shared_info::{SharedInfo, VcpuInfo};

use super::super::memory::{self, SparePage};
use super::super::traps::symbol_address;
use super::hypercalls::{self, hc};

/// Ports in the 2-level ABI, and words of its bitmaps.
const PORT_WORDS: usize = 64;

/// Upcalls taken.
static UPCALLS: AtomicU64 = AtomicU64::new(0);
/// Ports the upcall found pending (and cleared), until [`take_seen`].
static SEEN: [AtomicU64; PORT_WORDS] = [const { AtomicU64::new(0) }; PORT_WORDS];

super::super::upcall_stub::simple_upcall_stub!("pvk_time_upcall", upcall);

/// Byte `offset` of shared_info as an atomic, if shared_info is mapped.
fn shared_u8(offset: usize) -> Option<&'static AtomicU8> {
    if !memory::shared_info_mapped() || offset >= 4096 {
        return None;
    }
    let p = (SparePage::SharedInfo.va() as *mut u8).wrapping_add(offset);
    // SAFETY: the byte lies in the shared_info page, mapped writable at the spare page for the
    // rest of the run (checked); it is only ever accessed atomically or volatilely by this
    // kernel, and the hypervisor's concurrent accesses are atomic or single stores.
    Some(unsafe { AtomicU8::from_ptr(p) })
}

/// The 8-byte word at byte `offset` of shared_info as an atomic, if mapped.
fn shared_u64(offset: usize) -> Option<&'static AtomicU64> {
    if !memory::shared_info_mapped() || !offset.is_multiple_of(8) || offset + 8 > 4096 {
        return None;
    }
    let p = (SparePage::SharedInfo.va() as *mut u8).wrapping_add(offset) as *mut u64;
    // SAFETY: as in `shared_u8`, for an aligned word inside the page.
    Some(unsafe { AtomicU64::from_ptr(p) })
}

fn pending_word(word: usize) -> Option<&'static AtomicU64> {
    shared_u64(offset_of!(SharedInfo, evtchn_pending) + word * 8)
}

fn mask_word(word: usize) -> Option<&'static AtomicU64> {
    shared_u64(offset_of!(SharedInfo, evtchn_mask) + word * 8)
}

/// The upcall's work: clear upcall_pending, then for each word named by pending_sel, note and
/// clear its unmasked pending ports.
extern "sysv64" fn upcall() {
    UPCALLS.fetch_add(1, Ordering::Relaxed);
    let vcpu0 = offset_of!(SharedInfo, vcpu_info);
    if let Some(flag) = shared_u8(vcpu0 + offset_of!(VcpuInfo, evtchn_upcall_pending)) {
        flag.store(0, Ordering::SeqCst);
    }
    let Some(sel) = shared_u64(vcpu0 + offset_of!(VcpuInfo, evtchn_pending_sel)) else {
        return;
    };
    let mut words = sel.swap(0, Ordering::SeqCst);
    while words != 0 {
        let w = words.trailing_zeros() as usize;
        words &= words - 1;
        let (Some(pending), Some(mask)) = (pending_word(w), mask_word(w)) else {
            continue;
        };
        let ready = pending.load(Ordering::SeqCst) & !mask.load(Ordering::SeqCst);
        pending.fetch_and(!ready, Ordering::SeqCst);
        if let Some(seen) = SEEN.get(w) {
            seen.fetch_or(ready, Ordering::SeqCst);
        }
    }
}

/// Registers the upcall as the event callback (events masked on entry).
pub fn register() -> i64 {
    let entry = symbol_address!("pvk_time_upcall");
    // SAFETY: pvk_time_upcall accepts the event callback's bounce frame and returns through
    // the iret hypercall with every register restored.
    unsafe { hypercalls::register_callback(CallbackType::Event, CALLBACKF_MASK_EVENTS, entry) }
}

/// EVTCHNOP_bind_virq of `virq` on vCPU `vcpu`: the port, or the hypercall's -errno.
pub fn bind_virq(virq: u32, vcpu: u32) -> Result<u32, i64> {
    let mut bind = EvtchnBindVirq {
        virq,
        vcpu,
        port: 0,
    };
    // SAFETY: the hypervisor reads and writes the live request; a new port only adds an event
    // source whose upcall is the one registered here.
    let ret = unsafe {
        hc(
            Hypercall::EventChannelOp,
            u64::from(EVTCHNOP_BIND_VIRQ),
            &mut bind as *mut EvtchnBindVirq as u64,
            0,
            0,
            0,
        )
    };
    if ret == 0 { Ok(bind.port) } else { Err(ret) }
}

/// Upcalls taken so far.
pub fn upcalls() -> u64 {
    UPCALLS.load(Ordering::SeqCst)
}

/// Whether the upcall found `port` pending since the last call for it (and forgets it).
pub fn take_seen(port: u32) -> bool {
    let bit = 1u64 << (port % 64);
    SEEN.get(port as usize / 64)
        .is_some_and(|w| w.fetch_and(!bit, Ordering::SeqCst) & bit != 0)
}

/// Whether `port`'s pending bit is set (false if shared_info is not mapped).
pub fn port_pending(port: u32) -> bool {
    pending_word(port as usize / 64)
        .is_some_and(|w| w.load(Ordering::SeqCst) & (1 << (port % 64)) != 0)
}

/// Clears `port`'s pending bit and the vCPU's upcall_pending (whatever it was for): the
/// state a poll with events masked leaves to clean up.
pub fn clear_pending(port: u32) {
    if let Some(w) = pending_word(port as usize / 64) {
        w.fetch_and(!(1 << (port % 64)), Ordering::SeqCst);
    }
    let vcpu0 = offset_of!(SharedInfo, vcpu_info);
    if let Some(flag) = shared_u8(vcpu0 + offset_of!(VcpuInfo, evtchn_upcall_pending)) {
        flag.store(0, Ordering::SeqCst);
    }
    if let Some(sel) = shared_u64(vcpu0 + offset_of!(VcpuInfo, evtchn_pending_sel)) {
        sel.store(0, Ordering::SeqCst);
    }
}
