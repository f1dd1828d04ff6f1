//! Reading the Multiboot (v1) information that QEMU or GRUB hands to xen-core at boot.

use heapless::{String, Vec};

/// `eax` at entry when a Multiboot loader started us.
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;

const FLAG_CMDLINE: u32 = 1 << 2;
const FLAG_MODS: u32 = 1 << 3;
const FLAG_MMAP: u32 = 1 << 6;

/// Longest command line kept (hypervisor's or a module's).
pub const MAX_CMDLINE: usize = 1024;
/// Most boot modules kept (Dom0 kernel, Dom0 ramdisk, ...).
pub const MAX_MODULES: usize = 4;
/// Most memory-map entries kept.
pub const MAX_REGIONS: usize = 32;

/// Reads physical memory for the parser (the direct map on hardware, a buffer in tests).
pub trait PhysMemory {
    /// Fills `buf` from physical address `paddr`; false if that memory cannot be read.
    fn read(&self, paddr: u64, buf: &mut [u8]) -> bool;
}

/// One boot module, e.g. the Dom0 kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Physical address of the first byte.
    pub start: u64,
    /// Physical address one past the last byte.
    pub end: u64,
    /// The module's command line, as the loader gave it (it starts with the file name).
    pub cmdline: String<MAX_CMDLINE>,
}

/// One range of the firmware memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub len: u64,
    /// True for ordinary RAM (Multiboot type 1).
    pub usable: bool,
}

/// Everything xen-core keeps from the Multiboot information.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootInfo {
    /// The hypervisor command line.
    pub cmdline: String<MAX_CMDLINE>,
    /// The boot modules, in order.
    pub modules: Vec<Module, MAX_MODULES>,
    /// The memory map.
    pub regions: Vec<Region, MAX_REGIONS>,
}

/// Why the Multiboot information could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// `eax` did not hold the Multiboot magic.
    BadMagic(u32),
    /// The information structure could not be read.
    Unreadable,
    /// The loader gave no memory map.
    NoMemoryMap,
}

fn read_u32(mem: &dyn PhysMemory, paddr: u64) -> Result<u32, BootInfoError> {
    let mut b = [0u8; 4];
    if mem.read(paddr, &mut b) {
        Ok(u32::from_le_bytes(b))
    } else {
        Err(BootInfoError::Unreadable)
    }
}

fn read_u64(mem: &dyn PhysMemory, paddr: u64) -> Result<u64, BootInfoError> {
    let mut b = [0u8; 8];
    if mem.read(paddr, &mut b) {
        Ok(u64::from_le_bytes(b))
    } else {
        Err(BootInfoError::Unreadable)
    }
}

