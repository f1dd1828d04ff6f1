//! What the DomU builder puts where: the kernel image, its boot layout, and the role of each frame.

use core::fmt;
use core::ops::Range;

use xen_core::builder::boot_layout::{self, BootLayout, LayoutError};
use xen_core::builder::image::{self, ImageError, KernelImage};
use xen_core::layout::PAGE_SIZE;

/// Why a DomU cannot be laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The kernel image is not a usable Xen PV kernel.
    Image(ImageError),
    /// Its boot structures do not fit the memory asked for.
    Layout(LayoutError),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Image(e) => write!(f, "bad DomU kernel: {e}"),
            PlanError::Layout(LayoutError::TooLittleMemory { needed, given }) => write!(
                f,
                "the DomU's initial mapping needs {needed} pages but it has {given}"
            ),
            PlanError::Layout(LayoutError::Overflow) => {
                write!(f, "the DomU kernel's addresses overflow")
            }
        }
    }
}

/// What the builder writes into a pseudo-physical frame of the new domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageRole {
    /// Part of the kernel image: segment bytes, zeroes elsewhere.
    Kernel,
    /// Part of the initial ramdisk, starting at byte `offset` of it.
    Ramdisk {
        /// Offset in the ramdisk of this frame's first byte.
        offset: u64,
    },
    /// Part of the P2M list, starting with entry `first_entry`.
    P2m {
        /// Index of the first P2M entry in this frame.
        first_entry: u64,
    },
    /// The start_info page.
    StartInfo,
    /// Zeroed: the xenstore and console rings, the page tables (filled afterwards), the stack.
    Zeroed,
    /// Left as the hypervisor handed it out (scrubbed): the rest of the domain's memory.
    Untouched,
}

/// A DomU kernel laid out in `nr_pages` pages, as the toolstack will build it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomuPlan {
    /// What the kernel's ELF headers and Xen notes say.
    pub image: KernelImage,
    /// Where everything goes (the DomU variant: with xenstore and console pages).
    pub layout: BootLayout,
}

/// Lays out the PV kernel `elf` and a ramdisk of `ramdisk_len` bytes (0: none) in a domain of
/// `nr_pages` pages, exactly as xen-core lays out Dom0 (builder/boot_layout.rs), plus the
/// xenstore and console pages a DomU gets.
pub fn plan(elf: &[u8], nr_pages: u64, ramdisk_len: u64) -> Result<DomuPlan, PlanError> {
    let image = image::parse(elf).map_err(PlanError::Image)?;
    let layout = boot_layout::compute(
        image.virt_base,
        image.kern_start,
        image.kern_end,
        ramdisk_len,
        nr_pages,
        true,
    )
    .map_err(PlanError::Layout)?;
    Ok(DomuPlan { image, layout })
}

impl DomuPlan {
    /// The domain's pages.
    pub fn nr_pages(&self) -> u64 {
        self.layout.nr_pages
    }

    /// The frame holding start_info.
    pub fn start_info_pfn(&self) -> u64 {
        self.layout.pfn_of(self.layout.start_info)
    }

    /// The frame of the xenstore ring.
    pub fn xenstore_pfn(&self) -> u64 {
        // `plan` always asks for the DomU pages; the start_info page is the fallback the
        // layout cannot produce.
        self.layout
            .xenstore
            .map_or(self.start_info_pfn(), |va| self.layout.pfn_of(va))
    }

    /// The frame of the console ring.
    pub fn console_pfn(&self) -> u64 {
        self.layout
            .console
            .map_or(self.start_info_pfn(), |va| self.layout.pfn_of(va))
    }

    /// The initial page-table frames (the L4 first).
    pub fn page_table_pfns(&self) -> Range<u64> {
        let first = self.layout.pfn_of(self.layout.page_tables);
        first..first + self.layout.nr_pt_frames
    }

    /// The frame of the boot stack.
    pub fn stack_pfn(&self) -> u64 {
        self.layout.pfn_of(self.layout.stack)
    }

    /// The frame the kernel's HYPERCALL_PAGE note names, if any.
    pub fn hypercall_pfn(&self) -> Option<u64> {
        self.image.hypercall_page.map(|va| self.layout.pfn_of(va))
    }

    /// The kernel image's frames.
    pub fn kernel_pfns(&self) -> Range<u64> {
        let first = self.layout.pfn_of(self.layout.kern_start);
        let after = self.layout.initrd.unwrap_or(self.layout.p2m);
        let end = self.layout.pfn_of(after.max(self.layout.kern_start));
        first..end
    }

    /// The ramdisk's frames (empty without one).
    pub fn ramdisk_pfns(&self) -> Range<u64> {
        match self.layout.initrd {
            Some(va) => self.layout.pfn_of(va)..self.layout.pfn_of(self.layout.p2m),
            None => 0..0,
        }
    }

