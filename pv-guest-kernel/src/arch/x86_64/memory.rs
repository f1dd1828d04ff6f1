//! Spare .bss pages whose mappings the self-tests change, shared_info reads, initial L4 reads.
// The spare pages are only ever accessed through volatile raw-pointer accesses, never through
// references, so replacing their frames with update_va_mapping invalidates no Rust object.

use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use hypercall_abi::layout::PAGE_SIZE;
use hypercall_abi::shared_info::{ArchVcpuInfo, SharedInfo, VcpuInfo, XEN_LEGACY_MAX_VCPUS};

use super::boot;
use super::layout::{PADDR_OFFSET, VIRT_BASE};

/// Number of u64 words in a page.
pub const WORDS_PER_PAGE: usize = (PAGE_SIZE / 8) as usize;

/// A page-aligned page of .bss whose frame may be replaced by update_va_mapping.
#[repr(C, align(4096))]
struct RawPage(UnsafeCell<[u64; WORDS_PER_PAGE]>);

// SAFETY: no Rust reference into a RawPage is ever formed; all accesses are volatile
// raw-pointer accesses from the single vCPU, so sharing the static is sound.
unsafe impl Sync for RawPage {}

impl RawPage {
    const fn new() -> Self {
        Self(UnsafeCell::new([0; WORDS_PER_PAGE]))
    }
}

static SHARED_INFO_PAGE: RawPage = RawPage::new();
static PROBE_PAGE: RawPage = RawPage::new();
static DECOY_PAGE: RawPage = RawPage::new();

/// Set once the shared_info frame is mapped at [`SparePage::SharedInfo`].
static SHARED_INFO_MAPPED: AtomicBool = AtomicBool::new(false);

/// The spare pages of .bss (each in the initial mapping, so its L1 table exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SparePage {
    /// Where the shared_info frame gets mapped.
    SharedInfo,
    /// For mapping attempts that must be refused (its contents must survive them).
    Probe,
    /// An ordinary writable data page, offered to new_baseptr (which must refuse it).
    Decoy,
}

impl SparePage {
    fn raw(self) -> &'static RawPage {
        match self {
            SparePage::SharedInfo => &SHARED_INFO_PAGE,
            SparePage::Probe => &PROBE_PAGE,
            SparePage::Decoy => &DECOY_PAGE,
        }
    }

    fn base(self) -> *mut u64 {
        self.raw().0.get().cast::<u64>()
    }

    /// The page's virtual address.
    pub fn va(self) -> u64 {
        self.base() as u64
    }

    /// The machine frame behind the page in the initial mapping (from the P2M list).
    pub fn initial_mfn(self) -> Option<u64> {
        let pfn = (self.va().checked_sub(VIRT_BASE)? + PADDR_OFFSET) / PAGE_SIZE;
        boot::p2m().get(usize::try_from(pfn).ok()?).copied()
    }

    /// Reads word `index` (volatile); `None` if out of the page.
    pub fn read(self, index: usize) -> Option<u64> {
        if index >= WORDS_PER_PAGE {
            return None;
        }
        // SAFETY: index < 512 keeps the access inside the page-aligned static, which stays
        // mapped (update_va_mapping only ever replaces its frame with a present one), and no
        // reference to the page exists, so a volatile read cannot violate aliasing rules.
        Some(unsafe { ptr::read_volatile(self.base().add(index)) })
    }

    /// Writes word `index` (volatile); false if out of the page or if this is the
    /// shared_info page (the hypervisor owns its contents).
    pub fn write(self, index: usize, value: u64) -> bool {
        if index >= WORDS_PER_PAGE || self == SparePage::SharedInfo {
            return false;
        }
        // SAFETY: as in `read`; the probe and decoy pages are only ever mapped writable to
        // our own RAM frame (a refused remapping leaves that mapping in place).
        unsafe { ptr::write_volatile(self.base().add(index), value) };
        true
    }
}

/// Records that the shared_info frame is now mapped at [`SparePage::SharedInfo`].
pub(super) fn set_shared_info_mapped() {
    SHARED_INFO_MAPPED.store(true, Ordering::SeqCst);
}

/// Whether shared_info is mapped.
pub fn shared_info_mapped() -> bool {
    SHARED_INFO_MAPPED.load(Ordering::SeqCst)
}

fn vcpu_info_offset(vcpu: usize) -> Option<usize> {
    if vcpu >= XEN_LEGACY_MAX_VCPUS {
        return None;
    }
    Some(offset_of!(SharedInfo, vcpu_info) + vcpu * size_of::<VcpuInfo>())
}

fn read_shared_u8(offset: usize) -> Option<u8> {
    if !shared_info_mapped() || offset >= PAGE_SIZE as usize {
        return None;
    }
    // SAFETY: the page is mapped to the shared_info frame (checked above) and offset < 4096;
    // the hypervisor updates it concurrently, hence volatile; no reference exists.
    Some(unsafe { ptr::read_volatile(SparePage::SharedInfo.base().cast::<u8>().add(offset)) })
}

fn read_shared_u64(offset: usize) -> Option<u64> {
    if !shared_info_mapped() || !offset.is_multiple_of(8) {
        return None;
    }
    SparePage::SharedInfo.read(offset / 8)
}

/// `vcpu_info[vcpu].evtchn_upcall_mask`, if shared_info is mapped.
pub fn upcall_mask(vcpu: usize) -> Option<u8> {
    read_shared_u8(vcpu_info_offset(vcpu)? + offset_of!(VcpuInfo, evtchn_upcall_mask))
}

/// `vcpu_info[vcpu].arch.cr2` (the last page-fault address), if shared_info is mapped.
pub fn cr2(vcpu: usize) -> Option<u64> {
    read_shared_u64(
        vcpu_info_offset(vcpu)? + offset_of!(VcpuInfo, arch) + offset_of!(ArchVcpuInfo, cr2),
    )
}

/// Entry `index` of the initial L4 table (at start_info's `pt_base`), read through the
/// builder's read-only mapping of it.
pub fn initial_l4_entry(index: usize) -> Option<u64> {
    let pt_base = boot::start_info().pt_base;
    if index >= WORDS_PER_PAGE || !pt_base.is_multiple_of(PAGE_SIZE) || pt_base == 0 {
        return None;
    }
    // SAFETY: pt_base comes from start_info: the builder maps every initial page-table frame
    // (read-only) inside the initial mapping, which we never unmap; index < 512 keeps the
    // read inside the page; the hypervisor may update entries, hence volatile.
    Some(unsafe { ptr::read_volatile((pt_base as *const u64).add(index)) })
}
