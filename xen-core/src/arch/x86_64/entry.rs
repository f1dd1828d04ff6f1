//! Entry and exit stubs: every way into xen-core from a guest (or from itself) and back.
//!
//! Every entry from a guest builds a [`GuestRegs`] frame at the top of the hypervisor stack
//! (TSS.RSP0 = `boot_stack_top`).
//! - `syscall` (the hypercall hot path) saves only what Rust may clobber and marks the frame
//!   [`ENTRY_SYSCALL`] (a partial frame: the callee-saved slots are neither filled nor restored),
//!   calls the handler from the hypercall table and returns with `sysretq`, or with `iretq`
//!   when the handler changed the frame. `sysretq` is only used to a canonical RIP: on Intel
//!   CPUs a non-canonical RCX makes `sysretq` raise #GP in ring 0 on the guest's stack (XSA-7).
//!   Every `iretq` to a guest first goes through `trap_entry::syscall_exit_check`, which makes
//!   the frame one the CPU accepts.
//! - Exceptions save every register and jump to a Rust function that never returns; it leaves
//!   through [`exit_to_guest`] with a frame checked by `trap::iret::check_frame`, or through
//!   [`resume_xen`] back into xen-core. The 168-byte frame leaves RSP at 8 mod 16, exactly as
//!   after a `call`, so the Rust side sees an aligned stack.
//! - If a guest `iretq` faults anyway (the check is wrong), the fault arrives from ring 0 with
//!   RIP at one of the two `iretq`s ([`is_guest_iretq`]) and the guest's frame at its RSP
//!   ([`faulted_iret_frame`]); `trap_entry` crashes the guest instead of the machine.

use core::arch::global_asm;
use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use xen_core::guest_regs::{ENTRY_SYSCALL, GuestRegs};
use xen_core::layout::maddr_to_virt;
use xen_core::trap::iret::CheckedFrame;

use super::direct_map;

// The syscall stub sets the vector with one byte store.
const _: () = assert!(ENTRY_SYSCALL & 0xff == 0 && ENTRY_SYSCALL >> 8 <= 0xff);