    /// The P2M list's frames.
    pub fn p2m_pfns(&self) -> Range<u64> {
        let first = self.layout.pfn_of(self.layout.p2m);
        first..self.start_info_pfn()
    }

    /// Every frame the builder writes, from the first kernel frame to the boot stack.
    pub fn built_pfns(&self) -> Range<u64> {
        self.kernel_pfns().start..self.stack_pfn() + 1
    }

    /// What goes into frame `pfn`.
    pub fn role(&self, pfn: u64) -> PageRole {
        let entries_per_page = PAGE_SIZE / 8;
        if self.kernel_pfns().contains(&pfn) {
            PageRole::Kernel
        } else if self.ramdisk_pfns().contains(&pfn) {
            PageRole::Ramdisk {
                offset: (pfn - self.ramdisk_pfns().start) * PAGE_SIZE,
            }
        } else if self.p2m_pfns().contains(&pfn) {
            PageRole::P2m {
                first_entry: (pfn - self.p2m_pfns().start) * entries_per_page,
            }
        } else if pfn == self.start_info_pfn() {
            PageRole::StartInfo
        } else if pfn == self.xenstore_pfn()
            || pfn == self.console_pfn()
            || self.page_table_pfns().contains(&pfn)
            || pfn == self.stack_pfn()
        {
            PageRole::Zeroed
        } else {
            PageRole::Untouched
        }
    }

    /// The initial stack pointer: the top of the boot-stack page.
    pub fn stack_top(&self) -> u64 {
        self.layout.stack + PAGE_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_pages::tests::test_kernel;

    #[test]
    fn frames_get_their_roles_in_layout_order() {
        let plan = plan(&test_kernel(), 1024, 0).unwrap();
        let l = &plan.layout;
        assert_eq!(l.v_start, 0xFFFF_FFFF_8000_0000);
        // The test kernel: one segment from VIRT_BASE + 0x1000 to VIRT_BASE + 0x4000.
        assert_eq!(plan.kernel_pfns(), 1..4);
        assert_eq!(plan.role(0), PageRole::Untouched);
        assert_eq!(plan.role(1), PageRole::Kernel);
        assert_eq!(plan.role(3), PageRole::Kernel);
        // 1024 P2M entries fill two pages.
        assert_eq!(plan.p2m_pfns(), 4..6);
        assert_eq!(plan.role(4), PageRole::P2m { first_entry: 0 });
        assert_eq!(plan.role(5), PageRole::P2m { first_entry: 512 });
        assert_eq!(plan.start_info_pfn(), 6);
        assert_eq!(plan.role(6), PageRole::StartInfo);
        assert_eq!(plan.xenstore_pfn(), 7);
        assert_eq!(plan.console_pfn(), 8);
        let pts = plan.page_table_pfns();
        assert_eq!(pts.start, 9);
        assert_eq!(pts.end - pts.start, l.nr_pt_frames);
        assert_eq!(plan.stack_pfn(), pts.end);
        for pfn in [7, 8, pts.start, pts.end - 1, plan.stack_pfn()] {
            assert_eq!(plan.role(pfn), PageRole::Zeroed, "pfn {pfn}");
        }
        assert_eq!(plan.role(plan.stack_pfn() + 1), PageRole::Untouched);
        assert_eq!(plan.built_pfns(), 1..plan.stack_pfn() + 1);
        assert_eq!(plan.stack_top(), l.v_start + (plan.stack_pfn() + 1) * 4096);
        assert_eq!(plan.hypercall_pfn(), Some(2));
    }

    #[test]
    fn a_ramdisk_follows_the_kernel_before_the_p2m() {
        let plan = plan(&test_kernel(), 1024, 2 * 4096 + 5).unwrap();
        assert_eq!(plan.kernel_pfns(), 1..4);
        assert_eq!(plan.ramdisk_pfns(), 4..7);
        assert_eq!(plan.role(4), PageRole::Ramdisk { offset: 0 });
        assert_eq!(plan.role(6), PageRole::Ramdisk { offset: 2 * 4096 });
        assert_eq!(plan.p2m_pfns().start, 7);
        assert_eq!(plan.role(7), PageRole::P2m { first_entry: 0 });
        assert_eq!(plan.layout.initrd_len, 2 * 4096 + 5);
    }

    #[test]
    fn refuses_bad_images_and_too_little_memory() {
        assert!(matches!(
            plan(b"not an elf", 1024, 0),
            Err(PlanError::Image(ImageError::NotElf(_)))
        ));
        let err = plan(&test_kernel(), 512, 0).unwrap_err();
        assert!(matches!(
            err,
            PlanError::Layout(LayoutError::TooLittleMemory { .. })
        ));
        let text = format!("{err}");
        assert!(text.contains("1024 pages but it has 512"), "{text}");
    }
}
