//! Reading a PV kernel ELF and its Xen notes, as Xen's libelf does for the domain builder.

use core::fmt;

use heapless::{String, Vec};
use hypercall_abi::elfnote::*;
use hypercall_abi::layout::{HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START};
use xmas_elf::ElfFile;
use xmas_elf::header::{Class, Machine};
use xmas_elf::program::Type;

/// Most PT_LOAD segments accepted.
pub const MAX_SEGMENTS: usize = 8;

/// One PT_LOAD segment, with the virtual address it is loaded at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Offset of its bytes in the file.
    pub offset: u64,
    /// Bytes present in the file.
    pub file_size: u64,
    /// Bytes in memory (the rest is zeroed).
    pub mem_size: u64,
    /// Guest virtual address of its first byte.
    pub vaddr: u64,
}

/// What the Xen notes and program headers say about a PV kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelImage {
    /// XEN_ELFNOTE_GUEST_OS.
    pub guest_os: String<32>,
    /// XEN_ELFNOTE_VIRT_BASE.
    pub virt_base: u64,
    /// Entry point (XEN_ELFNOTE_ENTRY, else e_entry).
    pub entry: u64,
    /// XEN_ELFNOTE_HYPERCALL_PAGE, if the kernel has one.
    pub hypercall_page: Option<u64>,
    /// Lowest virtual address of the image.
    pub kern_start: u64,
    /// One past the highest virtual address of the image.
    pub kern_end: u64,
    /// The PT_LOAD segments.
    pub segments: Vec<Segment, MAX_SEGMENTS>,
}

/// Why a kernel image was refused; the message says what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Not an ELF file (or a truncated one).
    NotElf(&'static str),
    /// An ELF file, but not x86_64.
    NotX86_64,
    /// No PT_NOTE with Xen notes.
    NoXenNotes,
    /// XEN_ELFNOTE_LOADER does not start with "generic".
    BadLoader,
    /// XEN_ELFNOTE_XEN_VERSION does not start with "xen-3.0".
    BadXenVersion,
    /// A note's descriptor has the wrong size.
    BadNote(u32),
    /// No PT_LOAD segment, or more than [`MAX_SEGMENTS`].
    BadSegments,
    /// A segment reaches outside the file or wraps around.
    SegmentOutOfFile,
    /// The image overlaps the hypervisor's reserved range.
    InHypervisorRange,
    /// The entry point or hypercall page is outside the image.
    AddressOutsideImage,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::NotElf(why) => write!(f, "not an ELF file ({why})"),
            ImageError::NotX86_64 => write!(f, "not an x86_64 ELF64 kernel"),
            ImageError::NoXenNotes => write!(f, "no Xen ELF notes: not a Xen PV kernel"),
            ImageError::BadLoader => write!(f, "XEN_ELFNOTE_LOADER is not \"generic\""),
            ImageError::BadXenVersion => write!(f, "XEN_ELFNOTE_XEN_VERSION is not \"xen-3.0\""),
            ImageError::BadNote(t) => write!(f, "Xen ELF note {t} has a malformed descriptor"),
            ImageError::BadSegments => write!(f, "no loadable segment, or too many"),
            ImageError::SegmentOutOfFile => write!(f, "a segment lies outside the file"),
            ImageError::InHypervisorRange => write!(f, "the image overlaps the hypervisor's range"),
            ImageError::AddressOutsideImage => {
                write!(f, "entry point or hypercall page outside the image")
            }
        }
    }
}

#[derive(Default)]
struct Notes {
    seen: bool,
    virt_base: Option<u64>,
    paddr_offset: Option<u64>,
    entry: Option<u64>,
    hypercall_page: Option<u64>,
    guest_os: String<32>,
    loader_ok: Option<bool>,
    version_ok: Option<bool>,
}

fn note_number(desc: &[u8], ty: u32) -> Result<u64, ImageError> {
    match desc.len() {
        4 => Ok(u64::from(u32::from_le_bytes([
            desc[0], desc[1], desc[2], desc[3],
        ]))),
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(desc);
            Ok(u64::from_le_bytes(b))
        }
        _ => Err(ImageError::BadNote(ty)),
    }
}

