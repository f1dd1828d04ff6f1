//! Where the domain builder puts a new PV guest's boot structures, in guest virtual memory.

use crate::layout::PAGE_SIZE;

/// The initial virtual layout of a PV guest, in order from `v_start` (xen-pv-abi.md, "What
/// the domain builder gives a new PV guest"): kernel, initial ramdisk (if any), P2M list,
/// start_info, (DomU) xenstore and console pages, page tables, boot stack, as Xen 4.17's Dom0
/// builder places them. Pseudo-physical frame n is mapped at `v_start + n * 4096` for every
/// address in `[v_start, v_end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootLayout {
    /// VIRT_BASE: the start of the initial mapping.
    pub v_start: u64,
    /// The kernel image.
    pub kern_start: u64,
    /// One past the kernel image.
    pub kern_end: u64,
    /// The initial ramdisk (a boot module), page-aligned right after the kernel; `None`
    /// without one. start_info's `mod_start` is this address and `mod_len` its length.
    pub initrd: Option<u64>,
    /// Bytes of the initial ramdisk (0 without one).
    pub initrd_len: u64,
    /// The P2M list (one u64 per pseudo-physical frame).
    pub p2m: u64,
    /// The start_info page.
    pub start_info: u64,
    /// The xenstore ring page (DomU only).
    pub xenstore: Option<u64>,
    /// The console ring page (DomU only).
    pub console: Option<u64>,
    /// The initial page tables (L4 first).
    pub page_tables: u64,
    /// How many page-table frames.
    pub nr_pt_frames: u64,
    /// The boot stack page.
    pub stack: u64,
    /// One past the end of the initial mapping.
    pub v_end: u64,
    /// The guest's pages in all.
    pub nr_pages: u64,
}

/// Why a layout cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The initial mapping needs more pages than the domain is given.
    TooLittleMemory {
        /// Pages the mapping needs.
        needed: u64,
        /// Pages the domain has.
        given: u64,
    },
    /// An address computation overflowed (a hostile or broken image).
    Overflow,
}

const MIB: u64 = 1 << 20;

fn round_up(v: u64, align: u64) -> Option<u64> {
    v.checked_add(align - 1).map(|x| x & !(align - 1))
}

/// Page-table frames needed to map `[start, end)` with 4 KiB pages: one L4 plus one table per
/// distinct 512 GiB, 1 GiB and 2 MiB region touched.
pub fn tables_needed(start: u64, end: u64) -> u64 {
    if end <= start {
        return 1;
    }
    let last = end - 1;
    let count = |shift: u32| (last >> shift) - (start >> shift) + 1;
    1 + count(39) + count(30) + count(21)
}

/// Lays out a guest of `nr_pages` pages whose image spans `[kern_start, kern_end)` above
/// `v_start`, with an initial ramdisk of `initrd_len` bytes (0 for none) mapped after the
/// image, as Xen does unless the kernel asks for an unmapped one (which ours never does).
/// `domu` adds the xenstore and console pages.
pub fn compute(
    v_start: u64,
    kern_start: u64,
    kern_end: u64,
    initrd_len: u64,
    nr_pages: u64,
    domu: bool,
) -> Result<BootLayout, LayoutError> {
    let o = LayoutError::Overflow;
    let page = |v: u64| round_up(v, PAGE_SIZE).ok_or(o);
    let after_kernel = page(kern_end)?;
    let (initrd, p2m) = if initrd_len == 0 {
        (None, after_kernel)
    } else {
        let end = after_kernel.checked_add(initrd_len).ok_or(o)?;
        (Some(after_kernel), page(end)?)
    };
    let start_info = page(
        p2m.checked_add(nr_pages.checked_mul(8).ok_or(o)?)
            .ok_or(o)?,
    )?;
    let mut next = start_info + PAGE_SIZE;
    let (xenstore, console) = if domu {
        next += 2 * PAGE_SIZE;
        (
            Some(start_info + PAGE_SIZE),
            Some(start_info + 2 * PAGE_SIZE),
        )
    } else {
        (None, None)
    };
    let page_tables = next;
    let mut nr_pt_frames = 1;
    loop {
        let stack = page_tables.checked_add(nr_pt_frames * PAGE_SIZE).ok_or(o)?;
        let end = stack.checked_add(PAGE_SIZE).ok_or(o)?;
        let v_end = round_up(end.checked_add(512 * 1024).ok_or(o)?, 4 * MIB).ok_or(o)?;
        let needed = tables_needed(v_start, v_end);
        if needed > nr_pt_frames {
            nr_pt_frames = needed;
            continue;
        }
        let mapped_pages = (v_end - v_start) / PAGE_SIZE;
        if mapped_pages > nr_pages {
            return Err(LayoutError::TooLittleMemory {
                needed: mapped_pages,
                given: nr_pages,
            });
        }
        return Ok(BootLayout {
            v_start,
            kern_start,
            kern_end,
            initrd,
            initrd_len,
            p2m,
            start_info,
            xenstore,
            console,
            page_tables,
            nr_pt_frames,
            stack,
            v_end,
            nr_pages,
        });
    }
}

