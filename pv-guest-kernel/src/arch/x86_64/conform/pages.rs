//! Pool pages of the conformance guests: remapped read-only or no-execute, page-table and descriptor frames.
// The pool is a page-aligned block of .bss defined in asm, so that the exception table can
// name the no-execute page. Rust never forms a reference into it: every access is a volatile
// raw-pointer access, and remapping only ever changes a page's flags, never its frame.

use core::arch::{asm, global_asm};
use core::ptr;
use core::sync::atomic::{AtomicU16, Ordering};

use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::PAGE_SIZE;
use hypercall_abi::mmu::{MmuUpdate, MmuextCmd, MmuextOp, PteFlags, UVMF_INVLPG, UVMF_LOCAL};

use super::super::boot;
use super::super::layout::{PADDR_OFFSET, VIRT_BASE};
use super::super::traps::symbol_address;
use super::hypercalls::hc;

/// Number of pages in the pool.
const POOL_PAGES: usize = 10;
/// Words per page.
pub const WORDS: usize = 512;
/// An address below the image that nothing maps (calls to it fault on the fetch).
pub const UNMAPPED_EXEC_ADDRESS: u64 = 0x3000;

/// The pool's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Page {
    /// A GDT frame.
    Gdt = 0,
    /// An LDT page.
    Ldt = 1,
    /// The user-mode L4.
    UserL4 = 2,
    /// L3 of the kernel-only mapping.
    KoL3 = 3,
    /// L2 of the kernel-only mapping.
    KoL2 = 4,
    /// L1 of the kernel-only mapping.
    KoL1 = 5,
    /// The kernel-only data page.
    KoData = 6,
    /// A page remapped no-execute (its first byte is `ret`).
    Nx = 7,
    /// A page remapped read-only for write faults.
    ReadOnly = 8,
    /// An ordinary writable page, offered where a hypervisor must refuse it.
    Writable = 9,
}

// The pool, and exception-table entries for fetches from the no-execute page and from the
// unmapped address: both resume at `insn::call_address`'s fixup.
global_asm!(
    ".pushsection .bss.pvk_cf_pool, \"aw\", @nobits",
    ".balign 4096",
    ".global pvk_cf_pool",
    "pvk_cf_pool:",
    ".zero {size}",
    ".popsection",
    ".pushsection .extable, \"a\"",
    ".balign 8",
    ".quad pvk_cf_pool + {nx_offset}, pvk_cf_call_fixup",
    ".quad {unmapped}, pvk_cf_call_fixup",
    ".popsection",
    size = const POOL_PAGES * PAGE_SIZE as usize,
    nx_offset = const Page::Nx as usize * PAGE_SIZE as usize,
    unmapped = const UNMAPPED_EXEC_ADDRESS,
);

const WRITABLE: u16 = 1;
/// Bit per page: set while its own mapping is writable (all start writable).
static WRITABLE_MASK: AtomicU16 = AtomicU16::new((1 << POOL_PAGES) - 1);

/// P|RW|A|D|U: an ordinary writable mapping.
pub const PTE_RW: u64 = PteFlags::PRESENT
    .union(PteFlags::RW)
    .union(PteFlags::ACCESSED)
    .union(PteFlags::DIRTY)
    .union(PteFlags::USER)
    .bits();
/// P|A|U: read-only.
pub const PTE_RO: u64 = PteFlags::PRESENT
    .union(PteFlags::ACCESSED)
    .union(PteFlags::USER)
    .bits();
/// P|RW|A|D|U|NX.
pub const PTE_RW_NX: u64 = PTE_RW | PteFlags::NX.bits();

impl Page {
    /// The page's virtual address.
    pub fn va(self) -> u64 {
        symbol_address!("pvk_cf_pool") + self as u64 * PAGE_SIZE
    }

    /// The page's machine frame (from the P2M list).
    pub fn mfn(self) -> Option<u64> {
        let pfn = (self.va().checked_sub(VIRT_BASE)? + PADDR_OFFSET) / PAGE_SIZE;
        boot::p2m().get(usize::try_from(pfn).ok()?).copied()
    }

