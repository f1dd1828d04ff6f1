//! The TSC as xen-core's clock: its calibrated rate and system time in nanoseconds since boot.
//!
//! `time_init` measures the rate against the PIT and records it with [`set_calibration`];
//! until then [`now_ns`] reads 0. System time is the TSC scaled exactly as guests scale it
//! from `vcpu_time_info` (the library's `TscScale`), so a deadline xen-core sees as passed has
//! passed for the guest too.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use xen_core::time::clock::SystemClock;
use xen_core::time::tsc_scale::TscScale;

use super::cpu;

/// The TSC rate in Hz (0 until calibrated).
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
/// The TSC at system time 0.
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// The guest-visible scale: `mul_frac` in bits 0-31, `shift` (as a byte) in bits 32-39; 0
/// (a zero multiplier: every time reads 0) until calibrated.
static SCALE: AtomicU64 = AtomicU64::new(0);
/// The TSC is invariant (CPUID 0x80000007 EDX bit 8): published as XEN_PVCLOCK_TSC_STABLE_BIT.
static STABLE: AtomicBool = AtomicBool::new(false);

/// CPUID leaf of the advanced power management flags.
const CPUID_APM: u32 = 0x8000_0007;
/// Its EDX bit: the TSC runs at a constant rate in every power state.
const APM_INVARIANT_TSC: u32 = 1 << 8;

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

fn pack(scale: TscScale) -> u64 {
    u64::from(scale.mul_frac) | (u64::from(scale.shift as u8) << 32)
}

fn scale() -> TscScale {
    let packed = SCALE.load(Ordering::Relaxed);
    TscScale {
        mul_frac: packed as u32,
        shift: (packed >> 32) as u8 as i8,
    }
}

/// Records the TSC's rate (`hz`, at least 1) and the TSC value that system time 0 stands
/// for. Called once at boot by `time_init`.
pub fn set_calibration(hz: u64, boot_tsc: u64) {
    let hz = hz.max(1);
    // from_hz only refuses 0.
    let Ok(scale) = TscScale::from_hz(hz) else {
        return;
    };
    let max_leaf = cpu::cpuid(0x8000_0000, 0)[0];
    let invariant = max_leaf >= CPUID_APM && cpu::cpuid(CPUID_APM, 0)[3] & APM_INVARIANT_TSC != 0;
    BOOT_TSC.store(boot_tsc, Ordering::Relaxed);
    SCALE.store(pack(scale), Ordering::Relaxed);
    STABLE.store(invariant, Ordering::Relaxed);
    TSC_HZ.store(hz, Ordering::Relaxed);
}

/// The TSC's rate in Hz, as calibrated against the PIT at boot (0 before). Under QEMU's
/// `-icount shift=0` the TSC counts instructions, one per virtual nanosecond: about 1 GHz.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// System time: nanoseconds since xen-core started its clock at boot (just before the
/// calibration), from the TSC. Monotonic on this one CPU; 0 before calibration.
pub fn now_ns() -> u64 {
    scale().ticks_to_ns(rdtsc().saturating_sub(BOOT_TSC.load(Ordering::Relaxed)))
}

/// The clock as guests are told about it (scale, zero point, stability), for publishing
/// `vcpu_time_info`.
pub fn clock() -> SystemClock {
    SystemClock::from_parts(
        tsc_hz(),
        BOOT_TSC.load(Ordering::Relaxed),
        scale(),
        STABLE.load(Ordering::Relaxed),
    )
}
