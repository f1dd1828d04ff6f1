//! Benchmarks: instructions per empty-loop iteration, null hypercall, `syscall` bounce, page-table write (batched, trapped, native), then the two-domain figures.
// Exact under QEMU's `-icount shift=0,sleep=off`, where rdtsc counts instructions.

use hypercall_abi::vcpu::VcpuOp;

use crate::arch::x86_64::conform::time;
use crate::arch::x86_64::mmu_bench::{self, NotMeasured};
use crate::arch::x86_64::window::Slot;
use crate::arch::x86_64::{bounce_bench, timing, xen};
use crate::console::kprintln;

/// Iterations of each loop.
const N: u64 = 10_000;

/// Runs the loops, prints one BENCH line each and powers off.
pub fn run() -> ! {
    // The periodic timer (100 Hz from boot, as in Xen) would interrupt the loops.
    let stopped = time::vcpu_op_plain(VcpuOp::StopPeriodicTimer, 0);
    if stopped != 0 {
        kprintln!("bench: stop_periodic_timer returned {}", stopped);
    }
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
    if let Err(NotMeasured(why)) = page_table_writes() {
        kprintln!("bench: page-table writes not measured: {}", why);
    }
    crate::dom0::bench_pair::run();
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

/// Page-table entries written per figure.
const PTE_WRITES: u64 = 4096;

/// One page-table write costs this many instructions when done as mmu_update batches of 1,
/// 16 and 64 entries, as a trapped store the hypervisor emulates, and as a plain store to
/// ordinary memory (the floor: a kernel that owns its page tables). Each figure is per entry
/// and includes the guest's own loop.
fn page_table_writes() -> Result<(), NotMeasured> {
    let bench = mmu_bench::setup()?;
    for n in [1, 16, mmu_bench::MAX_BATCH] {
        let rounds = PTE_WRITES / n as u64;
        let _ = bench.time_batches(n, 2)?;
        let ticks = bench.time_batches(n, rounds)?;
        kprintln!(
            "BENCH mmu_update_batch{} insns={} n={}",
            n,
            per_entry(ticks),
            PTE_WRITES
        );
    }
    let (table_slot, page_slot) = (Slot::get(0), Slot::get(1));
    let (Some(table_slot), Some(page_slot)) = (table_slot, page_slot) else {
        return Err(NotMeasured("no window slot"));
    };
    let n = mmu_bench::MAX_BATCH;
    let rounds = PTE_WRITES / n as u64;
    let _ = bench.time_trapped(table_slot, n, 2)?;
    let trapped = bench.time_trapped(table_slot, n, rounds)?;
    kprintln!(
        "BENCH pte_write_trapped insns={} n={}",
        per_entry(trapped),
        PTE_WRITES
    );
    let _ = bench.time_native(page_slot, n, 2)?;
    let native = bench.time_native(page_slot, n, rounds)?;
    kprintln!(
        "BENCH pte_write_native insns={} n={}",
        per_entry(native),
        PTE_WRITES
    );
    Ok(())
}

/// Instructions per entry, with two decimals (the console has no floats: fixed point).
fn per_entry(ticks: u64) -> PerEntry {
    PerEntry(ticks * 100 / PTE_WRITES)
}

/// Hundredths of an instruction, printed as `<whole>.<two digits>`.
struct PerEntry(u64);

impl core::fmt::Display for PerEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}
