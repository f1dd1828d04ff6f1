//! The PC platform around the CPU: port I/O, the legacy PICs, and leaving QEMU.

use core::arch::asm;

/// Writes a byte to an I/O port.
///
/// # Safety
/// The caller owns `port` and the write must not reconfigure hardware xen-core relies on.
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: port ownership is the caller's contract; we run at CPL 0.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

/// Writes a 16-bit word to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub unsafe fn outw(port: u16, value: u16) {
    // SAFETY: port ownership is the caller's contract; we run at CPL 0.
    unsafe {
        asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack, preserves_flags))
    };
}

/// Writes a 32-bit word to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub unsafe fn outl(port: u16, value: u32) {
    // SAFETY: port ownership is the caller's contract; we run at CPL 0.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    };
}

/// Reads a byte from an I/O port.
///
/// # Safety
/// The caller owns `port`; reading it must have no side effect others rely on.
pub unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: port ownership is the caller's contract; we run at CPL 0.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// The vector of the master PIC's IRQ 0 after [`mask_legacy_pics`] (IRQ n is this plus n).
pub const LEGACY_IRQ_BASE: u8 = 0x20;

/// The master PIC's command and interrupt mask ports.
const PIC1_COMMAND: u16 = 0x20;
const PIC1_DATA: u16 = 0x21;
/// OCW2: non-specific end of interrupt.
const PIC_EOI: u8 = 0x20;

/// Remaps both 8259 PICs to vectors 0x20-0x2f and masks every line: xen-core takes no
/// device interrupts yet, and a firmware-enabled timer line must not look like an exception.
pub fn mask_legacy_pics() {
    // SAFETY: the PICs belong to xen-core; this is the standard ICW1-4 sequence plus masks.
    unsafe {
        outb(0x20, 0x11);
        outb(0xa0, 0x11);
        outb(0x21, 0x20);
        outb(0xa1, 0x28);
        outb(0x21, 0x04);
        outb(0xa1, 0x02);
        outb(0x21, 0x01);
        outb(0xa1, 0x01);
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }
}

/// Unmasks line `irq` (0-7) of the master PIC; its interrupt arrives on vector
/// [`LEGACY_IRQ_BASE`] + `irq` once the local APIC lets the PIC through (`apic::pass_pic`).
pub fn unmask_legacy_irq(irq: u8) {
    debug_assert!(irq < 8 && irq != 2, "only the master PIC's device lines");
    // SAFETY: the PICs belong to xen-core (Dom0 is denied their ports); this only clears one
    // bit of the master's mask register, whose handler the caller installed.
    unsafe {
        let mask = inb(PIC1_DATA);
        outb(PIC1_DATA, mask & !(1 << (irq & 7)));
    }
}

/// The slave PIC's command and interrupt mask ports.
const PIC2_COMMAND: u16 = 0xa0;
const PIC2_DATA: u16 = 0xa1;
/// The master's line the slave cascades into.
const CASCADE_LINE: u8 = 2;
/// OCW3: the next read of the command port returns the in-service register.
const PIC_READ_ISR: u8 = 0x0b;

/// Masks (`masked`) or unmasks ISA line `irq` (0-15) on the PIC that has it. Unmasking a
/// slave line unmasks the cascade too (which stays unmasked: the slave's own masks decide).
pub fn set_isa_irq_masked(irq: u8, masked: bool) {
    debug_assert!(irq < 16, "ISA IRQs are 0-15");
    let (port, bit) = if irq < 8 {
        (PIC1_DATA, 1u8 << irq)
    } else {
        (PIC2_DATA, 1u8 << (irq & 7))
    };
    // SAFETY: the PICs belong to xen-core (Dom0 is denied their ports); this changes one bit
    // of a mask register (and clears the cascade's), for a line whose handler is installed.
    unsafe {
        let mask = inb(port);
        outb(port, if masked { mask | bit } else { mask & !bit });
        if irq >= 8 && !masked {
            let master = inb(PIC1_DATA);
            outb(PIC1_DATA, master & !(1 << CASCADE_LINE));
        }
    }
}

/// Whether ISA line `irq` (0-15) is in service: false for the PICs' spurious IRQ 7 and 15.
pub fn isa_irq_in_service(irq: u8) -> bool {
    let (port, bit) = if irq < 8 {
        (PIC1_COMMAND, 1u8 << irq)
    } else {
        (PIC2_COMMAND, 1u8 << (irq & 7))
    };
    // SAFETY: the PICs belong to xen-core; OCW3 only selects which register the command
    // port reads back, and xen-core never reads the IRR through it.
    unsafe {
        outb(port, PIC_READ_ISR);
        inb(port) & bit != 0
    }
}

/// Ends the interrupt of ISA line `irq` being handled: on the slave, then the master (which
/// sees it as the cascade's), non-specific EOIs.
pub fn isa_pic_eoi(irq: u8) {
    // SAFETY: the PICs belong to xen-core; an EOI only clears the in-service bit of the
    // interrupt being handled (the slave's and the cascade's for a slave line).
    unsafe {
        if irq >= 8 {
            outb(PIC2_COMMAND, PIC_EOI);
        }
        outb(PIC1_COMMAND, PIC_EOI);
    }
}

/// Ends the master PIC's interrupt being handled (a non-specific EOI).
pub fn legacy_pic_eoi() {
    // SAFETY: the PICs belong to xen-core; an EOI only clears the in-service bit of the
    // interrupt being handled.
    unsafe { outb(PIC1_COMMAND, PIC_EOI) }
}

/// Why QEMU should stop; the value reaches the host as QEMU's exit status (see xtask).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Dom0 powered off: ACPI S5, QEMU exits 0.
    PowerOff,
    /// Dom0 crashed: exit status 3.
    Dom0Crashed,
    /// Dom0 asked for a reboot: exit status 5.
    Dom0Reboot,
    /// xen-core hit a fatal error: exit status 7.
    Fatal,
}

const DEBUG_EXIT_PORT: u16 = 0xf4;
const ACPI_PM1A_CNT: u16 = 0x604;
const ACPI_SLP_EN_S5: u16 = 0x2000;

/// Ends the machine. Under QEMU with `isa-debug-exit` the exit status tells why; on a machine
/// without it, the CPU halts.
pub fn exit_machine(exit: Exit) -> ! {
    // SAFETY: the machine is being stopped; nothing relies on these ports afterwards.
    unsafe {
        match exit {
            // QEMU acts on the ACPI request from its main loop, so the CPU just halts after it
            // (isa-debug-exit would win the race and cannot say 0).
            Exit::PowerOff => outw(ACPI_PM1A_CNT, ACPI_SLP_EN_S5),
            Exit::Dom0Crashed => outl(DEBUG_EXIT_PORT, 1),
            Exit::Dom0Reboot => outl(DEBUG_EXIT_PORT, 2),
            Exit::Fatal => outl(DEBUG_EXIT_PORT, 3),
        }
    }
    super::cpu::halt_forever()
}