global_asm!(
    r#"
    .section .text.entry, "ax"

    /* The partial frame: the return frame with CS = \cs, error code 0 and vector
       ENTRY_SYSCALL, the caller-saved registers, room for the callee-saved ones (never
       written: see GuestRegs) and 8 bytes to align the call. Leaves RDI pointing at the
       GuestRegs. */
    .macro SYSCALL_FRAME cs
    mov [rip + syscall_saved_rsp], rsp
    lea rsp, [rip + boot_stack_top]
    push 0xe02b
    push qword ptr [rip + syscall_saved_rsp]
    push r11
    push \cs
    push rcx
    push 0
    mov byte ptr [rsp + 5], {entry_syscall_hi}
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
       through the hypercall table. Handlers return 0 to leave with sysretq (the frame as the
       syscall left it, RAX aside), 1 with iretq. */
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
    /* An event upcall to deliver (pending and not masked) leaves through iretq, where
       trap_entry::syscall_exit_check bounces it to the guest. Masked: 3 instructions. */
    mov rcx, [rip + {upcall_info}]
    cmp byte ptr [rcx + 1], 0
    jne 5f
    cmp byte ptr [rcx], 0
    jne syscall_exit_iret
5:  /* RCX = RIP; a non-canonical one (sar by 47 gives neither 0 nor -1) takes iretq, whose
       check turns it into the #GP the guest would get on hardware. */
    mov rcx, [rsp + {rip_slot}]
    mov r11, rcx
    sar r11, 47
    inc r11d
    cmp r11d, 1
    ja syscall_exit_iret
    add rsp, 64                     /* alignment, callee-saved slots, R11 (sysretq sets it) */
    pop r10
    pop r9
    pop r8
    pop rax
    add rsp, 8                      /* RCX: sysretq sets it to RIP */
    pop rdx
    pop rsi
    pop rdi
    mov r11, [rsp + 24]             /* RFLAGS */
    mov rsp, [rsp + 32]             /* RSP */
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

    /* Leave a partial (syscall) frame with iretq once the check has made it acceptable (the
       check never returns otherwise); the callee-saved registers are live. Code 2: the
       vCPU stops running for now; the callee-saved registers (the guest's again, since the
       handler returned) complete the frame and the scheduler takes it, never to return. */
syscall_exit_iret:
    cmp eax, 2
    je 6f
    lea rdi, [rsp + 8]
    call {exit_check}
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
    .global syscall_iretq
syscall_iretq:
    iretq
6:  lea rdi, [rsp + 8]
    mov [rdi], r15
    mov [rdi + 8], r14
    mov [rdi + 16], r13
    mov [rdi + 24], r12
    mov [rdi + 32], rbp
    mov [rdi + 40], rbx
    call {reschedule}
    ud2

    /* Restore every register of the full frame at RDI; leaves RSP at its RIP slot. */
    .macro RESTORE_FULL
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
    .endm

    /* fn(regs: &GuestRegs) -> !: to a guest, with a checked frame. */
    .global exit_full_to_guest
    .balign 16
exit_full_to_guest:
    RESTORE_FULL
    .global full_iretq
full_iretq:
    iretq

    /* fn(regs: &GuestRegs) -> !: back into xen-core (an NMI, a recovered fault). */
    .global exit_full_to_xen
    .balign 16
exit_full_to_xen:
    RESTORE_FULL
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

    /* Below the error code and vector: every general register, in GuestRegs order. */
    .macro SAVE_FULL
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
    .endm

    .balign 16
exception_common:
    SAVE_FULL
    mov rdi, rsp
    cld
    jmp {trap_rust}

    /* The local APIC timer: a full frame as for an exception (no error code), then Rust,
       which never returns. Taken from a guest on the hypervisor stack (TSS.RSP0), or in
       xen-core only inside timer_irq::idle_wait. */
    .global timer_interrupt_entry
    .balign 16
timer_interrupt_entry:
    push 0
    mov dword ptr [rsp + 4], {timer_vector}
    SAVE_FULL
    mov rdi, rsp
    cld
    jmp {timer_rust}

    /* COM1's receive interrupt (the legacy PIC's IRQ 4): as for the timer. */
    .global serial_interrupt_entry
    .balign 16
serial_interrupt_entry:
    push 0
    mov dword ptr [rsp + 4], {serial_vector}
    SAVE_FULL
    mov rdi, rsp
    cld
    jmp {serial_rust}

    /* Vectors 32-255 but the timer's and the UART's: no other device interrupt is enabled,
       so anything here is spurious (the APIC's spurious vector and the PIC's spurious IRQ 7
       need no EOI either). */
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
    timer_rust = sym super::timer_irq::interrupt,
    timer_vector = const super::apic::TIMER_VECTOR,
    serial_rust = sym super::serial_irq::interrupt,
    serial_vector = const super::serial_irq::SERIAL_VECTOR,
    exit_check = sym crate::trap_entry::syscall_exit_check,
    reschedule = sym crate::schedule::from_hypercall,
    entry_syscall_hi = const ENTRY_SYSCALL >> 8,
    rip_slot = const 8 + offset_of!(GuestRegs, rip),
    upcall_info = sym UPCALL_VCPU_INFO,
);

/// What [`UPCALL_VCPU_INFO`] points at while no vCPU is loaded: no upcall pending, masked.
static NO_VCPU_INFO: [u8; 2] = [0, 1];

/// The running vCPU's vcpu_info (its `evtchn_upcall_pending` byte, then
/// `evtchn_upcall_mask`), through the direct map: the sysret fast path reads both to decide
/// whether an event upcall must be bounced on the way out. Set by [`set_upcall_vcpu_info`].
static UPCALL_VCPU_INFO: AtomicPtr<u8> =
    AtomicPtr::new((&raw const NO_VCPU_INFO).cast_mut().cast());

/// Points the sysret fast path's upcall check at the vcpu_info at machine address `maddr`
/// (the running vCPU's, in a shared_info frame xen-core keeps): call it whenever another vCPU
/// is loaded.
pub fn set_upcall_vcpu_info(maddr: u64) {
    // The direct map covers it: reading through it proves the address is mapped.
    let _ = direct_map::atomic_u16(maddr);
    UPCALL_VCPU_INFO.store(maddr_to_virt(maddr) as *mut u8, Ordering::Relaxed);
}

