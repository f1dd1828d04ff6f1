//! The TSC as xen-core's clock: its calibrated rate and system time in nanoseconds since boot.
//!
//! `time_init` measures the rate against the PIT and records it with [`set_calibration`];
//! until then [`now_ns`] reads 0. The TSC-to-nanosecond scaling here is a private 32.32
//! fixed-point multiply (the library's `time` module has the guest-facing version).

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// The TSC rate in Hz (0 until calibrated).
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
/// The TSC at system time 0.
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick as a 32.32 fixed-point number (0 until calibrated).
static NS_PER_TICK: AtomicU64 = AtomicU64::new(0);

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the counter into edx:eax; xen-core runs at CPL 0, where CR4.TSD
    // does not apply.
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Records the TSC's rate (`hz`, at least 1) and the TSC value that system time 0 stands
/// for. Called once at boot by `time_init`.
pub fn set_calibration(hz: u64, boot_tsc: u64) {
    let hz = hz.max(1);
    // 10^9 << 32 fits in 62 bits, so the quotient fits in a u64 for any hz >= 1.
    let per_tick = ((1_000_000_000u128 << 32) / u128::from(hz)) as u64;
    BOOT_TSC.store(boot_tsc, Ordering::Relaxed);
    NS_PER_TICK.store(per_tick, Ordering::Relaxed);
    TSC_HZ.store(hz, Ordering::Relaxed);
}

/// The TSC's rate in Hz, as calibrated against the PIT at boot (0 before). Under QEMU's
/// `-icount shift=0` the TSC counts instructions, one per virtual nanosecond: about 1 GHz.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Nanoseconds for `ticks` TSC ticks at the calibrated rate (saturating).
fn ticks_to_ns(ticks: u64) -> u64 {
    let ns = (u128::from(ticks) * u128::from(NS_PER_TICK.load(Ordering::Relaxed))) >> 32;
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// System time: nanoseconds since xen-core started its clock at boot (just before the
/// calibration), from the TSC. Monotonic on this one CPU; 0 before calibration.
pub fn now_ns() -> u64 {
    ticks_to_ns(rdtsc().saturating_sub(BOOT_TSC.load(Ordering::Relaxed)))
}
