//! The files Dom0's toolstack reads (configs, kernels): the ramdisk, a cpio archive as Linux's initramfs.

use dom0_tools::initramfs::Archive;

use crate::arch::x86_64::boot;

/// Where a bare kernel ramdisk (not an archive) is found, for `kernel = ...` lines.
pub const BARE_KERNEL_PATH: &str = "/boot/pv-guest-kernel";

/// The file at `path`, if the ramdisk holds it. A ramdisk that is a bare ELF image (as the
/// domain scenarios boot) shows as the one file [`BARE_KERNEL_PATH`].
pub fn read(path: &str) -> Option<&'static [u8]> {
    let ramdisk = boot::initrd()?;
    if ramdisk.starts_with(b"\x7fELF") {
        return (path == BARE_KERNEL_PATH).then_some(ramdisk);
    }
    Archive::parse(ramdisk).ok()?.file(path)
}

/// The names of the files directly in `dir` (for autostart), in archive order.
pub fn list(dir: &str, out: &mut dyn FnMut(&str)) {
    let Some(ramdisk) = boot::initrd() else {
        return;
    };
    if let Ok(archive) = Archive::parse(ramdisk) {
        for entry in archive.read_dir(dir) {
            if entry.is_file() {
                out(entry.name);
            }
        }
    }
}

/// What the ramdisk holds, for the boot log: its size and entries, or why there is none.
pub fn describe() -> alloc::string::String {
    match boot::initrd() {
        None => alloc::string::String::from("no initial ramdisk"),
        Some(r) if r.starts_with(b"\x7fELF") => {
            alloc::format!(
                "a bare kernel image of {} bytes, seen as {BARE_KERNEL_PATH}",
                r.len()
            )
        }
        Some(r) => match Archive::parse(r) {
            Ok(a) => alloc::format!(
                "a cpio archive of {} bytes, {} entries",
                r.len(),
                a.entries().count()
            ),
            Err(e) => alloc::format!("an unreadable archive of {} bytes: {e}", r.len()),
        },
    }
}
