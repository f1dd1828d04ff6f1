//! The IDT: exceptions, the APIC timer and the UART go to their stubs in entry.rs; the rest are ignored.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::mem::size_of;

use super::apic::TIMER_VECTOR;
use super::entry::{
    exception_stub_table, irq_ignore, serial_interrupt_entry, timer_interrupt_entry,
};
use super::gdt::{HYPERVISOR_CS, IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI};
use super::pirq_irq;
use super::serial_irq::SERIAL_VECTOR;

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    low: u64,
    high: u64,
}

fn gate(handler: u64, dpl: u8, ist: u8) -> Gate {
    let low = (handler & 0xffff)
        | (u64::from(HYPERVISOR_CS) << 16)
        | (u64::from(ist) << 32)
        | ((0x8e | (u64::from(dpl) << 5)) << 40)
        | ((handler >> 16) & 0xffff) << 48;
    Gate {
        low,
        high: handler >> 32,
    }
}

struct IdtCell(UnsafeCell<[Gate; 256]>);
// SAFETY: written once at boot on the only CPU before interrupts are possible; read-only after.
unsafe impl Sync for IdtCell {}

static IDT: IdtCell = IdtCell(UnsafeCell::new([Gate { low: 0, high: 0 }; 256]));

#[repr(C, packed(2))]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Fills and loads the IDT. `int3` and `into` are allowed from ring 3 (DPL 3), as in Xen, so a
/// guest's breakpoints reach its handlers directly; any other `int n` faults with #GP and is
/// emulated.
pub fn init() {
    // SAFETY: called once at boot on the only CPU, before interrupts are enabled.
    let idt = unsafe { &mut *IDT.0.get() };
    // SAFETY: the table is an immutable static array defined in entry.rs.
    let stubs = unsafe { &exception_stub_table };
    for (vector, entry) in idt.iter_mut().enumerate() {
        *entry = match vector {
            2 => gate(stubs[2], 0, IST_NMI),
            3 | 4 => gate(stubs[vector], 3, 0),
            8 => gate(stubs[8], 0, IST_DOUBLE_FAULT),
            18 => gate(stubs[18], 0, IST_MACHINE_CHECK),
            0..32 => gate(stubs[vector], 0, 0),
            v if v == usize::from(TIMER_VECTOR) => {
                gate(timer_interrupt_entry as *const () as u64, 0, 0)
            }
            v if v == usize::from(SERIAL_VECTOR) => {
                gate(serial_interrupt_entry as *const () as u64, 0, 0)
            }
            // The ISA lines the hardware domain may be given (masked until it binds one);
            // everything else, the APIC's SPURIOUS_VECTOR included (it takes no EOI): ignored.
            _ => match pirq_irq::stub_for(vector) {
                Some(stub) => gate(stub, 0, 0),
                None => gate(irq_ignore as *const () as u64, 0, 0),
            },
        };
    }
    let ptr = Pointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: idt.as_ptr() as u64,
    };
    // SAFETY: the IDT is static and every gate points at a valid stub with xen-core's CS.
    unsafe { asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags)) };
}

/// Points the `int3` gate at `handler` (0 puts back the normal stub).
///
/// # Safety
/// `handler` must be an entry stub that copes with an `int3` from ring 3.
pub unsafe fn set_int3(handler: u64) {
    // SAFETY: the table is an immutable static array defined in entry.rs.
    let stubs = unsafe { &exception_stub_table };
    let target = if handler == 0 { stubs[3] } else { handler };
    // SAFETY: one CPU with interrupts off; the gate is replaced whole before any int3.
    unsafe { (*IDT.0.get())[3] = gate(target, 3, 0) };
}
