//! What the checks share: start_info, the P2M list, and facts earlier checks established.

use hypercall_abi::layout::PAGE_SHIFT;
use hypercall_abi::start_info::{SIF_INITDOMAIN, StartInfo};

use crate::arch::x86_64::layout::{PADDR_OFFSET, VIRT_BASE};
use crate::arch::x86_64::probes::TrapsInstalled;

/// State passed from check to check.
pub struct Context {
    /// The start_info page.
    pub start_info: &'static StartInfo,
    /// The P2M list.
    pub p2m: &'static [u64],
    /// Present once set_trap_table succeeded.
    pub traps: Option<TrapsInstalled>,
    /// Set once new_user_baseptr pointed user mode at the kernel's L4.
    pub user_baseptr_set: bool,
}

impl Context {
    /// A context for this boot.
    pub fn new(start_info: &'static StartInfo, p2m: &'static [u64]) -> Self {
        Self {
            start_info,
            p2m,
            traps: None,
            user_baseptr_set: false,
        }
    }

    /// Whether we are the initial domain (SIF_INITDOMAIN).
    pub fn is_dom0(&self) -> bool {
        self.start_info.flags & SIF_INITDOMAIN != 0
    }

    /// The machine frame behind a virtual address of the initial mapping.
    pub fn mfn_of_va(&self, va: u64) -> Option<u64> {
        let pfn = (va.checked_sub(VIRT_BASE)? + PADDR_OFFSET) >> PAGE_SHIFT;
        self.p2m.get(usize::try_from(pfn).ok()?).copied()
    }

    /// The machine frame of the initial L4 table (start_info.pt_base).
    pub fn l4_mfn(&self) -> Option<u64> {
        self.mfn_of_va(self.start_info.pt_base)
    }
}
