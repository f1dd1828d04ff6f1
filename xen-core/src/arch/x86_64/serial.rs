//! The 16550 UART on COM1: xen-core's console, shared with Dom0 as in Xen.

use core::sync::atomic::{AtomicU16, Ordering};

use super::platform::{inb, outb};

const COM1: u16 = 0x3f8;
/// The IRQ line of COM1 on a PC (through the legacy PIC, or GSI 4 on an I/O APIC).
pub const COM1_IRQ: u8 = 4;
const REG_IER: u16 = COM1 + 1;
const REG_MCR: u16 = COM1 + 4;
const REG_LSR: u16 = COM1 + 5;
/// IER: "received data available" interrupt (also the FIFO's character timeout).
const IER_RX: u8 = 0x01;
/// MCR: DTR and RTS.
const MCR_DTR_RTS: u8 = 0x03;
/// MCR: OUT2, which gates the UART's interrupt line onto the PC's IRQ line.
const MCR_OUT2: u8 = 0x08;
const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;

/// A byte the UART held before [`init`] (which clears its FIFOs): 0x100 | byte, or 0.
static EARLY_BYTE: AtomicU16 = AtomicU16::new(0);

/// Programs COM1 for 115200 8n1 with FIFOs (interrupting from the first received byte) and no
/// interrupts yet ([`set_rx_interrupt`] turns the receive interrupt on). A byte received
/// before (typed ahead of the boot) is kept for [`read_byte`]: turning the FIFOs on clears them.
pub fn init() {
    if let Some(b) = read_byte() {
        EARLY_BYTE.store(0x100 | u16::from(b), Ordering::Relaxed);
    }
    // SAFETY: xen-core owns COM1; these writes only configure the UART.
    unsafe {
        outb(REG_IER, 0x00); // no interrupts
        outb(COM1 + 3, 0x80); // DLAB
        outb(COM1, 0x01); // divisor 1: 115200 baud
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03); // 8n1
        outb(COM1 + 2, 0x07); // FIFOs on, cleared, receive trigger at 1 byte
        outb(REG_MCR, MCR_DTR_RTS | MCR_OUT2);
    }
}

/// Sends one byte, waiting for the transmitter.
pub fn write_byte(b: u8) {
    // SAFETY: reading the line status and writing the data register of COM1, which xen-core owns.
    unsafe {
        while inb(REG_LSR) & LSR_THR_EMPTY == 0 {}
        outb(COM1, b);
    }
}

/// Takes one received byte, if any (the one kept by [`init`] first).
pub fn read_byte() -> Option<u8> {
    if EARLY_BYTE.load(Ordering::Relaxed) != 0 {
        return Some(EARLY_BYTE.swap(0, Ordering::Relaxed) as u8);
    }
    // SAFETY: reading COM1's status and data registers, which xen-core owns.
    unsafe { (inb(REG_LSR) & LSR_DATA_READY != 0).then(|| inb(COM1)) }
}

/// Turns the "received data available" interrupt on or off (the only one xen-core uses). Off,
/// the UART keeps what it receives in its FIFO, and a sender that waits for room (QEMU's
/// character backends do) waits.
pub fn set_rx_interrupt(enabled: bool) {
    // SAFETY: writing COM1's interrupt enable register, which xen-core owns; no other source
    // is ever enabled, so this is the whole register.
    unsafe { outb(REG_IER, if enabled { IER_RX } else { 0 }) }
}
