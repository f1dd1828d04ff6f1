//! The entry stub of a simple event upcall: save the caller-saved registers, call a handler, leave through the iret hypercall.

/// Defines global symbol `$name`: an event callback entry that calls `$handler`
/// (`extern "C" fn()`) and returns to the interrupted code. The hypervisor's bounce frame is
/// RCX, R11, RIP, CS, RFLAGS, RSP, SS: RCX and R11 go back into their registers, the other
/// caller-saved registers and RBX (which keeps the unaligned RSP) are saved around the call;
/// then the iret hypercall with flags 0, whose stub pushes RCX, R11 and RAX to complete its
/// frame and whose RFLAGS.IF restores the event mask saved in the frame.
macro_rules! simple_upcall_stub {
    ($name:literal, $handler:path) => {
        core::arch::global_asm!(
            ".pushsection .text, \"ax\"",
            concat!(".global ", $name),
            concat!($name, ":"),
            "pop rcx",
            "pop r11",
            "push rax",
            "push rcx",
            "push rdx",
            "push rsi",
            "push rdi",
            "push r8",
            "push r9",
            "push r10",
            "push r11",
            "push rbx",
            "mov rbx, rsp",
            "and rsp, -16",
            "cld",
            "call {handler}",
            "mov rsp, rbx",
            "pop rbx",
            "pop r11",
            "pop r10",
            "pop r9",
            "pop r8",
            "pop rdi",
            "pop rsi",
            "pop rdx",
            "pop rcx",
            "pop rax",
            "push 0",
            "jmp hypercall_page + {iret}",
            ".popsection",
            handler = sym $handler,
            iret = const $crate::arch::x86_64::hypercall::IRET_STUB_OFFSET,
        );
    };
}

pub(crate) use simple_upcall_stub;
