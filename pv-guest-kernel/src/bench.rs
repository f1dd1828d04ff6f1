//! Benchmarks: instructions per empty-loop iteration and per null hypercall.
// Exact under QEMU's `-icount shift=0,sleep=off`, where rdtsc counts instructions.

use crate::arch::x86_64::{timing, xen};
use crate::console::kprintln;

/// Iterations of each loop.
const N: u64 = 10_000;

/// Runs both loops, prints one BENCH line each and powers off.
pub fn run() -> ! {
    // One short warm-up round each, so both measured loops start from the same state.
    let _ = timing::empty_loop(16);
    let _ = timing::null_hypercall_loop(16);
    let empty = timing::empty_loop(N);
    let hypercall = timing::null_hypercall_loop(N);
    kprintln!("BENCH empty_loop insns={} n={}", empty / N, N);
    kprintln!(
        "BENCH null_hypercall insns={} n={}",
        hypercall.saturating_sub(empty) / N,
        N
    );
    xen::power_off()
}
