//! Entry and exit stubs: every way into xen-core from a guest (or from itself) and back.
//!
//! Every entry from a guest builds a [`GuestRegs`] frame at the top of the hypervisor stack
//! (TSS.RSP0 = `boot_stack_top`).
//! - `syscall` (the hypercall hot path) saves only what Rust may clobber, calls the handler
//!   from the hypercall table and returns with `sysretq`, or `iretq` when the handler changed
//!   the frame. The callee-saved slots of that frame are not filled.
//! - Exceptions save every register and jump to a Rust function that never returns; it leaves
//!   through [`exit_to_guest_iret`]. The 168-byte frame leaves RSP at 8 mod 16, exactly as
//!   after a `call`, so the Rust side sees an aligned stack.

use core::arch::global_asm;
use core::sync::atomic::AtomicBool;

use xen_core::guest_regs::GuestRegs;

global_asm!(
    r#"
    .section .text.entry, "ax"

    /* The partial frame: the return frame with CS = \cs, a zero error/vector slot, the
       caller-saved registers, room for the callee-saved ones and 8 bytes to align the call.
       Leaves RDI pointing at the GuestRegs. */
    .macro SYSCALL_FRAME cs
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
    sub rsp, 56
    lea rdi, [rsp + 8]
    .endm

    /* syscall from a guest: RCX = guest RIP, R11 = guest RFLAGS, RSP still the guest's.
       The hot path: a partial frame (callee-saved registers stay live in the CPU, since the
       Rust side is called and returns), then a hypercall from guest kernel mode goes straight
       through the hypercall table. Handlers return 0 to leave with sysretq, 1 with iretq. */
    .global syscall_entry
    .balign 16
syscall_entry:
    SYSCALL_FRAME 0xe033
    cmp byte ptr [rip + {user_mode}], 0
    jne 3f
    cmp rax, {nr_hypercalls}
    jae 4f
    lea rcx, [rip + {table}]
    call [rcx + rax * 8]
2:  test eax, eax
    jnz syscall_exit_iret
    add rsp, 56
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
3:  call {from_user}
    jmp 2b
4:  call {no_such_hypercall}
    jmp 2b

    /* syscall from compatibility mode: never a hypercall. */
    .global syscall32_entry
    .balign 16
syscall32_entry:
    SYSCALL_FRAME 0xe023
    call {from_user}
    jmp 2b

    /* Leave a partial (syscall) frame with iretq: the callee-saved registers are live. */
syscall_exit_iret:
    add rsp, 56
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
    user_mode = sym GUEST_USER_MODE,
    nr_hypercalls = const hypercall_abi::hypercall::NR_HYPERCALLS,
    table = sym crate::hypercall::dispatch::HYPERCALL_TABLE,
    from_user = sym crate::trap_entry::syscall_from_user,
    no_such_hypercall = sym crate::hypercall::dispatch::no_such_hypercall,
    trap_rust = sym crate::trap_entry::exception,
);

/// True while the running vCPU is in guest user mode: a `syscall` then is not a hypercall.
/// Written only by `Domain::enter_user_mode` / `enter_kernel_mode`; read by the entry stub.
pub static GUEST_USER_MODE: AtomicBool = AtomicBool::new(false);

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
    #[link_name = "exit_to_guest_iret"]
    fn iret_stub(regs: *const GuestRegs) -> !;
}

/// Restores `regs` with `iretq`: to a guest after a trap, a bounce or the iret hypercall, or back
/// into xen-core after a recovered fault.
pub fn exit_to_guest_iret(regs: &GuestRegs) -> ! {
    // SAFETY: `regs` is a complete frame built by an entry stub; for a guest, the selectors are
    // the flat ring-3 ones and RIP/RSP were checked canonical (trap::iret, trap::bounce), and
    // RFLAGS has IOPL 0, so iretq cannot fault in xen-core.
    unsafe { iret_stub(regs) }
}
