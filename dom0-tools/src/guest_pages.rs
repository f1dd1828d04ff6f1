//! The contents of the frames the DomU builder fills: kernel pages from the ELF, P2M pages.

use xen_core::builder::image::KernelImage;
use xen_core::layout::PAGE_SIZE;

/// Bytes in a page.
pub const PAGE_BYTES: usize = PAGE_SIZE as usize;

/// Fills `out` with the kernel image's page at virtual address `page_va` (page-aligned): the
/// bytes of every PT_LOAD segment that overlaps it, zeroes elsewhere (the .bss part of a
/// segment, gaps between segments). `elf` is the file `image` was parsed from, whose checks
/// guarantee every segment's file bytes lie inside it.
pub fn fill_kernel_page(image: &KernelImage, elf: &[u8], page_va: u64, out: &mut [u8; PAGE_BYTES]) {
    out.fill(0);
    let page_end = page_va.saturating_add(PAGE_SIZE);
    for seg in &image.segments {
        // The file-backed part of the segment; the rest of it stays zero.
        let file_start = seg.vaddr;
        let file_end = seg.vaddr.saturating_add(seg.file_size);
        let from = file_start.max(page_va);
        let to = file_end.min(page_end);
        if from >= to {
            continue;
        }
        let src = (seg.offset + (from - seg.vaddr)) as usize;
        let len = (to - from) as usize;
        let dst = (from - page_va) as usize;
        if let (Some(bytes), Some(slot)) = (
            elf.get(src..src.saturating_add(len)),
            out.get_mut(dst..dst + len),
        ) {
            slot.copy_from_slice(bytes);
        }
    }
}

/// Fills `out` with the ramdisk bytes from `offset` on (zeroes past its end).
pub fn fill_ramdisk_page(ramdisk: &[u8], offset: u64, out: &mut [u8; PAGE_BYTES]) {
    out.fill(0);
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(ramdisk.len());
    let end = start.saturating_add(PAGE_BYTES).min(ramdisk.len());
    out[..end - start].copy_from_slice(&ramdisk[start..end]);
}