fn read_cstr(mem: &dyn PhysMemory, paddr: u64) -> String<MAX_CMDLINE> {
    let mut out = String::new();
    for addr in (paddr..).take(MAX_CMDLINE) {
        let mut b = [0u8; 1];
        if !mem.read(addr, &mut b) || b[0] == 0 {
            break;
        }
        // Non-ASCII bytes are replaced: command lines are ASCII in practice.
        let c = if b[0].is_ascii() { b[0] as char } else { '?' };
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// Parses the Multiboot information at `info_paddr`, given the `magic` the loader left in `eax`.
pub fn parse(mem: &dyn PhysMemory, magic: u32, info_paddr: u64) -> Result<BootInfo, BootInfoError> {
    if magic != BOOTLOADER_MAGIC {
        return Err(BootInfoError::BadMagic(magic));
    }
    let flags = read_u32(mem, info_paddr)?;
    let mut info = BootInfo::default();
    if flags & FLAG_CMDLINE != 0 {
        info.cmdline = read_cstr(mem, u64::from(read_u32(mem, info_paddr + 16)?));
    }
    if flags & FLAG_MODS != 0 {
        let count = read_u32(mem, info_paddr + 20)?;
        let base = u64::from(read_u32(mem, info_paddr + 24)?);
        for i in 0..u64::from(count).min(MAX_MODULES as u64) {
            let entry = base + i * 16;
            let start = u64::from(read_u32(mem, entry)?);
            let end = u64::from(read_u32(mem, entry + 4)?);
            let cmdline = read_cstr(mem, u64::from(read_u32(mem, entry + 8)?));
            if end >= start {
                let _ = info.modules.push(Module {
                    start,
                    end,
                    cmdline,
                });
            }
        }
    }
    if flags & FLAG_MMAP == 0 {
        return Err(BootInfoError::NoMemoryMap);
    }
    let length = u64::from(read_u32(mem, info_paddr + 44)?);
    let base = u64::from(read_u32(mem, info_paddr + 48)?);
    let mut at = base;
    while at + 24 <= base + length {
        let size = u64::from(read_u32(mem, at)?);
        let region = Region {
            base: read_u64(mem, at + 4)?,
            len: read_u64(mem, at + 12)?,
            usable: read_u32(mem, at + 20)? == 1,
        };
        if info.regions.push(region).is_err() {
            break;
        }
        at += size + 4;
    }
    Ok(info)
}

/// The part of a module's command line after the file name: what its guest sees.
pub fn module_args(cmdline: &str) -> &str {
    let trimmed = cmdline.trim_start();
    match trimmed.find(char::is_whitespace) {
        Some(i) => trimmed[i..].trim(),
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Buf(std::vec::Vec<u8>);
    impl PhysMemory for Buf {
        fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
            let start = paddr as usize;
            match self.0.get(start..start + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        }
    }

    fn put32(m: &mut [u8], at: usize, v: u32) {
        m[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put64(m: &mut [u8], at: usize, v: u64) {
        m[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn sample() -> Buf {
        let mut m = vec![0u8; 0x1000];
        put32(&mut m, 0, FLAG_CMDLINE | FLAG_MODS | FLAG_MMAP);
        put32(&mut m, 16, 0x200);
        m[0x200..0x200 + 13].copy_from_slice(b"dom0_mem=32M\0");
        put32(&mut m, 20, 1);
        put32(&mut m, 24, 0x300);
        put32(&mut m, 0x300, 0x20_0000);
        put32(&mut m, 0x304, 0x28_0000);
        put32(&mut m, 0x308, 0x400);
        m[0x400..0x400 + 19].copy_from_slice(b"/img/guest selftest");
        put32(&mut m, 44, 48);
        put32(&mut m, 48, 0x500);
        for (i, (base, len, ty)) in [(0u64, 0x9fc00u64, 1u32), (0x10_0000, 0x1000_0000, 1)]
            .iter()
            .enumerate()
        {
            let at = 0x500 + i * 24;
            put32(&mut m, at, 20);
            put64(&mut m, at + 4, *base);
            put64(&mut m, at + 12, *len);
            put32(&mut m, at + 20, *ty);
        }
        Buf(m)
    }

    #[test]
    fn parses_a_qemu_like_info() {
        let info = parse(&sample(), BOOTLOADER_MAGIC, 0).unwrap();
        assert_eq!(info.cmdline.as_str(), "dom0_mem=32M");
        assert_eq!(info.modules.len(), 1);
        assert_eq!(info.modules[0].start, 0x20_0000);
        assert_eq!(info.modules[0].end, 0x28_0000);
        assert_eq!(module_args(&info.modules[0].cmdline), "selftest");
        assert_eq!(info.regions.len(), 2);
        assert_eq!(
            info.regions[1],
            Region {
                base: 0x10_0000,
                len: 0x1000_0000,
                usable: true
            }
        );
    }

    #[test]
    fn rejects_bad_magic_and_missing_map() {
        assert_eq!(
            parse(&sample(), 0x1234, 0),
            Err(BootInfoError::BadMagic(0x1234))
        );
        let mut m = sample();
        put32(&mut m.0, 0, FLAG_CMDLINE);
        assert_eq!(
            parse(&m, BOOTLOADER_MAGIC, 0),
            Err(BootInfoError::NoMemoryMap)
        );
        assert_eq!(
            parse(&m, BOOTLOADER_MAGIC, 0x10_0000),
            Err(BootInfoError::Unreadable)
        );
    }

    #[test]
    fn module_args_drop_the_file_name() {
        assert_eq!(module_args("guest"), "");
        assert_eq!(module_args("  guest  a b "), "a b");
    }
}