impl BootLayout {
    /// The pseudo-physical frame mapped at `va` (which must be inside the mapping).
    pub fn pfn_of(&self, va: u64) -> u64 {
        (va - self.v_start) / PAGE_SIZE
    }

    /// Is pseudo-physical frame `pfn` one of the initial page tables?
    pub fn is_page_table_pfn(&self, pfn: u64) -> bool {
        let first = self.pfn_of(self.page_tables);
        pfn >= first && pfn < first + self.nr_pt_frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0xFFFF_FFFF_8000_0000;

    #[test]
    fn counts_tables() {
        assert_eq!(tables_needed(BASE, BASE + 4 * MIB), 1 + 1 + 1 + 2);
        assert_eq!(tables_needed(0, 2 * MIB), 4);
        assert_eq!(tables_needed(0, 2 * MIB + 1), 5);
    }

    #[test]
    fn dom0_layout_is_ordered_and_covered() {
        let l = compute(BASE, BASE, BASE + 0x5_3000, 0, 16384, false).unwrap();
        assert_eq!(l.p2m, BASE + 0x5_3000);
        assert_eq!((l.initrd, l.initrd_len), (None, 0));
        assert_eq!(l.start_info, l.p2m + 16384 * 8);
        assert_eq!(l.page_tables, l.start_info + PAGE_SIZE);
        assert_eq!(l.stack, l.page_tables + l.nr_pt_frames * PAGE_SIZE);
        assert!(l.v_end >= l.stack + PAGE_SIZE + 512 * 1024);
        assert_eq!(l.v_end % (4 * MIB), 0);
        assert_eq!(l.nr_pt_frames, tables_needed(l.v_start, l.v_end));
        assert!(l.is_page_table_pfn(l.pfn_of(l.page_tables)));
        assert!(!l.is_page_table_pfn(l.pfn_of(l.stack)));
    }

    #[test]
    fn initrd_goes_between_kernel_and_p2m_as_in_xen() {
        // Xen 4.17's Dom0 builder: initrd at round_pgup(kernel end), P2M at round_pgup(initrd
        // end), then start_info, page tables and the stack; the ramdisk's pages count among
        // the domain's pages (they are mapped like any other).
        let len = 0x4_1234;
        let l = compute(BASE, BASE, BASE + 0x5_2800, len, 16384, false).unwrap();
        assert_eq!(l.initrd, Some(BASE + 0x5_3000));
        assert_eq!(l.initrd_len, len);
        assert_eq!(l.p2m, BASE + 0x5_3000 + 0x4_2000);
        assert_eq!(l.start_info, l.p2m + 16384 * 8);
        assert_eq!(l.page_tables, l.start_info + PAGE_SIZE);
        assert!(l.v_end >= l.stack + PAGE_SIZE + 512 * 1024);
        assert_eq!(l.v_end % (4 * MIB), 0);
        // A page-aligned ramdisk ends exactly where the P2M starts.
        let l = compute(BASE, BASE, BASE + 0x5_3000, 0x2000, 16384, false).unwrap();
        assert_eq!(l.p2m, BASE + 0x5_5000);
        // The mapping must still fit the domain, ramdisk included.
        assert!(matches!(
            compute(BASE, BASE, BASE + 0x1000, 4 * MIB, 1024, false),
            Err(LayoutError::TooLittleMemory { .. })
        ));
        assert_eq!(
            compute(BASE, BASE, BASE + 0x1000, u64::MAX - 0x1000, 1024, false),
            Err(LayoutError::Overflow)
        );
    }

    #[test]
    fn domu_gets_ring_pages() {
        let l = compute(BASE, BASE, BASE + 0x1000, 0, 8192, true).unwrap();
        assert_eq!(l.xenstore, Some(l.start_info + PAGE_SIZE));
        assert_eq!(l.console, Some(l.start_info + 2 * PAGE_SIZE));
        assert_eq!(l.page_tables, l.start_info + 3 * PAGE_SIZE);
    }

    #[test]
    fn refuses_too_little_memory_and_overflow() {
        assert!(matches!(
            compute(BASE, BASE, BASE + 0x1000, 0, 16, false),
            Err(LayoutError::TooLittleMemory { .. })
        ));
        assert_eq!(
            compute(BASE, BASE, u64::MAX - 10, 0, 16, false),
            Err(LayoutError::Overflow)
        );
        assert_eq!(
            compute(BASE, BASE, BASE, 0, u64::MAX, false),
            Err(LayoutError::Overflow)
        );
    }
}
