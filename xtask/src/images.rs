//! The bare-metal images: building xen-core and pv-guest-kernel and placing them in `target/images`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{container, paths, process};

/// The bare-metal target triple.
pub const TARGET: &str = "x86_64-unknown-none";
/// The hypervisor's package (and binary) name.
pub const HYPERVISOR_PACKAGE: &str = "xen-core";
/// The guest kernel's package (and binary) name.
pub const GUEST_PACKAGE: &str = "pv-guest-kernel";
/// File name of xen-core's 32-bit Multiboot container in the images directory.
pub const XEN_CORE_CONTAINER: &str = "xen-core.elf32";
/// File name of Dom0's ramdisk (a cpio archive of DomU images and configs) in the images directory.
pub const DOM0_RAMDISK: &str = "dom0-ramdisk.cpio";
/// Set by `cargo xtask test` to the images directory so the tests do not build again.
pub const IMAGES_DIR_ENV: &str = "XTASK_IMAGES_DIR";

/// The bootable images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// xen-core's ELF32 container, for QEMU's `-kernel`.
    pub xen_core: PathBuf,
    /// The pv-guest-kernel ELF, for `-initrd`.
    pub guest: PathBuf,
    /// Dom0's ramdisk for `xl` mode: /boot (kernels), /etc/xen (configs, auto/ started at boot).
    pub dom0_ramdisk: PathBuf,
}

impl Images {
    /// The images as named inside `dir` (they may not exist yet).
    pub fn in_dir(dir: &Path) -> Images {
        Images {
            xen_core: dir.join(XEN_CORE_CONTAINER),
            guest: dir.join(GUEST_PACKAGE),
            dom0_ramdisk: dir.join(DOM0_RAMDISK),
        }
    }

    /// The images in `dir`, which must already exist.
    pub fn existing_in(dir: &Path) -> Result<Images, String> {
        let images = Images::in_dir(dir);
        for file in [&images.xen_core, &images.guest, &images.dom0_ramdisk] {
            if !file.is_file() {
                return Err(format!(
                    "{} is missing (run `cargo xtask build`)",
                    file.display()
                ));
            }
        }
        Ok(images)
    }
}

/// `<target>/images`.
pub fn images_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("images")
}

/// xen-core's ELF64 with symbols (for gdb).
pub fn xen_core_elf(target_dir: &Path) -> PathBuf {
    paths::bare_metal_release_dir(target_dir).join(HYPERVISOR_PACKAGE)
}

/// Builds both images in release mode and writes them to `target/images`.
pub fn build() -> Result<Images, String> {
    let target_dir = paths::target_dir()?;
    process::run(
        Command::new(paths::cargo())
            .current_dir(paths::workspace_root())
            .args(["build", "--release", "--target", TARGET])
            .args(["-p", HYPERVISOR_PACKAGE, "-p", GUEST_PACKAGE]),
    )?;
    let release = paths::bare_metal_release_dir(&target_dir);
    let dir = images_dir(&target_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let images = Images::in_dir(&dir);
    container::convert_file(&release.join(HYPERVISOR_PACKAGE), &images.xen_core)?;
    let guest = release.join(GUEST_PACKAGE);
    std::fs::copy(&guest, &images.guest).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            guest.display(),
            images.guest.display()
        )
    })?;
    write_dom0_ramdisk(&images)?;
    Ok(images)
}

/// Bytes of the guest kernel kept in /boot/corrupt-kernel (a cut-short image for tests).
const CORRUPT_KERNEL_BYTES: usize = 3000;

/// The files of Dom0's ramdisk: the guest kernel (and a cut-short copy), the default configs
/// (also in /etc/xen/auto, which Dom0 starts at boot) and the test configs in /etc/xen/tests.
pub fn dom0_ramdisk_files(guest: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let root = paths::workspace_root();
    let mut files = vec![
        ("boot/pv-guest-kernel".to_string(), guest.to_vec()),
        (
            "boot/corrupt-kernel".to_string(),
            guest[..guest.len().min(CORRUPT_KERNEL_BYTES)].to_vec(),
        ),
    ];
    for (dir, into, auto) in [
        (root.join("dom0-tools/configs"), "etc/xen", true),
        (root.join("tests/configs"), "etc/xen/tests", false),
    ] {
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.ends_with(".cfg"))
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if auto {
                files.push((format!("{into}/auto/{name}"), bytes.clone()));
            }
            files.push((format!("{into}/{name}"), bytes));
        }
    }
    Ok(files)
}

fn write_dom0_ramdisk(images: &Images) -> Result<(), String> {
    let guest = std::fs::read(&images.guest)
        .map_err(|e| format!("cannot read {}: {e}", images.guest.display()))?;
    let files = dom0_ramdisk_files(&guest)?;
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let archive = crate::initramfs::build(&refs)?;
    std::fs::write(&images.dom0_ramdisk, archive)
        .map_err(|e| format!("cannot write {}: {e}", images.dom0_ramdisk.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_named_inside_the_directory() {
        let images = Images::in_dir(Path::new("/t/images"));
        assert_eq!(images.xen_core, Path::new("/t/images/xen-core.elf32"));
        assert_eq!(images.guest, Path::new("/t/images/pv-guest-kernel"));
        assert_eq!(
            images.dom0_ramdisk,
            Path::new("/t/images/dom0-ramdisk.cpio")
        );
        assert_eq!(images_dir(Path::new("/t")), Path::new("/t/images"));
        assert_eq!(
            xen_core_elf(Path::new("/t")),
            Path::new("/t/x86_64-unknown-none/release/xen-core")
        );
    }

    #[test]
    fn the_dom0_ramdisk_holds_the_kernel_and_the_configs() {
        let files = dom0_ramdisk_files(b"\x7fELF guest").unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"boot/pv-guest-kernel"));
        assert!(names.contains(&"etc/xen/d1.cfg"));
        assert!(names.contains(&"etc/xen/auto/d1.cfg"));
        assert!(names.contains(&"etc/xen/tests/bad.cfg"));
        assert!(!names.contains(&"etc/xen/tests/auto/bad.cfg"));
    }

    #[test]
    fn existing_images_must_be_there() {
        let dir = std::env::temp_dir().join(format!("xtask-images-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = Images::existing_in(&dir).unwrap_err();
        std::fs::write(dir.join(XEN_CORE_CONTAINER), b"x").unwrap();
        std::fs::write(dir.join(GUEST_PACKAGE), b"y").unwrap();
        std::fs::write(dir.join(DOM0_RAMDISK), b"z").unwrap();
        let found = Images::existing_in(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(missing.contains("xen-core.elf32 is missing"), "{missing}");
        assert_eq!(found, Ok(Images::in_dir(&dir)));
    }
}
