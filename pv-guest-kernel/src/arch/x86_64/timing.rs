//! Timed loops for the benchmarks: rdtsc around N iterations of a loop.
// Under QEMU's `-icount shift=0` the TSC advances by one per guest instruction.

use core::arch::asm;

use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::version::XenVersionCmd;

use super::hypercall;

/// The TSC now: instructions retired so far under icount.
pub fn now() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the time-stamp counter into eax:edx.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// TSC ticks for `n` iterations of an empty loop (`dec; jnz`); 0 if `n` is 0.
pub fn empty_loop(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let ticks: u64;
    // SAFETY: only registers are used: rdtsc, a countdown and the difference.
    unsafe {
        asm!(
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "mov {start}, rax",
            "2:",
            "dec {count}",
            "jnz 2b",
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "sub rax, {start}",
            count = inout(reg) n => _,
            start = out(reg) _,
            out("rax") ticks,
            out("rdx") _,
            options(nomem, nostack),
        );
    }
    ticks
}

/// TSC ticks for `n` iterations of xen_version(XENVER_version, NULL) through the hypercall
/// page; 0 if `n` is 0 or the page has no such stub.
pub fn null_hypercall_loop(n: u64) -> u64 {
    let Some(stub) = hypercall::stub_address(Hypercall::XenVersion as u8) else {
        return 0;
    };
    if n == 0 {
        return 0;
    }
    let ticks: u64;
    // SAFETY: XENVER_version with a NULL argument reads and writes no guest memory; the stub
    // preserves rcx/r11 and may change rax and the argument registers, which are declared
    // clobbered. The loop state lives in r12-r14, which the hypervisor preserves.
    unsafe {
        asm!(
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "mov r14, rax",
            "2:",
            "mov edi, {cmd}",
            "xor esi, esi",
            "call r13",
            "dec r12",
            "jnz 2b",
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "sub rax, r14",
            cmd = const XenVersionCmd::Version as u32,
            inout("r12") n => _,
            in("r13") stub,
            out("r14") _,
            out("rax") ticks,
            out("rcx") _,
            out("rdx") _,
            out("rsi") _,
            out("rdi") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
        );
    }
    ticks
}
