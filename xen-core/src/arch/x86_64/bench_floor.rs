//! The bare `syscall`/`sysretq` floor for `cargo xtask bench`, measured before Dom0 starts.
//!
//! A page of user code runs at CPL 3 and times 16 x 1024 `syscall`s with `rdtsc`; during the
//! run LSTAR points at a lone `sysretq`, so each round trip is exactly those two instructions
//! (under `-icount shift=0` the figure is exact). The code ends with `int3`, whose IDT gate is
//! pointed at `floor_exit` for the run, on a stack of its own.

use core::arch::global_asm;

use super::cpu::{MSR_LSTAR, rdmsr, wrmsr};
use super::{direct_map, gdt, idt};
use crate::hypervisor::Hypervisor;
use xen_core::layout::{PAGE_SIZE, table_index};

/// Round trips measured.
const ROUNDS: u64 = 16 * 1024;
/// Where the user page is mapped for the run (nothing else lives in the low half then).
const USER_VA: u64 = 0x40_0000;

global_asm!(
    r#"
    .section .text.bench_floor, "ax"
    .global floor_run
floor_run:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rip + floor_saved_rsp], rsp
    push 0xe02b
    push 0
    push 0x2
    push 0xe033
    push rdi
    iretq

    .global floor_sysret
    .balign 16
floor_sysret:
    sysretq

    .global floor_exit
    .balign 16
floor_exit:
    mov rsp, [rip + floor_saved_rsp]
    mov rax, r13
    sub rax, r12
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

    .section .rodata.bench_floor, "a"
    .global floor_user_start
floor_user_start:
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r12, rax
    mov ebx, 1024
2:
    .rept 16
    syscall
    .endr
    dec ebx
    jnz 2b
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r13, rax
    int3
    .global floor_user_end
floor_user_end:

    .section .bss.bench_floor, "aw", @nobits
    .balign 16
floor_saved_rsp:
    .skip 8
    .balign 16
floor_stack:
    .skip 4096
    .global floor_stack_top
floor_stack_top:
"#
);

unsafe extern "C" {
    fn floor_run(user_rip: u64) -> u64;
    fn floor_sysret();
    fn floor_exit();
    static floor_user_start: u8;
    static floor_user_end: u8;
    static floor_stack_top: u8;
    static boot_stack_top: u8;
}

/// Measures and prints `BENCH syscall_sysret insns=<N> n=<rounds>`.
pub fn measure(hv: &mut Hypervisor) {
    let (code_start, code_end, stack, boot_stack) = (
        &raw const floor_user_start as u64,
        &raw const floor_user_end as u64,
        &raw const floor_stack_top as u64,
        &raw const boot_stack_top as u64,
    );
    // SAFETY: the code bytes are a static array in .rodata between the two labels.
    let code = unsafe {
        core::slice::from_raw_parts(code_start as *const u8, (code_end - code_start) as usize)
    };

    // A user-accessible, executable page at USER_VA in the current (xen-core's own) tables.
    let mut frames = [0u64; 4];
    for f in &mut frames {
        let Some(mfn) = hv.alloc.alloc() else {
            log::warn!("bench: no memory for the floor measurement");
            return;
        };
        direct_map::zero_frame(mfn as u64);
        *f = mfn as u64;
    }
    let [l3, l2, l1, page] = frames;
    let l4 = super::cpu::read_cr3() & !0xfff;
    let entry = |table: u64, index: usize, value: u64| {
        direct_map::write_u64(table + index as u64 * 8, value)
    };
    entry(l4, table_index(USER_VA, 4), (l3 << 12) | 0x7);
    entry(l3 * PAGE_SIZE, table_index(USER_VA, 3), (l2 << 12) | 0x7);
    entry(l2 * PAGE_SIZE, table_index(USER_VA, 2), (l1 << 12) | 0x7);
    entry(l1 * PAGE_SIZE, table_index(USER_VA, 1), (page << 12) | 0x5);
    direct_map::write_bytes(page * PAGE_SIZE, code);

    // SAFETY: for the run, LSTAR points at a lone sysretq, int3 at floor_exit and RSP0 at a
    // stack of its own; floor_run saves the callee-saved registers and floor_exit restores them
    // and returns here. Interrupts stay off (RFLAGS = 2 at CPL 3). Everything is put back after.
    let insns = unsafe {
        let lstar = rdmsr(MSR_LSTAR);
        wrmsr(MSR_LSTAR, floor_sysret as *const () as u64);
        idt::set_int3(floor_exit as *const () as u64);
        gdt::set_rsp0(stack);
        let insns = floor_run(USER_VA);
        gdt::set_rsp0(boot_stack);
        idt::set_int3(0);
        wrmsr(MSR_LSTAR, lstar);
        insns
    };
    entry(l4, table_index(USER_VA, 4), 0);
    super::cpu::flush_tlb();
    for f in frames {
        hv.alloc.free(f as usize);
    }
    log::info!("BENCH syscall_sysret insns={} n={}", insns / ROUNDS, ROUNDS);
}
