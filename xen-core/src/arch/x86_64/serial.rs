//! The 16550 UART on COM1: xen-core's console, shared with Dom0 as in Xen.

use super::platform::{inb, outb};

const COM1: u16 = 0x3f8;
const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;

/// Programs COM1 for 115200 8n1 with FIFOs and no interrupts.
pub fn init() {
    // SAFETY: xen-core owns COM1; these writes only configure the UART.
    unsafe {
        outb(COM1 + 1, 0x00); // no interrupts
        outb(COM1 + 3, 0x80); // DLAB
        outb(COM1, 0x01); // divisor 1: 115200 baud
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03); // 8n1
        outb(COM1 + 2, 0xc7); // FIFOs on, cleared
        outb(COM1 + 4, 0x03); // DTR, RTS
    }
}

/// Sends one byte, waiting for the transmitter.
pub fn write_byte(b: u8) {
    // SAFETY: reading the line status and writing the data register of COM1, which xen-core owns.
    unsafe {
        while inb(COM1 + 5) & LSR_THR_EMPTY == 0 {}
        outb(COM1, b);
    }
}

/// Takes one received byte, if any.
pub fn read_byte() -> Option<u8> {
    // SAFETY: reading COM1's status and data registers, which xen-core owns.
    unsafe { (inb(COM1 + 5) & LSR_DATA_READY != 0).then(|| inb(COM1)) }
}
