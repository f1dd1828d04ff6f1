//! xen-core's 32-bit Multiboot container (as Xen's mkelf32 makes it): QEMU's loader refuses ELF64.

use std::path::Path;

use xmas_elf::ElfFile;
use xmas_elf::header::{Class, Data, Machine};
use xmas_elf::program::Type;

/// File offset of the image in the container.
pub const IMAGE_OFFSET: u32 = 0x1000;
/// How far into the file a Multiboot (v1) loader looks for the header.
pub const MULTIBOOT_SEARCH_LIMIT: usize = 8192;
/// The Multiboot v1 header magic.
pub const MULTIBOOT_MAGIC: u32 = 0x1BAD_B002;

const ELF32_HEADER_SIZE: u16 = 52;
const ELF32_PHDR_SIZE: u16 = 32;
const ELF64_PHDR_SIZE: u64 = 56;
const EM_386: u16 = 3;
const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const PF_RWX: u32 = 7;

/// One PT_LOAD segment of the input, as read from its program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    vaddr: u64,
    paddr: u64,
    offset: u64,
    filesz: u64,
    memsz: u64,
}

/// Reads the ELF64 at `src` and writes its ELF32 container to `dst`.
pub fn convert_file(src: &Path, dst: &Path) -> Result<(), String> {
    let input = std::fs::read(src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    let output = elf64_to_elf32(&input).map_err(|e| format!("{}: {e}", src.display()))?;
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(dst, output).map_err(|e| format!("cannot write {}: {e}", dst.display()))
}

/// Builds the ELF32 container for the ELF64 image `input`.
///
/// The input's PT_LOAD segments load at physical addresses from 1 MiB and run either
/// identity-mapped (the 32-bit boot code) or from the direct map (virtual =
/// 0xFFFF830000000000 + physical); only p_paddr matters here. The output is an ELF32
/// (EM_386) with a single PT_LOAD, identity-mapped at the lowest physical load address,
/// holding every segment's file bytes laid out by physical address (gaps zero-filled)
/// and covering the highest segment's bss; its entry is the physical address of the
/// input's entry, translated through the segment that contains it. The image starts at
/// file offset 0x1000, so the Multiboot header (first in the image) lies within the
/// 8 KiB that loaders search; an image without one is refused.
pub fn elf64_to_elf32(input: &[u8]) -> Result<Vec<u8>, String> {
    let (entry, segments) = read_elf64(input)?;
    let base = segments
        .iter()
        .map(|s| s.paddr)
        .min()
        .ok_or("the ELF has no PT_LOAD segment")?;
    check_no_overlap(&segments)?;

    let end_of = |s: &Segment, size: u64| {
        s.paddr
            .checked_add(size)
            .ok_or_else(|| format!("segment at {:#x} wraps around", s.paddr))
    };
    let mut file_end = base;
    let mut mem_end = base;
    for s in &segments {
        if s.filesz > 0 {
            file_end = file_end.max(end_of(s, s.filesz)?);
        }
        mem_end = mem_end.max(end_of(s, s.memsz)?);
    }
    if mem_end > 1 << 32 {
        return Err(format!(
            "the image ends at {mem_end:#x}, above 4 GiB: it cannot be loaded as ELF32"
        ));
    }
    let entry = physical_entry(entry, &segments)?;

    let file_size = usize::try_from(file_end - base).map_err(|_| "image too large")?;
    let mut image = vec![0u8; file_size];
    for s in segments.iter().filter(|s| s.filesz > 0) {
        let at = (s.paddr - base) as usize;
        let from = s.offset as usize;
        let len = s.filesz as usize;
        image[at..at + len].copy_from_slice(&input[from..from + len]);
    }

    // All three fit in u32: mem_end <= 4 GiB and base <= entry, file_end <= mem_end.
    let base32 = u32::try_from(base).map_err(|_| "base above 4 GiB")?;
    let filesz32 = u32::try_from(file_end - base).map_err(|_| "image too large")?;
    let memsz32 = u32::try_from(mem_end - base).map_err(|_| "image too large")?;
    let align = if base % u64::from(IMAGE_OFFSET) == 0 {
        IMAGE_OFFSET
    } else {
        1
    };

    let mut out = Vec::with_capacity(IMAGE_OFFSET as usize + image.len());
    // e_ident: magic, ELFCLASS32, little-endian, EV_CURRENT, System V ABI, padding.
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&ET_EXEC.to_le_bytes());
    out.extend_from_slice(&EM_386.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // e_version
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&u32::from(ELF32_HEADER_SIZE).to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_shoff: no section headers
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&ELF32_HEADER_SIZE.to_le_bytes());
    out.extend_from_slice(&ELF32_PHDR_SIZE.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    out.extend_from_slice(&40u16.to_le_bytes()); // e_shentsize (sizeof Elf32_Shdr)
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    for word in [
        PT_LOAD,
        IMAGE_OFFSET,
        base32,
        base32,
        filesz32,
        memsz32,
        PF_RWX,
        align,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.resize(IMAGE_OFFSET as usize, 0);
    out.extend_from_slice(&image);

    if find_multiboot_header(&out).is_none() {
        return Err(format!(
            "no Multiboot header (magic {MULTIBOOT_MAGIC:#x} with a valid checksum) in the first {} bytes \
             of the image: it must come first in the lowest segment",
            MULTIBOOT_SEARCH_LIMIT - IMAGE_OFFSET as usize
        ));
    }
    Ok(out)
}

/// The file offset of a valid Multiboot v1 header within the first 8 KiB of `file`.
pub fn find_multiboot_header(file: &[u8]) -> Option<usize> {
    let window = &file[..file.len().min(MULTIBOOT_SEARCH_LIMIT)];
    let word = |at: usize| {
        window
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    (0..window.len()).step_by(4).find(|&at| {
        matches!(
            (word(at), word(at + 4), word(at + 8)),
            (Some(MULTIBOOT_MAGIC), Some(flags), Some(sum)) if MULTIBOOT_MAGIC.wrapping_add(flags).wrapping_add(sum) == 0
        )
    })
}

/// The entry point and PT_LOAD segments of an x86_64 ELF64, with every range checked against `input`.
fn read_elf64(input: &[u8]) -> Result<(u64, Vec<Segment>), String> {
    let elf = ElfFile::new(input).map_err(|e| format!("not an ELF file: {e}"))?;
    if elf.header.pt1.class() != Class::SixtyFour {
        return Err("not an ELF64 file".into());
    }
    if elf.header.pt1.data() != Data::LittleEndian {
        return Err("not a little-endian ELF file".into());
    }
    let pt2 = &elf.header.pt2;
    if pt2.machine().as_machine() != Machine::X86_64 {
        return Err(format!(
            "not an x86_64 ELF file (machine {:?})",
            pt2.machine().as_machine()
        ));
    }
    let ph_size = u64::from(pt2.ph_entry_size());
    let table_end = u64::from(pt2.ph_count())
        .checked_mul(ph_size)
        .and_then(|size| size.checked_add(pt2.ph_offset()));
    if pt2.ph_count() == 0
        || ph_size < ELF64_PHDR_SIZE
        || table_end.is_none_or(|end| end > input.len() as u64)
    {
        return Err("the program header table is missing or lies outside the file".into());
    }

    let mut segments = Vec::new();
    for index in 0..pt2.ph_count() {
        let ph = elf
            .program_header(index)
            .map_err(|e| format!("program header {index}: {e}"))?;
        if ph.get_type() != Ok(Type::Load) {
            continue;
        }
        let segment = Segment {
            vaddr: ph.virtual_addr(),
            paddr: ph.physical_addr(),
            offset: ph.offset(),
            filesz: ph.file_size(),
            memsz: ph.mem_size(),
        };
        // A segment without file bytes (bss) may name any offset.
        let in_file = segment.filesz == 0
            || segment
                .offset
                .checked_add(segment.filesz)
                .is_some_and(|end| end <= input.len() as u64);
        if !in_file || segment.filesz > segment.memsz {
            return Err(format!(
                "PT_LOAD segment {index} has bad sizes or lies outside the file"
            ));
        }
        segments.push(segment);
    }
    Ok((pt2.entry_point(), segments))
}

/// Fails if two segments' physical ranges (file bytes and bss) overlap.
fn check_no_overlap(segments: &[Segment]) -> Result<(), String> {
    let mut sorted: Vec<&Segment> = segments.iter().filter(|s| s.memsz > 0).collect();
    sorted.sort_by_key(|s| s.paddr);
    for pair in sorted.windows(2) {
        let end = pair[0].paddr.saturating_add(pair[0].memsz);
        if end > pair[1].paddr {
            return Err(format!(
                "PT_LOAD segments at physical {:#x} and {:#x} overlap",
                pair[0].paddr, pair[1].paddr
            ));
        }
    }
    Ok(())
}

/// Translates the virtual `entry` to a physical address through the segment that contains it.
fn physical_entry(entry: u64, segments: &[Segment]) -> Result<u32, String> {
    let segment = segments
        .iter()
        .find(|s| entry >= s.vaddr && entry - s.vaddr < s.memsz)
        .ok_or_else(|| format!("the entry point {entry:#x} lies in no PT_LOAD segment"))?;
    let physical = segment.paddr + (entry - segment.vaddr);
    u32::try_from(physical)
        .map_err(|_| format!("the entry point's physical address {physical:#x} is above 4 GiB"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmas_elf::header::HeaderPt2;

    const DIRECTMAP: u64 = 0xFFFF_8300_0000_0000;

    /// A segment of a synthetic ELF64: type, physical address, file bytes, memory size, and
    /// whether it runs identity-mapped (else from the direct map).
    struct Seg {
        kind: u32,
        paddr: u64,
        bytes: Vec<u8>,
        memsz: u64,
        identity: bool,
    }

    fn load(paddr: u64, bytes: Vec<u8>, memsz: u64) -> Seg {
        Seg {
            kind: PT_LOAD,
            paddr,
            bytes,
            memsz,
            identity: false,
        }
    }

    fn identity_load(paddr: u64, bytes: Vec<u8>, memsz: u64) -> Seg {
        Seg {
            identity: true,
            ..load(paddr, bytes, memsz)
        }
    }

    fn multiboot_header() -> Vec<u8> {
        let flags = 0x0000_0003u32;
        let sum = 0u32.wrapping_sub(MULTIBOOT_MAGIC).wrapping_sub(flags);
        [MULTIBOOT_MAGIC, flags, sum]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }

    /// Builds an x86_64 ELF64 executable whose segments run at paddr or DIRECTMAP + paddr.
    fn elf64(entry: u64, segs: &[Seg]) -> Vec<u8> {
        let phoff = 64u64;
        let mut data_offset = 0x1000u64;
        let mut headers = Vec::new();
        let mut data = Vec::new();
        for s in segs {
            headers.extend_from_slice(&s.kind.to_le_bytes());
            headers.extend_from_slice(&7u32.to_le_bytes());
            let vaddr = if s.identity {
                s.paddr
            } else {
                DIRECTMAP + s.paddr
            };
            for word in [
                data_offset,
                vaddr,
                s.paddr,
                s.bytes.len() as u64,
                s.memsz,
                0x1000,
            ] {
                headers.extend_from_slice(&word.to_le_bytes());
            }
            data.push((data_offset, s.bytes.clone()));
            data_offset += (s.bytes.len() as u64).div_ceil(0x1000).max(1) * 0x1000;
        }
        let mut out = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&phoff.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&64u16.to_le_bytes());
        out.extend_from_slice(&56u16.to_le_bytes());
        out.extend_from_slice(&(segs.len() as u16).to_le_bytes());
        out.extend_from_slice(&64u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&headers);
        for (offset, bytes) in data {
            out.resize(offset as usize, 0);
            out.extend_from_slice(&bytes);
        }
        out
    }

    /// The typical xen-core shape: boot+text, data, bss, plus a non-load segment.
    fn typical() -> Vec<u8> {
        let mut text = multiboot_header();
        text.extend_from_slice(&[0x90; 20]);
        elf64(
            DIRECTMAP + 0x10_0010,
            &[
                Seg {
                    kind: 0x6474_e551,
                    ..load(0, vec![], 0)
                }, // PT_GNU_STACK
                load(0x10_2000, vec![0xdd; 16], 16),
                load(0x10_0000, text, 32),
                load(0x10_3000, vec![], 0x2000),
            ],
        )
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn converts_to_one_identity_mapped_elf32_segment() {
        let out = elf64_to_elf32(&typical()).unwrap();
        let elf = ElfFile::new(&out).unwrap();
        assert_eq!(elf.header.pt1.class(), Class::ThirtyTwo);
        assert!(matches!(elf.header.pt2, HeaderPt2::Header32(_)));
        assert_eq!(elf.header.pt2.machine().as_machine(), Machine::X86);
        assert_eq!(elf.header.pt2.entry_point(), 0x10_0010);
        assert_eq!(elf.header.pt2.ph_count(), 1);
        let ph = elf.program_header(0).unwrap();
        assert_eq!(ph.get_type(), Ok(Type::Load));
        assert_eq!(ph.offset(), 0x1000);
        assert_eq!(ph.physical_addr(), 0x10_0000);
        assert_eq!(ph.virtual_addr(), 0x10_0000);
        assert_eq!(ph.file_size(), 0x2010);
        assert_eq!(ph.mem_size(), 0x5000);
        assert_eq!(out.len(), 0x1000 + 0x2010);
    }

    #[test]
    fn lays_segments_out_by_physical_address_with_zero_gaps() {
        let out = elf64_to_elf32(&typical()).unwrap();
        assert_eq!(&out[0x1000..0x100c], &multiboot_header()[..]);
        assert!(out[0x100c..0x1020].iter().all(|&b| b == 0x90));
        assert!(out[0x1020..0x3000].iter().all(|&b| b == 0));
        assert!(out[0x3000..0x3010].iter().all(|&b| b == 0xdd));
        assert_eq!(find_multiboot_header(&out), Some(0x1000));
        assert_eq!(u32_at(&out, 0x1000), MULTIBOOT_MAGIC);
    }

    #[test]
    fn an_identity_mapped_boot_segment_keeps_its_entry() {
        // xen-core's current layout: 32-bit boot code at its load address, the rest in the direct map.
        let mut boot = multiboot_header();
        boot.extend_from_slice(&[0xf4; 4]);
        let elf = elf64(
            0x10_000c,
            &[
                identity_load(0x10_0000, boot, 16),
                load(0x10_1000, vec![0xcc; 8], 8),
                load(0x10_2000, vec![], 0x1000),
            ],
        );
        let out = elf64_to_elf32(&elf).unwrap();
        assert_eq!(u32_at(&out, 24), 0x10_000c);
        assert_eq!(u32_at(&out, 52 + 16), 0x1008); // p_filesz
        assert_eq!(u32_at(&out, 52 + 20), 0x3000); // p_memsz
        assert!(out[0x100c..0x1010].iter().all(|&b| b == 0xf4));
        assert!(out[0x2000..0x2008].iter().all(|&b| b == 0xcc));
    }

    #[test]
    fn rejects_an_image_without_multiboot_header() {
        let elf = elf64(
            DIRECTMAP + 0x10_0000,
            &[load(0x10_0000, vec![0x90; 32], 32)],
        );
        let err = elf64_to_elf32(&elf).unwrap_err();
        assert!(err.contains("Multiboot"), "{err}");
    }

    #[test]
    fn rejects_a_multiboot_header_with_a_bad_checksum() {
        let mut text = multiboot_header();
        text[8] ^= 1;
        let elf = elf64(DIRECTMAP + 0x10_0000, &[load(0x10_0000, text, 12)]);
        assert!(elf64_to_elf32(&elf).is_err());
    }

    #[test]
    fn rejects_an_entry_outside_every_segment() {
        let elf = elf64(
            DIRECTMAP + 0x20_0000,
            &[load(0x10_0000, multiboot_header(), 12)],
        );
        let err = elf64_to_elf32(&elf).unwrap_err();
        assert!(err.contains("entry point"), "{err}");
    }

    #[test]
    fn the_entry_may_lie_in_bss() {
        let elf = elf64(
            DIRECTMAP + 0x10_1000,
            &[
                load(0x10_0000, multiboot_header(), 12),
                load(0x10_1000, vec![], 0x1000),
            ],
        );
        let out = elf64_to_elf32(&elf).unwrap();
        assert_eq!(u32_at(&out, 24), 0x10_1000);
    }

    #[test]
    fn rejects_overlapping_segments() {
        let elf = elf64(
            DIRECTMAP + 0x10_0000,
            &[
                load(0x10_0000, multiboot_header(), 0x2000),
                load(0x10_1000, vec![1; 8], 8),
            ],
        );
        let err = elf64_to_elf32(&elf).unwrap_err();
        assert!(err.contains("overlap"), "{err}");
    }

    #[test]
    fn rejects_an_image_above_4_gib() {
        let elf = elf64(
            DIRECTMAP + 0x10_0000,
            &[
                load(0x10_0000, multiboot_header(), 12),
                load(0xFFFF_F000, vec![], 0x2000),
            ],
        );
        let err = elf64_to_elf32(&elf).unwrap_err();
        assert!(err.contains("4 GiB"), "{err}");
    }

    #[test]
    fn rejects_non_elf64_and_truncated_input() {
        assert!(elf64_to_elf32(b"not an elf at all, clearly not one").is_err());
        let out = elf64_to_elf32(&typical()).unwrap();
        let err = elf64_to_elf32(&out).unwrap_err();
        assert!(err.contains("ELF64"), "{err}");
        let whole = typical();
        assert!(elf64_to_elf32(&whole[..100]).is_err());
        assert!(elf64_to_elf32(&whole[..0x1008]).is_err());
    }

    #[test]
    fn rejects_an_elf_without_load_segments() {
        let elf = elf64(
            0,
            &[Seg {
                kind: 4,
                ..load(0, vec![0; 4], 4)
            }],
        );
        let err = elf64_to_elf32(&elf).unwrap_err();
        assert!(err.contains("no PT_LOAD"), "{err}");
    }

    #[test]
    fn converts_files() {
        let dir = std::env::temp_dir().join(format!("xtask-container-{}", std::process::id()));
        let src = dir.join("in.elf");
        let dst = dir.join("sub").join("out.elf32");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&src, typical()).unwrap();
        convert_file(&src, &dst).unwrap();
        let written = std::fs::read(&dst).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(written, elf64_to_elf32(&typical()).unwrap());
    }
}