    fn base(self) -> *mut u64 {
        self.va() as *mut u64
    }

    /// Whether the page's own mapping is writable (as far as we asked).
    pub fn writable(self) -> bool {
        WRITABLE_MASK.load(Ordering::SeqCst) & (WRITABLE << self as u16) != 0
    }

    /// Reads word `index` (volatile); `None` out of the page.
    pub fn read(self, index: usize) -> Option<u64> {
        if index >= WORDS {
            return None;
        }
        // SAFETY: index < 512 stays in the page, which is always mapped (readable) to its own
        // frame; no reference into the pool exists; volatile because the hypervisor may write
        // descriptor or page-table frames.
        Some(unsafe { ptr::read_volatile(self.base().add(index)) })
    }

    /// Writes word `index` (volatile); false out of the page or while it is mapped read-only.
    pub fn write(self, index: usize, value: u64) -> bool {
        if index >= WORDS || !self.writable() {
            return false;
        }
        // SAFETY: as in `read`, and the mapping is writable (we only map it read-only through
        // `remap`, which clears the bit first).
        unsafe { ptr::write_volatile(self.base().add(index), value) };
        true
    }

    /// Writes the first byte (for the `ret` of the no-execute page); false while read-only.
    pub fn write_byte0(self, value: u8) -> bool {
        if !self.writable() {
            return false;
        }
        // SAFETY: as in `write`.
        unsafe { ptr::write_volatile(self.base().cast::<u8>(), value) };
        true
    }

    /// update_va_mapping of the page's own address to its own frame with `flags`
    /// (flush: invlpg, local). Returns the hypercall's result.
    pub fn remap(self, flags: u64) -> i64 {
        let Some(mfn) = self.mfn() else {
            return hypercall_abi::Errno::Inval.to_ret();
        };
        let bit = WRITABLE << self as u16;
        // Mark read-only before asking, so no write is attempted while the change is pending.
        WRITABLE_MASK.fetch_and(!bit, Ordering::SeqCst);
        // SAFETY: the same frame stays mapped at the same address; only volatile raw accesses
        // use the page, and `write` checks the mask we just cleared.
        let ret = unsafe {
            hc(
                Hypercall::UpdateVaMapping,
                self.va(),
                (mfn << 12) | flags,
                UVMF_INVLPG | UVMF_LOCAL,
                0,
                0,
            )
        };
        // After a refusal the page is treated as read-only (that only forbids writes) until
        // a remap with RW succeeds.
        if ret == 0 && flags & PteFlags::RW.bits() != 0 {
            WRITABLE_MASK.fetch_or(bit, Ordering::SeqCst);
        }
        ret
    }
}

/// One mmu_update (normal page-table update) of the entry at machine address `ptr`.
///
/// # Safety
/// The entry must not map anything a Rust object relies on (an unused L4 slot, say), and the
/// frames it names must be the pool's.
pub unsafe fn mmu_update(ptr: u64, val: u64) -> (i64, u32) {
    let request = MmuUpdate { ptr, val };
    let mut done: u32 = u32::MAX;
    // SAFETY: the hypervisor reads the live request and writes the live counter; the entry's
    // effect is the caller's contract.
    let ret = unsafe {
        hc(
            Hypercall::MmuUpdate,
            &request as *const MmuUpdate as u64,
            1,
            &mut done as *mut u32 as u64,
            u64::from(DOMID_SELF),
            0,
        )
    };
    (ret, done)
}

/// One mmuext_op with a pdone counter: (result, pdone).
///
/// # Safety
/// The operation must not break the kernel's address space, its segments or any Rust object.
pub unsafe fn mmuext(cmd: MmuextCmd, arg1: u64, arg2: u64) -> (i64, u32) {
    let op = MmuextOp {
        cmd: cmd as u32,
        pad: 0,
        arg1,
        arg2,
    };
    let mut done: u32 = u32::MAX;
    // SAFETY: the hypervisor reads the live op and writes the live counter; the operation's
    // effect is the caller's contract.
    let ret = unsafe {
        hc(
            Hypercall::MmuextOp,
            &op as *const MmuextOp as u64,
            1,
            &mut done as *mut u32 as u64,
            u64::from(DOMID_SELF),
            0,
        )
    };
    (ret, done)
}

