//! Benchmarks: instructions per empty-loop iteration, per null hypercall and per user-to-kernel
//! `syscall` bounce.
// Exact under QEMU's `-icount shift=0,sleep=off`, where rdtsc counts instructions.

use crate::arch::x86_64::{bounce_bench, timing, xen};
use crate::console::kprintln;

/// Iterations of each loop.
const N: u64 = 10_000;

/// Runs the loops, prints one BENCH line each and powers off.
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
    syscall_bounce(empty);
    xen::power_off()
}

/// A `syscall` from guest user mode to the guest kernel's syscall callback and back to user
/// mode with the iret hypercall (Linux's path for a system call on Xen PV). The callback's
/// countdown (`dec; jz`) is the empty loop's, which is subtracted like the null hypercall's.
fn syscall_bounce(empty: u64) {
    if let Err(e) = bounce_bench::setup() {
        kprintln!("bench: syscall_bounce not measured: {:?}", e);
        return;
    }
    let _ = bounce_bench::time_bounces(16);
    let bounces = bounce_bench::time_bounces(N);
    kprintln!(
        "BENCH syscall_bounce insns={} n={}",
        bounces.saturating_sub(empty) / N,
        N
    );
}
