//! Entry and exit stubs: every way into xen-core from a guest (or from itself) and back.
//!
//! Each entry builds a [`GuestRegs`] frame and jumps (not calls) to a Rust function that
//! never returns; that function leaves through [`exit_to_guest_sysret`] or
//! [`exit_to_guest_iret`] with the frame to restore. For entries from a guest the frame sits at
//! the top of the hypervisor stack (TSS.RSP0 = `boot_stack_top`); its 168 bytes leave RSP at
//! 8 mod 16 there, exactly as after a `call`, so the Rust side sees an aligned stack.

use core::arch::global_asm;

use xen_core::guest_regs::GuestRegs;

global_asm!(
    r#"
    .section .text.entry, "ax"

    /* syscall from a guest: RCX = guest RIP, R11 = guest RFLAGS, RSP still the guest's.
       The frame records CS 0xe033 (64-bit) or 0xe023 (compat) so Rust can tell them apart. */
    .macro SYSCALL_ENTRY name, cs
    .global \name
    .balign 16
\name:
    mov [rip + syscall_saved_rsp], rsp
    lea rsp, [rip + boot_stack_top]
    push 0xe02b
    push qword ptr [rip + syscall_saved_rsp]
    push r11
    push \cs
    push rcx
    push 0
    push rdi
    push rsi
    push rdx
    push rcx
    push rax
    push r8
    push r9
    push r10
    push r11
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    jmp {syscall_rust}
    .endm

    SYSCALL_ENTRY syscall_entry, 0xe033
    SYSCALL_ENTRY syscall32_entry, 0xe023

    /* fn(regs: &GuestRegs) -> !: back to the guest with sysretq (RIP and RFLAGS in the frame
       came from the guest's own syscall, so they are canonical and sane). */
    .global exit_to_guest_sysret
    .balign 16
exit_to_guest_sysret:
    mov rsp, rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    pop r11
    pop r10
    pop r9
    pop r8
    pop rax
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    add rsp, 8
    pop rcx
    add rsp, 8
    pop r11
    pop rsp
    sysretq

    /* fn(regs: &GuestRegs) -> !: restore every register and iretq (to a guest, or back into
       xen-core after a recovered fault). */
    .global exit_to_guest_iret
    .balign 16
exit_to_guest_iret:
    mov rsp, rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    pop r11
    pop r10
    pop r9
    pop r8
    pop rax
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    add rsp, 8
    iretq

    .macro EXC_NOERR vec
    .balign 16
exc_stub_\vec:
    push 0
    mov dword ptr [rsp + 4], \vec
    jmp exception_common
    .endm

    .macro EXC_ERR vec
    .balign 16
exc_stub_\vec:
    mov dword ptr [rsp + 4], \vec
    jmp exception_common
    .endm

    EXC_NOERR 0
    EXC_NOERR 1
    EXC_NOERR 2
    EXC_NOERR 3
    EXC_NOERR 4
    EXC_NOERR 5
    EXC_NOERR 6
    EXC_NOERR 7
    EXC_ERR 8
    EXC_NOERR 9
    EXC_ERR 10
    EXC_ERR 11
    EXC_ERR 12
    EXC_ERR 13
    EXC_ERR 14
    EXC_NOERR 15
    EXC_NOERR 16
    EXC_ERR 17
    EXC_NOERR 18
    EXC_NOERR 19
    EXC_NOERR 20
    EXC_ERR 21
    EXC_NOERR 22
    EXC_NOERR 23
    EXC_NOERR 24
    EXC_NOERR 25
    EXC_NOERR 26
    EXC_NOERR 27
    EXC_NOERR 28
    EXC_ERR 29
    EXC_ERR 30
    EXC_NOERR 31

    .balign 16
exception_common:
    push rdi
    push rsi
    push rdx
    push rcx
    push rax
    push r8
    push r9
    push r10
    push r11
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    jmp {trap_rust}

    /* Vectors 32-255: no device interrupts are enabled, so anything here is spurious. */
    .global irq_ignore
    .balign 16
irq_ignore:
    iretq

    .section .rodata.exception_stubs, "a"
    .balign 8
    .global exception_stub_table
exception_stub_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exc_stub_\n
    .endr

    .section .bss.syscall_saved_rsp, "aw", @nobits
    .balign 8
syscall_saved_rsp:
    .skip 8
"#,
    syscall_rust = sym crate::trap_entry::syscall_from_guest,
    trap_rust = sym crate::trap_entry::exception,
);

unsafe extern "C" {
    /// The `syscall` entry point from 64-bit code (IA32_LSTAR).
    pub fn syscall_entry();
    /// The `syscall` entry point from compatibility mode (IA32_CSTAR).
    pub fn syscall32_entry();
    /// The stub for vectors without a handler.
    pub fn irq_ignore();
    /// Addresses of the stubs of exception vectors 0-31.
    pub static exception_stub_table: [u64; 32];
}

unsafe extern "C" {
    #[link_name = "exit_to_guest_sysret"]
    fn sysret_stub(regs: *const GuestRegs) -> !;
    #[link_name = "exit_to_guest_iret"]
    fn iret_stub(regs: *const GuestRegs) -> !;
}

/// Returns to the guest with `sysretq`: only for a frame a `syscall` built and whose RIP,
/// CS, RFLAGS, RSP and SS were not changed since.
pub fn exit_to_guest_sysret(regs: &GuestRegs) -> ! {
    // SAFETY: `regs` is the frame the syscall entry built at the top of the hypervisor stack;
    // the stub discards everything below it and restores the guest's own RIP/RFLAGS/RSP.
    unsafe { sysret_stub(regs) }
}

/// Restores `regs` with `iretq`: to a guest after a trap, a bounce or the iret hypercall, or back
/// into xen-core after a recovered fault.
pub fn exit_to_guest_iret(regs: &GuestRegs) -> ! {
    // SAFETY: `regs` is a complete frame built by an entry stub; for a guest, the selectors are
    // the flat ring-3 ones and RIP/RSP were checked canonical (trap::iret, trap::bounce), and
    // RFLAGS has IOPL 0, so iretq cannot fault in xen-core.
    unsafe { iret_stub(regs) }
}
