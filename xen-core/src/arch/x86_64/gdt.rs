//! The GDT with Xen's reserved selectors at byte 0xe000, and the TSS with its IST stacks.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::mem::size_of;

use hypercall_abi::segment::FIRST_RESERVED_GDT_ENTRY;

/// Ring-0 64-bit code (`__HYPERVISOR_CS`).
pub const HYPERVISOR_CS: u16 = 0xe008;
/// Ring-0 data (`__HYPERVISOR_DS`).
pub const HYPERVISOR_DS: u16 = 0xe010;
/// The TSS descriptor.
pub const TSS_SELECTOR: u16 = 0xe040;

const E: usize = FIRST_RESERVED_GDT_ENTRY as usize;
const GDT_ENTRIES: usize = E + 12;

/// IST slot (1-based, as in the IDT) of the double-fault stack.
pub const IST_DOUBLE_FAULT: u8 = 1;
/// IST slot of the NMI stack.
pub const IST_NMI: u8 = 2;
/// IST slot of the machine-check stack.
pub const IST_MACHINE_CHECK: u8 = 3;

const IST_STACK_SIZE: usize = 8192;

#[repr(C, packed(4))]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}
const _: () = assert!(size_of::<Tss>() == 104);

#[repr(C, align(16))]
struct Stack([u8; IST_STACK_SIZE]);

struct Tables {
    gdt: [u64; GDT_ENTRIES],
    tss: Tss,
    ist: [Stack; 3],
}

struct TablesCell(UnsafeCell<Tables>);
// SAFETY: one CPU; the tables are written during boot before anything can race, and later only
// RSP0 changes, with interrupts off.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    gdt: [0; GDT_ENTRIES],
    tss: Tss {
        reserved0: 0,
        rsp: [0; 3],
        reserved1: 0,
        ist: [0; 7],
        reserved2: 0,
        reserved3: 0,
        iomap_base: 104,
    },
    ist: [const { Stack([0; IST_STACK_SIZE]) }; 3],
}));

#[repr(C, packed(2))]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Builds and loads the GDT and TSS, with `rsp0` as the stack for entries from the guest.
pub fn init(rsp0: u64) {
    // SAFETY: called once at boot on the only CPU, before interrupts or guests exist, so
    // nothing else holds a reference into TABLES.
    let t = unsafe { &mut *TABLES.0.get() };
    t.gdt[E + 1] = 0x00af_9b00_0000_ffff; // 0xe008 ring-0 code, 64-bit
    t.gdt[E + 2] = 0x00cf_9300_0000_ffff; // 0xe010 ring-0 data
    t.gdt[E + 3] = 0x00cf_9b00_0000_ffff; // 0xe018 ring-0 code, 32-bit
    t.gdt[E + 4] = 0x00cf_fb00_0000_ffff; // 0xe023 FLAT_RING3_CS32
    t.gdt[E + 5] = 0x00cf_f300_0000_ffff; // 0xe02b FLAT_RING3_DS / SS
    t.gdt[E + 6] = 0x00af_fb00_0000_ffff; // 0xe033 FLAT_RING3_CS64
    for (i, stack) in t.ist.iter().enumerate() {
        t.tss.ist[i] = stack.0.as_ptr() as u64 + IST_STACK_SIZE as u64;
    }
    t.tss.rsp[0] = rsp0;
    let base = &t.tss as *const Tss as u64;
    let limit = (size_of::<Tss>() - 1) as u64;
    t.gdt[E + 8] = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    t.gdt[E + 9] = base >> 32;
    let ptr = Pointer {
        limit: (size_of::<[u64; GDT_ENTRIES]>() - 1) as u16,
        base: t.gdt.as_ptr() as u64,
    };
    // SAFETY: the GDT is static and its selectors match what the rest of xen-core loads; the
    // far return reloads CS with the new ring-0 code selector.
    unsafe {
        asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ss, {ds:x}",
            "mov ds, {zero:x}",
            "mov es, {zero:x}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            cs = in(reg) u64::from(HYPERVISOR_CS),
            ds = in(reg) HYPERVISOR_DS,
            zero = in(reg) 0u16,
            tss = in(reg) TSS_SELECTOR,
            tmp = out(reg) _,
        )
    };
}

/// Sets the stack the CPU switches to on entry from ring 3.
///
/// # Safety
/// `rsp0` must be the top of a stack that nothing else uses while guests (or the floor
/// measurement) run, large enough for the deepest entry path.
pub unsafe fn set_rsp0(rsp0: u64) {
    // SAFETY: one CPU with interrupts off: no entry can read RSP0 while it changes.
    unsafe { (*TABLES.0.get()).tss.rsp[0] = rsp0 };
}