/// Whether the vCPU loaded by [`set_upcall_vcpu_info`] has an event upcall pending and
/// events unmasked, as the fast path tests it: the iretq exit paths' cheap first test (the
/// decision itself is `event_glue::deliver_upcall`'s, on the domain).
pub fn upcall_deliverable() -> bool {
    let info = UPCALL_VCPU_INFO.load(Ordering::Relaxed);
    // SAFETY: the pointer is NO_VCPU_INFO or a vcpu_info in the direct map (checked by
    // set_upcall_vcpu_info), which stays mapped: 2 readable bytes either way. Volatile byte
    // reads, because the guest owns the mask and event delivery sets the pending byte.
    let [pending, mask] = unsafe { [info.read_volatile(), info.add(1).read_volatile()] };
    pending != 0 && mask == 0
}

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
    /// The stub of the local APIC timer's vector.
    pub fn timer_interrupt_entry();
    /// The stub of COM1's interrupt vector.
    pub fn serial_interrupt_entry();
    /// Addresses of the stubs of exception vectors 0-31.
    pub static exception_stub_table: [u64; 32];
}

unsafe extern "C" {
    fn exit_full_to_guest(regs: *const GuestRegs) -> !;
    fn exit_full_to_xen(regs: *const GuestRegs) -> !;
    fn syscall_iretq();
    fn full_iretq();
}

/// Restores a full frame and returns to the guest with `iretq`: after a trap, a bounce, or at
/// the first entry. The frame was checked, so `iretq` cannot fault in xen-core.
pub fn exit_to_guest(frame: CheckedFrame<'_>) -> ! {
    // SAFETY: a CheckedFrame has flat ring-3 selectors (RPL 3), a RIP the CPU accepts for its
    // code selector and RFLAGS without IOPL or VM and with IF set: iretq to it cannot fault in
    // xen-core and leaves the guest at CPL 3 with interrupts on. Every register it restores is
    // the guest's own (a complete frame: it is not a partial syscall frame, whose exits are
    // the syscall stub's).
    unsafe { exit_full_to_guest(frame.regs()) }
}

/// Returns into xen-core from an exception it took itself (an NMI, a guest copy that faulted),
/// or from a timer or UART interrupt taken in `timer_irq::idle_wait`.
///
/// # Safety
/// `regs` must be the frame the CPU and `exception_common` (or an interrupt stub) built
/// for an exception or interrupt taken in xen-core (CS RPL 0), unchanged except for a RIP moved
/// to a recovery point of the interrupted code (`uaccess::fixup_for`).
pub unsafe fn resume_xen(regs: &GuestRegs) -> ! {
    // SAFETY: per the contract the frame resumes xen-core's own interrupted code, with the
    // registers and stack it had, at a point where it expects to continue.
    unsafe { exit_full_to_xen(regs) }
}

/// Whether `rip` is one of the two `iretq` instructions that return to a guest.
pub fn is_guest_iretq(rip: u64) -> bool {
    rip == syscall_iretq as *const () as u64 || rip == full_iretq as *const () as u64
}

/// The return frame (RIP, CS, RFLAGS, RSP, SS) that a faulting guest `iretq` was using. In the
/// fault's own frame (`regs`), the general registers are the guest's (all restored before the
/// `iretq`), and RSP is where the return frame lies.
///
/// # Safety
/// `regs` must be the frame of an exception that xen-core took at a guest `iretq`
/// ([`is_guest_iretq`] of its RIP, CS RPL 0).
pub unsafe fn faulted_iret_frame(regs: &GuestRegs) -> [u64; 5] {
    // SAFETY: at the iretq, RSP pointed at the five words it pops, on the hypervisor stack;
    // the CPU pushed the fault's frame below them (aligned down, at the same privilege level),
    // and exception_common below that, so they are intact, aligned and readable.
    unsafe { core::ptr::read(regs.rsp as *const [u64; 5]) }
}
