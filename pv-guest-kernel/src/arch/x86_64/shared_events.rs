//! Our own shared_info, seen as an event and time source: pending bits to take, system time to read.
// The page is the one `memory` maps at its shared_info spare page; it is only accessed through
// raw pointers (volatile reads, atomic read-modify-writes on the pending words, which the
// hypervisor also changes atomically), never through references.

use core::arch::asm;
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use hypercall_abi::event_channel::{EVTCHN_2L_NR_CHANNELS, EvtchnPort};
use hypercall_abi::mmu::{PteFlags, UVMF_INVLPG, UVMF_LOCAL};
use hypercall_abi::shared_info::{SharedInfo, VcpuInfo, VcpuTimeInfo};

use super::boot;
use super::memory::{self, SparePage};
use super::xen;

/// Maps our shared_info page if it is not mapped yet; 0 or the -errno of the mapping.
pub fn map() -> i64 {
    if memory::shared_info_mapped() {
        return 0;
    }
    let flags = PteFlags::PRESENT | PteFlags::RW | PteFlags::ACCESSED | PteFlags::DIRTY;
    xen::map_shared_info(
        boot::start_info().shared_info,
        (flags | PteFlags::USER).bits(),
        UVMF_INVLPG | UVMF_LOCAL,
    )
}

fn base() -> Option<*mut u8> {
    memory::shared_info_mapped().then(|| SparePage::SharedInfo.va() as *mut u8)
}

/// Whether `port` was pending; clears its pending bit. False (and nothing cleared) if
/// shared_info is not mapped or the port is out of range.
pub fn take_pending(port: EvtchnPort) -> bool {
    let Some(base) = base() else {
        return false;
    };
    if port >= EVTCHN_2L_NR_CHANNELS {
        return false;
    }
    let word = offset_of!(SharedInfo, evtchn_pending) + (port as usize / 64) * 8;
    let bit = 1u64 << (port % 64);
    // SAFETY: `word` is an 8-byte-aligned u64 inside the mapped shared_info page (port < 4096
    // keeps it in the 512-byte pending array); the hypervisor sets these bits with locked
    // operations and we only change them atomically, so an atomic view of the word is sound.
    let pending = unsafe { AtomicU64::from_ptr(base.add(word).cast::<u64>()) };
    pending.fetch_and(!bit, Ordering::SeqCst) & bit != 0
}

fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the time-stamp counter into eax:edx.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// vCPU 0's time snapshot, read consistently (its version even and unchanged across the read).
fn time_info() -> Option<VcpuTimeInfo> {
    let base = base()?;
    let at = offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, time);
    // SAFETY: `at` is inside the mapped page and 8-byte aligned; VcpuTimeInfo is plain data
    // that any bytes make valid; the hypervisor updates it concurrently, hence volatile reads
    // inside a version check.
    let read = || unsafe { ptr::read_volatile(base.add(at).cast::<VcpuTimeInfo>()) };
    for _ in 0..1000 {
        let first = read();
        let again = read();
        if first.version % 2 == 0 && first == again {
            return Some(first);
        }
    }
    None
}

/// Xen system time when the TSC read `then` (in the past), in ns: now minus the ticks since.
pub fn system_time_at(then: u64) -> Option<u64> {
    let info = time_info()?;
    let now = rdtsc();
    let since = dom0_tools::pvclock::ticks_to_ns(&info, now.wrapping_sub(then));
    Some(dom0_tools::pvclock::system_time_ns(&info, now).saturating_sub(since))
}

/// The TSC when the kernel's first Rust code ran (a few instructions after its entry point).
pub static ENTRY_TSC: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Records [`ENTRY_TSC`]; the entry code calls this first.
pub fn note_entry() {
    ENTRY_TSC.store(rdtsc(), Ordering::Relaxed);
}

/// Xen system time now, in ns; `None` if shared_info is not mapped or never stable.
pub fn system_time_ns() -> Option<u64> {
    let info = time_info()?;
    Some(dom0_tools::pvclock::system_time_ns(&info, rdtsc()))
}