/// MMUEXT_NEW_USER_BASEPTR with `mfn`.
pub fn new_user_baseptr(mfn: u64) -> (i64, u32) {
    // SAFETY: the user base only matters in guest user mode, which this kernel enters only
    // through `user_run` with code and stacks mapped in every user L4 it builds.
    unsafe { mmuext(MmuextCmd::NewUserBaseptr, mfn, 0) }
}

/// MMUEXT_SET_LDT with `linear` and `entries`.
///
/// # Safety
/// No segment register of ours may hold an LDT selector that the change invalidates while
/// it is in use.
pub unsafe fn set_ldt(linear: u64, entries: u64) -> (i64, u32) {
    // SAFETY: the caller's contract; the LDT is only read through selectors we load.
    unsafe { mmuext(MmuextCmd::SetLdt, linear, entries) }
}

impl Page {
    /// Writes word 0 through a probe (which may fault: a read-only mapping, say).
    pub fn write_probe(self, value: u64) -> super::insn::Ran<()> {
        // SAFETY: the pool page is only accessed through volatile raw accesses, so a write
        // that goes through corrupts no Rust object.
        unsafe { super::insn::write_u64(self.va(), value) }
    }
}

/// Calls [`UNMAPPED_EXEC_ADDRESS`]: the fetch faults (the exception table resumes us).
pub fn call_unmapped() -> super::insn::Ran<()> {
    // SAFETY: nothing is mapped there, so the fetch faults before any instruction runs.
    unsafe { super::insn::call_address(UNMAPPED_EXEC_ADDRESS) }
}

/// Calls the no-execute page; false (no call) unless its first byte is `ret`.
pub fn call_nx() -> Option<super::insn::Ran<()>> {
    let first = Page::Nx.read(0)? as u8;
    if first != 0xc3 {
        return None;
    }
    // SAFETY: the page starts with `ret`: if the fetch is allowed it returns straight away.
    Some(unsafe { super::insn::call_address(Page::Nx.va()) })
}

/// The kernel L4 slot of the kernel-only mapping (the domain builder leaves it empty).
pub const KERNEL_ONLY_SLOT: usize = 510;
/// The kernel-only page's address: the first page of slot 510.
pub const KERNEL_ONLY_VA: u64 = 0xFFFF_0000_0000_0000 | ((KERNEL_ONLY_SLOT as u64) << 39);

/// Points slot 510 of the L4 `l4_mfn` (the kernel's) at [`Page::KoL3`] with mmu_update:
/// (result, done). Refused without a call (-EBUSY) if the initial L4 uses the slot.
pub fn install_kernel_only(l4_mfn: u64) -> (i64, u32) {
    if super::super::memory::initial_l4_entry(KERNEL_ONLY_SLOT) != Some(0) {
        return (hypercall_abi::Errno::Busy.to_ret(), 0);
    }
    let Some(l3) = Page::KoL3.mfn() else {
        return (hypercall_abi::Errno::Inval.to_ret(), 0);
    };
    let ptr = (l4_mfn << 12) + (KERNEL_ONLY_SLOT as u64) * 8;
    // SAFETY: slot 510 is unused (checked above), so nothing of ours lives there; the entry
    // names the pool's L3, whose subtree maps only pool pages.
    unsafe { mmu_update(ptr, (l3 << 12) | PTE_RW) }
}

/// Reads the first word of the kernel-only page (faults if it is not mapped).
pub fn read_kernel_only() -> super::insn::Ran<u64> {
    // SAFETY: the address is the kernel-only alias of a pool page (only volatile accesses
    // use the pool) or nothing at all.
    unsafe { super::insn::read_u64(KERNEL_ONLY_VA) }
}