fn note_str(desc: &[u8]) -> &[u8] {
    desc.split(|&b| b == 0).next().unwrap_or(&[])
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

fn parse_notes(data: &[u8], notes: &mut Notes) -> Result<(), ImageError> {
    let mut at = 0usize;
    while at + 12 <= data.len() {
        let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let (namesz, descsz, ty) = (word(at) as usize, word(at + 4) as usize, word(at + 8));
        let name_start = at + 12;
        let desc_start = align4(namesz).and_then(|n| n.checked_add(name_start));
        let Some(desc_start) = desc_start else { break };
        let desc_end = desc_start.checked_add(descsz);
        let (Some(name), Some(desc)) = (
            data.get(name_start..name_start + namesz),
            desc_end.and_then(|end| data.get(desc_start..end)),
        ) else {
            break;
        };
        if note_str(name) == XEN_ELFNOTE_OWNER.as_bytes() {
            notes.seen = true;
            match ty {
                XEN_ELFNOTE_VIRT_BASE => notes.virt_base = Some(note_number(desc, ty)?),
                XEN_ELFNOTE_PADDR_OFFSET => notes.paddr_offset = Some(note_number(desc, ty)?),
                XEN_ELFNOTE_ENTRY => notes.entry = Some(note_number(desc, ty)?),
                XEN_ELFNOTE_HYPERCALL_PAGE => notes.hypercall_page = Some(note_number(desc, ty)?),
                XEN_ELFNOTE_LOADER => {
                    notes.loader_ok = Some(note_str(desc).starts_with(b"generic"))
                }
                XEN_ELFNOTE_XEN_VERSION => {
                    notes.version_ok = Some(note_str(desc).starts_with(b"xen-3.0"))
                }
                XEN_ELFNOTE_GUEST_OS => {
                    for &b in note_str(desc).iter().take(32) {
                        let _ = notes
                            .guest_os
                            .push(if b.is_ascii() { b as char } else { '?' });
                    }
                }
                _ => {}
            }
        }
        let Some(next) = desc_end.and_then(align4) else {
            break;
        };
        at = next;
    }
    Ok(())
}

/// Checks that the ELF64 header's program and section header tables lie inside `bytes`:
/// xmas-elf reads them without checking (a cut-short image would panic it).
fn check_tables(bytes: &[u8]) -> Result<(), ImageError> {
    const EHDR64: usize = 64;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if bytes.len() < EHDR64 || bytes.get(4) != Some(&2) {
        // Too short for an ELF64 header, or not ELF64: xmas-elf's own checks answer.
        return Ok(());
    }
    let bad = ImageError::NotElf("header tables lie outside the file");
    let fits = |off: Option<u64>, count: Option<u16>, size: Option<u16>| match (off, count, size) {
        (Some(_), Some(0), _) => true,
        (Some(off), Some(n), Some(sz)) => u64::from(n)
            .checked_mul(u64::from(sz))
            .and_then(|len| len.checked_add(off))
            .is_some_and(|end| end <= bytes.len() as u64),
        _ => false,
    };
    if !fits(u64_at(32), u16_at(56), u16_at(54)) || !fits(u64_at(40), u16_at(60), u16_at(58)) {
        return Err(bad);
    }
    let (shnum, shstrndx) = (u16_at(60).unwrap_or(0), u16_at(62).unwrap_or(0));
    if shnum > 0 && shstrndx >= shnum {
        return Err(bad);
    }
    Ok(())
}

/// Reads `bytes` as a Xen PV kernel.
pub fn parse(bytes: &[u8]) -> Result<KernelImage, ImageError> {
    check_tables(bytes)?;
    let elf = ElfFile::new(bytes).map_err(ImageError::NotElf)?;
    if elf.header.pt1.class() != Class::SixtyFour
        || elf.header.pt2.machine().as_machine() != Machine::X86_64
    {
        return Err(ImageError::NotX86_64);
    }
    // xmas-elf slices the program headers without checking them against the file: check first.
    let pt2 = &elf.header.pt2;
    let ph_end = u64::from(pt2.ph_count())
        .checked_mul(56)
        .and_then(|size| size.checked_add(pt2.ph_offset()));
    if pt2.ph_count() > 0
        && (pt2.ph_entry_size() != 56 || ph_end.is_none_or(|e| e > bytes.len() as u64))
    {
        return Err(ImageError::NotElf("program headers lie outside the file"));
    }
    let mut notes = Notes::default();
    let mut segments: Vec<Segment, MAX_SEGMENTS> = Vec::new();
    let mut loads: Vec<(u64, Segment), MAX_SEGMENTS> = Vec::new();
    for ph in elf.program_iter() {
        let (offset, file_size) = (ph.offset(), ph.file_size());
        let end = offset
            .checked_add(file_size)
            .ok_or(ImageError::SegmentOutOfFile)?;
        if end > bytes.len() as u64 {
            return Err(ImageError::SegmentOutOfFile);
        }
        match ph.get_type() {
            Ok(Type::Note) => parse_notes(&bytes[offset as usize..end as usize], &mut notes)?,
            Ok(Type::Load) if ph.mem_size() > 0 => {
                if ph.mem_size() < file_size {
                    return Err(ImageError::SegmentOutOfFile);
                }
                let seg = Segment {
                    offset,
                    file_size,
                    mem_size: ph.mem_size(),
                    vaddr: 0,
                };
                loads
                    .push((ph.physical_addr(), seg))
                    .map_err(|_| ImageError::BadSegments)?;
            }
            _ => {}
        }
    }
    if !notes.seen {
        return Err(ImageError::NoXenNotes);
    }
    if notes.loader_ok == Some(false) {
        return Err(ImageError::BadLoader);
    }
    if notes.version_ok == Some(false) {
        return Err(ImageError::BadXenVersion);
    }
    if loads.is_empty() {
        return Err(ImageError::BadSegments);
    }
    // Xen's rule: virtual = physical - PADDR_OFFSET + VIRT_BASE.
    let virt_base = notes.virt_base.unwrap_or(0);
    let paddr_offset = notes.paddr_offset.unwrap_or(0);
    let (mut kern_start, mut kern_end) = (u64::MAX, 0u64);
    for (paddr, mut seg) in loads {
        let vaddr = paddr
            .checked_sub(paddr_offset)
            .and_then(|p| p.checked_add(virt_base))
            .ok_or(ImageError::AddressOutsideImage)?;
        let vend = vaddr
            .checked_add(seg.mem_size)
            .ok_or(ImageError::SegmentOutOfFile)?;
        if vaddr < HYPERVISOR_VIRT_END && vend > HYPERVISOR_VIRT_START {
            return Err(ImageError::InHypervisorRange);
        }
        seg.vaddr = vaddr;
        kern_start = kern_start.min(vaddr);
        kern_end = kern_end.max(vend);
        segments.push(seg).map_err(|_| ImageError::BadSegments)?;
    }
    let entry = notes.entry.unwrap_or(elf.header.pt2.entry_point());
    let inside = |va: u64| va >= kern_start && va < kern_end;
    if !inside(entry)
        || notes
            .hypercall_page
            .is_some_and(|hp| !inside(hp) || hp % 4096 != 0)
    {
        return Err(ImageError::AddressOutsideImage);
    }
    Ok(KernelImage {
        guest_os: notes.guest_os,
        virt_base,
        entry,
        hypercall_page: notes.hypercall_page,
        kern_start,
        kern_end,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(ty: u32, desc: &[u8]) -> std::vec::Vec<u8> {
        let mut v = std::vec::Vec::new();
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

    /// A minimal ELF64 with one PT_NOTE and one PT_LOAD at paddr 0x1000.
    fn elf(notes: &[u8]) -> std::vec::Vec<u8> {
        let mut f = vec![0u8; 0x3000];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little endian
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86_64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&0xFFFF_FFFF_8000_1000u64.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&2u16.to_le_bytes());
        let ph =
            |f: &mut [u8], at: usize, ty: u32, off: u64, paddr: u64, filesz: u64, memsz: u64| {
                f[at..at + 4].copy_from_slice(&ty.to_le_bytes());
                f[at + 8..at + 16].copy_from_slice(&off.to_le_bytes());
                f[at + 16..at + 24].copy_from_slice(&(paddr + 0xFFFF_FFFF_8000_0000).to_le_bytes());
                f[at + 24..at + 32].copy_from_slice(&paddr.to_le_bytes());
                f[at + 32..at + 40].copy_from_slice(&filesz.to_le_bytes());
                f[at + 40..at + 48].copy_from_slice(&memsz.to_le_bytes());
            };
        ph(
            &mut f,
            64,
            4,
            0x200,
            0,
            notes.len() as u64,
            notes.len() as u64,
        );
        ph(&mut f, 120, 1, 0x1000, 0x1000, 0x2000, 0x3000);
        f[0x200..0x200 + notes.len()].copy_from_slice(notes);
        f
    }

    fn good_notes() -> std::vec::Vec<u8> {
        let mut n = note(XEN_ELFNOTE_GUEST_OS, b"test-os\0");
        n.extend(note(XEN_ELFNOTE_LOADER, b"generic\0"));
        n.extend(note(XEN_ELFNOTE_XEN_VERSION, b"xen-3.0\0"));
        n.extend(note(
            XEN_ELFNOTE_VIRT_BASE,
            &0xFFFF_FFFF_8000_0000u64.to_le_bytes(),
        ));
        n.extend(note(XEN_ELFNOTE_PADDR_OFFSET, &0u64.to_le_bytes()));
        n.extend(note(
            XEN_ELFNOTE_HYPERCALL_PAGE,
            &0xFFFF_FFFF_8000_2000u64.to_le_bytes(),
        ));
        n
    }

    #[test]
    fn reads_a_pv_kernel() {
        let img = parse(&elf(&good_notes())).unwrap();
        assert_eq!(img.guest_os.as_str(), "test-os");
        assert_eq!(img.virt_base, 0xFFFF_FFFF_8000_0000);
        assert_eq!(img.entry, 0xFFFF_FFFF_8000_1000);
        assert_eq!(img.hypercall_page, Some(0xFFFF_FFFF_8000_2000));
        assert_eq!(img.kern_start, 0xFFFF_FFFF_8000_1000);
        assert_eq!(img.kern_end, 0xFFFF_FFFF_8000_4000);
        assert_eq!(img.segments[0].file_size, 0x2000);
    }

    #[test]
    fn header_tables_outside_the_file_are_refused_not_read() {
        let good = elf(&good_notes());
        // Section headers far past the end (as in an image cut short).
        let mut f = good.clone();
        f[40..48].copy_from_slice(&0x10_0000u64.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&30u16.to_le_bytes());
        f[62..64].copy_from_slice(&29u16.to_le_bytes());
        assert!(matches!(parse(&f), Err(ImageError::NotElf(_))));
        // A string-table index past the section count.
        let mut f = good.clone();
        f[40..48].copy_from_slice(&0x2000u64.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&1u16.to_le_bytes());
        f[62..64].copy_from_slice(&5u16.to_le_bytes());
        assert!(matches!(parse(&f), Err(ImageError::NotElf(_))));
        // Every cut of a good image is refused without a panic.
        for len in (0..good.len()).step_by(7) {
            assert!(parse(&good[..len]).is_err() || len >= 0x1000);
        }
    }

    #[test]
    fn refuses_what_xen_refuses() {
        assert!(matches!(
            parse(b"not an elf at all"),
            Err(ImageError::NotElf(_))
        ));
        assert_eq!(parse(&elf(&[])), Err(ImageError::NoXenNotes));
        let mut n = good_notes();
        n.extend(note(XEN_ELFNOTE_LOADER, b"other\0"));
        assert_eq!(parse(&elf(&n)), Err(ImageError::BadLoader));
        let mut n = good_notes();
        n.extend(note(XEN_ELFNOTE_ENTRY, &0x1234u64.to_le_bytes()));
        assert_eq!(parse(&elf(&n)), Err(ImageError::AddressOutsideImage));
        let mut n = good_notes();
        n.extend(note(
            XEN_ELFNOTE_VIRT_BASE,
            &0xFFFF_8000_0000_0000u64.to_le_bytes(),
        ));
        assert_eq!(parse(&elf(&n)), Err(ImageError::InHypervisorRange));
        let mut n = good_notes();
        n.extend(note(XEN_ELFNOTE_ENTRY, &[1, 2, 3]));
        assert_eq!(parse(&elf(&n)), Err(ImageError::BadNote(XEN_ELFNOTE_ENTRY)));
    }

    #[test]
    fn truncated_files_are_errors_not_panics() {
        let full = elf(&good_notes());
        for len in [0, 10, 63, 64, 200, 0x250, 0x1500] {
            assert!(parse(&full[..len]).is_err(), "len {len}");
        }
    }
}