/// Fills `out` with the P2M page whose first entry is `first_entry`: machine frame numbers of
/// consecutive pseudo-physical frames, little endian; entries past the list are zero.
pub fn fill_p2m_page(p2m: &[u64], first_entry: u64, out: &mut [u8; PAGE_BYTES]) {
    out.fill(0);
    let first = usize::try_from(first_entry).unwrap_or(usize::MAX);
    let entries = p2m.get(first..).unwrap_or(&[]);
    for (slot, mfn) in out.chunks_exact_mut(8).zip(entries) {
        slot.copy_from_slice(&mfn.to_le_bytes());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hypercall_abi::elfnote::*;
    use xen_core::builder::image;

    fn note(ty: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&4u32.to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(b"Xen\0");
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    /// A minimal PV kernel ELF64: one PT_NOTE, one PT_LOAD at VIRT_BASE + 0x1000 with 0x2000
    /// file bytes (byte i of the file region is `i % 251`) and 0x3000 bytes in memory; the
    /// hypercall page at VIRT_BASE + 0x2000.
    pub(crate) fn test_kernel() -> Vec<u8> {
        const BASE: u64 = 0xFFFF_FFFF_8000_0000;
        let mut notes = note(XEN_ELFNOTE_GUEST_OS, b"test-os\0");
        notes.extend(note(XEN_ELFNOTE_LOADER, b"generic\0"));
        notes.extend(note(XEN_ELFNOTE_XEN_VERSION, b"xen-3.0\0"));
        notes.extend(note(XEN_ELFNOTE_VIRT_BASE, &BASE.to_le_bytes()));
        notes.extend(note(XEN_ELFNOTE_PADDR_OFFSET, &0u64.to_le_bytes()));
        notes.extend(note(XEN_ELFNOTE_ENTRY, &(BASE + 0x1000).to_le_bytes()));
        notes.extend(note(
            XEN_ELFNOTE_HYPERCALL_PAGE,
            &(BASE + 0x2000).to_le_bytes(),
        ));
        let mut f = vec![0u8; 0x3000];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&(BASE + 0x1000).to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&2u16.to_le_bytes());
        let ph =
            |f: &mut [u8], at: usize, ty: u32, off: u64, paddr: u64, filesz: u64, memsz: u64| {
                f[at..at + 4].copy_from_slice(&ty.to_le_bytes());
                f[at + 8..at + 16].copy_from_slice(&off.to_le_bytes());
                f[at + 16..at + 24].copy_from_slice(&(paddr + BASE).to_le_bytes());
                f[at + 24..at + 32].copy_from_slice(&paddr.to_le_bytes());
                f[at + 32..at + 40].copy_from_slice(&filesz.to_le_bytes());
                f[at + 40..at + 48].copy_from_slice(&memsz.to_le_bytes());
            };
        let n = notes.len() as u64;
        ph(&mut f, 64, 4, 0x200, 0, n, n);
        ph(&mut f, 120, 1, 0x1000, 0x1000, 0x2000, 0x3000);
        f[0x200..0x200 + notes.len()].copy_from_slice(&notes);
        for (i, b) in f[0x1000..0x3000].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        f
    }

    #[test]
    fn kernel_pages_carry_segment_bytes_then_zeroes() {
        let elf = test_kernel();
        let img = image::parse(&elf).unwrap();
        let mut page = [0xAAu8; PAGE_BYTES];
        fill_kernel_page(&img, &elf, img.kern_start, &mut page);
        assert_eq!(&page[..], &elf[0x1000..0x2000]);
        fill_kernel_page(&img, &elf, img.kern_start + 0x1000, &mut page);
        assert_eq!(&page[..], &elf[0x2000..0x3000]);
        // The .bss page of the segment, and a page outside the image, are all zeroes.
        for va in [img.kern_start + 0x2000, img.kern_start - 0x1000] {
            page.fill(0xAA);
            fill_kernel_page(&img, &elf, va, &mut page);
            assert!(page.iter().all(|&b| b == 0), "{va:#x}");
        }
    }

    #[test]
    fn p2m_pages_hold_little_endian_frames() {
        let p2m: Vec<u64> = (0..600).map(|i| 0x10_0000 + i * 3).collect();
        let mut page = [0xAAu8; PAGE_BYTES];
        fill_p2m_page(&p2m, 0, &mut page);
        assert_eq!(page[..8], 0x10_0000u64.to_le_bytes());
        assert_eq!(page[4088..], (0x10_0000u64 + 511 * 3).to_le_bytes());
        fill_p2m_page(&p2m, 512, &mut page);
        assert_eq!(page[..8], (0x10_0000u64 + 512 * 3).to_le_bytes());
        assert_eq!(page[87 * 8..88 * 8], (0x10_0000u64 + 599 * 3).to_le_bytes());
        assert!(page[88 * 8..].iter().all(|&b| b == 0));
        fill_p2m_page(&p2m, 1 << 40, &mut page);
        assert!(page.iter().all(|&b| b == 0));
    }
}

#[cfg(test)]
mod ramdisk_tests {
    use super::*;

    #[test]
    fn ramdisk_pages_hold_their_slice_and_zeroes_past_the_end() {
        let ramdisk: Vec<u8> = (0..PAGE_BYTES + 10).map(|i| i as u8).collect();
        let mut page = [0xAAu8; PAGE_BYTES];
        fill_ramdisk_page(&ramdisk, 0, &mut page);
        assert_eq!(&page[..], &ramdisk[..PAGE_BYTES]);
        fill_ramdisk_page(&ramdisk, PAGE_BYTES as u64, &mut page);
        assert_eq!(&page[..10], &ramdisk[PAGE_BYTES..]);
        assert!(page[10..].iter().all(|&b| b == 0));
        fill_ramdisk_page(&ramdisk, u64::MAX, &mut page);
        assert!(page.iter().all(|&b| b == 0));
    }
}
