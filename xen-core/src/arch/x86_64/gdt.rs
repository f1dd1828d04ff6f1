//! The GDT (guest pages, then xen-core's reserved selectors at byte 0xe000), the LDT, the TSS.
//!
//! At boot the CPU runs on a static 15-page GDT whose last page holds xen-core's reserved
//! descriptors. Once the hypervisor's page tables exist, [`enable_area`] maps the per-vCPU
//! descriptor-table area (L4 slot 260, `desc_tables::GDT_AREA_BASE`) in every address space and
//! loads the GDT from there, as Xen does: pages 0-13 show the guest's GDT frames (set_gdt) or a
//! zero page, page 14 is the same reserved page, and the 16 pages after the GDT show the guest's
//! LDT pages as they are mapped on first use. Frames of guests are mapped writable but
//! supervisor-only: the guest cannot write them, the CPU can set accessed bits.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::mem::size_of;

use hypercall_abi::segment::FIRST_RESERVED_GDT_PAGE;
use xen_core::desc_tables::{
    GDT_AREA_BASE, GDT_AREA_PAGES, GDT_LIMIT, LDT_AREA_BASE, LDT_PAGES, MAX_GDT_FRAMES,
    PERVCPU_AREA_BASE, PERVCPU_AREA_L4_SLOT,
};
use xen_core::layout::{DIRECTMAP_BASE, PAGE_SIZE, table_index};

use super::{cpu, direct_map};

/// Ring-0 64-bit code (`__HYPERVISOR_CS`).
pub const HYPERVISOR_CS: u16 = 0xe008;
/// Ring-0 data (`__HYPERVISOR_DS`).
pub const HYPERVISOR_DS: u16 = 0xe010;
/// The TSS descriptor.
pub const TSS_SELECTOR: u16 = 0xe040;
/// The LDT descriptor (16 bytes, like the TSS's).
pub const LDT_SELECTOR: u16 = 0xe050;

/// Index of xen-core's reserved page in the GDT.
const RESERVED_PAGE: usize = FIRST_RESERVED_GDT_PAGE as usize;
/// Index of the TSS descriptor in the reserved page.
const TSS_INDEX: usize = (TSS_SELECTOR as usize & 0xfff) / 8;
/// Index of the LDT descriptor in the reserved page.
const LDT_INDEX: usize = (LDT_SELECTOR as usize & 0xfff) / 8;

/// IST slot (1-based, as in the IDT) of the double-fault stack.
pub const IST_DOUBLE_FAULT: u8 = 1;
/// IST slot of the NMI stack.
pub const IST_NMI: u8 = 2;
/// IST slot of the machine-check stack.
pub const IST_MACHINE_CHECK: u8 = 3;

const IST_STACK_SIZE: usize = 8192;

/// Page-table flags: present, writable, accessed, dirty, no-execute; supervisor only.
const PTE_RW: u64 = 0x1 | 0x2 | 0x20 | 0x40 | (1 << 63);
/// Present, accessed, no-execute: read-only, supervisor only.
const PTE_RO: u64 = 0x1 | 0x20 | (1 << 63);
/// Present, writable: the upper levels.
const PTE_TABLE: u64 = 0x3;

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

#[repr(C, align(4096))]
struct Page([u64; 512]);

const ZERO_PAGE: Page = Page([0; 512]);

struct Tables {
    /// The boot GDT: 14 guest pages (all zero; page 0 doubles as the zero page the area shows
    /// for unused guest pages) and the reserved page.
    gdt: [Page; RESERVED_PAGE + 1],
    /// Page tables of the per-vCPU area: one L3, one L2, one L1.
    l3: Page,
    l2: Page,
    l1: Page,
    tss: Tss,
    ist: [Stack; 3],
}

struct TablesCell(UnsafeCell<Tables>);
// SAFETY: one CPU; the tables are written during boot before anything can race, and later only
// with interrupts off from xen-core's single thread of execution (set_rsp0, the area mappings,
// the LDT descriptor), never while a reference from an earlier call is live.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    gdt: [const { ZERO_PAGE }; RESERVED_PAGE + 1],
    l3: ZERO_PAGE,
    l2: ZERO_PAGE,
    l1: ZERO_PAGE,
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

/// The tables, for a short access.
///
/// # Safety
/// The caller must not let the reference outlive its own call, nor call another function of
/// this file while holding it (one CPU, interrupts off: nothing else can touch the tables).
unsafe fn tables() -> &'static mut Tables {
    // SAFETY: per the contract, this is the only live reference.
    unsafe { &mut *TABLES.0.get() }
}

/// Machine address of something in xen-core's image (linked in the direct map).
fn maddr_of<T>(p: &T) -> u64 {
    p as *const T as u64 - DIRECTMAP_BASE
}

