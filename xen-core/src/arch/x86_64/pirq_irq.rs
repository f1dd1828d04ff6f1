//! Legacy PIC lines routed to the hardware domain: their entry stubs, the IDT vectors they use, and the handler.
//
// As for the timer and COM1 (`timer_irq.rs`, `serial_irq.rs`), these interrupts are taken in
// a guest (on the hypervisor stack) or in `timer_irq::idle_wait`, never elsewhere in xen-core
// (interrupts are off). One stub per ISA line pushes an empty error code and its vector, then
// a common tail saves a full `GuestRegs` frame exactly as `entry.rs`'s exception path does and
// jumps to [`interrupt`]. The lines are edge-triggered: the PIC gets its EOI at once and the
// line stays unmasked while a port is bound to it (`pirq_glue`).

use core::arch::global_asm;

use xen_core::guest_regs::GuestRegs;
use xen_core::pirq::lines::{self, NR_ISA_IRQS};

use super::entry;
use super::platform::{self, LEGACY_IRQ_BASE};

global_asm!(
    r#"
    .section .text.entry, "ax"

    .macro PIRQ_STUB irq
    .balign 16
pirq_stub_\irq:
    push 0
    mov dword ptr [rsp + 4], {base} + \irq
    jmp pirq_common
    .endm

    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    PIRQ_STUB \n
    .endr

    /* Below the error code and vector: every general register, in GuestRegs order (as
       entry.rs's SAVE_FULL). */
    .balign 16
pirq_common:
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
    jmp {rust}

    .section .rodata.pirq_stubs, "a"
    .balign 8
    .global pirq_stub_table
pirq_stub_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .quad pirq_stub_\n
    .endr
"#,
    base = const LEGACY_IRQ_BASE,
    rust = sym interrupt,
);

unsafe extern "C" {
    /// Addresses of the stubs of ISA lines 0-15.
    static pirq_stub_table: [u64; NR_ISA_IRQS as usize];
}

/// The IDT gate's target for `vector`, if it is the vector of an ISA line xen-core can route
/// to a guest.
pub fn stub_for(vector: usize) -> Option<u64> {
    let irq = u32::try_from(vector.checked_sub(usize::from(LEGACY_IRQ_BASE))?).ok()?;
    if !lines::routable(irq) {
        return None;
    }
    // SAFETY: the table is an immutable static array defined in the assembly above.
    let table = unsafe { &pirq_stub_table };
    table.get(irq as usize).copied()
}

/// Lets ISA line `irq` interrupt (`on`) or not: its PIC mask bit, and the PIC let in through
/// the local APIC. Only for lines [`lines::routable`] says xen-core can give away.
pub fn set_line(irq: u32, on: bool) {
    if !lines::routable(irq) {
        return;
    }
    if on {
        super::apic::pass_pic();
    }
    platform::set_isa_irq_masked(irq as u8, !on);
}

/// The stubs' Rust side: drops the PICs' spurious IRQ 7 and 15 (the slave's still takes the
/// master's EOI for the cascade), sends the EOI, hands the line to `pirq_glue`, then returns
/// to the interrupted context.
pub extern "C" fn interrupt(regs: &mut GuestRegs) -> ! {
    let irq = (regs.entry_vector as u8).wrapping_sub(LEGACY_IRQ_BASE);
    let from_guest = regs.cs & 3 != 0;
    if matches!(irq, 7 | 15) && !platform::isa_irq_in_service(irq) {
        if irq == 15 {
            platform::legacy_pic_eoi();
        }
    } else {
        platform::isa_pic_eoi(irq);
        crate::pirq_glue::on_interrupt(u32::from(irq), from_guest);
    }
    if from_guest {
        crate::trap_entry::enter_guest(regs)
    }
    // SAFETY: the frame came from ring 0, so the interrupt was taken in xen-core (only in
    // timer_irq::idle_wait, the one place where it enables interrupts); the stub built it as
    // exception_common does, and nothing changed it: resuming it continues idle_wait.
    unsafe { entry::resume_xen(regs) }
}