fn lgdt(base: u64) {
    let ptr = Pointer {
        limit: GDT_LIMIT,
        base,
    };
    // SAFETY: `base` is a GDT of GDT_LIMIT + 1 bytes, mapped now and for good, whose reserved
    // page holds the selectors xen-core has loaded: CS, SS and TR stay valid.
    unsafe { asm!("lgdt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags)) };
}

/// Builds and loads the boot GDT and the TSS, with `rsp0` as the stack for entries from the
/// guest.
pub fn init(rsp0: u64) {
    // SAFETY: called once at boot on the only CPU, before interrupts or guests exist.
    let t = unsafe { tables() };
    let r = &mut t.gdt[RESERVED_PAGE].0;
    r[1] = 0x00af_9b00_0000_ffff; // 0xe008 ring-0 code, 64-bit
    r[2] = 0x00cf_9300_0000_ffff; // 0xe010 ring-0 data
    r[3] = 0x00cf_9b00_0000_ffff; // 0xe018 ring-0 code, 32-bit
    r[4] = 0x00cf_fb00_0000_ffff; // 0xe023 FLAT_RING3_CS32
    r[5] = 0x00cf_f300_0000_ffff; // 0xe02b FLAT_RING3_DS / SS
    r[6] = 0x00af_fb00_0000_ffff; // 0xe033 FLAT_RING3_CS64
    for (i, stack) in t.ist.iter().enumerate() {
        t.tss.ist[i] = stack.0.as_ptr() as u64 + IST_STACK_SIZE as u64;
    }
    t.tss.rsp[0] = rsp0;
    let base = &t.tss as *const Tss as u64;
    let limit = (size_of::<Tss>() - 1) as u64;
    r[TSS_INDEX] = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    r[TSS_INDEX + 1] = base >> 32;
    lgdt(t.gdt.as_ptr() as u64);
    // SAFETY: the GDT just loaded holds these selectors; the far return reloads CS with the
    // ring-0 code selector.
    unsafe {
        asm!(
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ss, {ds:x}",
            "mov ds, {zero:x}",
            "mov es, {zero:x}",
            "ltr {tss:x}",
            cs = in(reg) u64::from(HYPERVISOR_CS),
            ds = in(reg) HYPERVISOR_DS,
            zero = in(reg) 0u16,
            tss = in(reg) TSS_SELECTOR,
            tmp = out(reg) _,
        )
    };
}

/// Maps the per-vCPU descriptor-table area into the current address space, records its L4
/// entry in `xen_l4_slots` (which every guest L4 receives), and moves the CPU's GDT there.
/// Called once at boot, after the hypervisor's page tables exist and before any guest L4 is
/// built.
pub fn enable_area(xen_l4_slots: &mut heapless::Vec<(usize, u64), 16>) {
    // SAFETY: boot, one CPU; the reference ends with this block.
    let l4e = unsafe {
        let t = tables();
        let l2 = maddr_of(&t.l2);
        let l1 = maddr_of(&t.l1);
        t.l3.0[table_index(PERVCPU_AREA_BASE, 3)] = l2 | PTE_TABLE;
        t.l2.0[table_index(PERVCPU_AREA_BASE, 2)] = l1 | PTE_TABLE;
        let zero = maddr_of(&t.gdt[0]);
        for page in 0..MAX_GDT_FRAMES {
            t.l1.0[table_index(GDT_AREA_BASE, 1) + page] = zero | PTE_RO;
        }
        t.l1.0[table_index(GDT_AREA_BASE, 1) + RESERVED_PAGE] =
            maddr_of(&t.gdt[RESERVED_PAGE]) | PTE_RW;
        maddr_of(&t.l3) | PTE_TABLE
    };
    let l4 = cpu::read_cr3() & !(PAGE_SIZE - 1);
    direct_map::write_u64(l4 + PERVCPU_AREA_L4_SLOT as u64 * 8, l4e);
    // Sixteen slots are reserved and xen-core uses three: there is room.
    let _ = xen_l4_slots.push((PERVCPU_AREA_L4_SLOT, l4e));
    lgdt(GDT_AREA_BASE);
}

fn set_area_pte(va: u64, pte: u64) {
    let index = table_index(va, 1);
    // SAFETY: one CPU with interrupts off; the reference ends with the statement.
    unsafe { tables().l1.0[index] = pte };
    cpu::invlpg(va);
}

/// Shows guest frame `mfn` as GDT page `page` (0..14), or the zero page for `None`.
///
/// The caller holds a descriptor-page type reference on `mfn` for as long as it is mapped.
pub fn map_gdt_page(page: usize, mfn: Option<u64>) {
    if page >= MAX_GDT_FRAMES {
        return;
    }
    let pte = match mfn {
        Some(mfn) => (mfn * PAGE_SIZE) | PTE_RW,
        // SAFETY: one CPU; the reference ends with the expression.
        None => maddr_of(unsafe { &tables().gdt[0] }) | PTE_RO,
    };
    set_area_pte(GDT_AREA_BASE + page as u64 * PAGE_SIZE, pte);
}

/// Shows guest frame `mfn` as LDT page `page` (0..16), or nothing for `None`.
///
/// The caller holds a descriptor-page type reference on `mfn` for as long as it is mapped.
pub fn map_ldt_page(page: usize, mfn: Option<u64>) {
    if page >= LDT_PAGES {
        return;
    }
    let pte = mfn.map_or(0, |mfn| (mfn * PAGE_SIZE) | PTE_RW);
    set_area_pte(LDT_AREA_BASE + page as u64 * PAGE_SIZE, pte);
}

/// Loads an LDT of `entries` descriptors from the LDT area (no LDT for 0).
pub fn load_ldt(entries: u64) {
    if entries == 0 {
        // SAFETY: a null LDT selector just disables the LDT.
        unsafe { asm!("lldt {0:x}", in(reg) 0u16, options(nostack, preserves_flags)) };
        return;
    }
    let limit = entries.min(8192) * 8 - 1;
    let base = LDT_AREA_BASE;
    let low = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x82 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    // SAFETY: one CPU; the reference ends with the block.
    unsafe {
        let r = &mut tables().gdt[RESERVED_PAGE].0;
        r[LDT_INDEX] = low;
        r[LDT_INDEX + 1] = base >> 32;
    }
    // SAFETY: the descriptor just written is a valid LDT descriptor for the LDT area, which is
    // mapped (lazily) in every address space; loading it cannot fault.
    unsafe { asm!("lldt {0:x}", in(reg) LDT_SELECTOR, options(nostack, preserves_flags)) };
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

const _: () = assert!(GDT_AREA_PAGES > RESERVED_PAGE);
const _: () = assert!(LDT_INDEX + 1 < 512 && TSS_INDEX + 1 < LDT_INDEX);
