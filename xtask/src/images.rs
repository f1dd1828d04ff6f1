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
/// Set by `cargo xtask test` to the images directory so the tests do not build again.
pub const IMAGES_DIR_ENV: &str = "XTASK_IMAGES_DIR";

/// The bootable images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// xen-core's ELF32 container, for QEMU's `-kernel`.
    pub xen_core: PathBuf,
    /// The pv-guest-kernel ELF, for `-initrd`.
    pub guest: PathBuf,
}

impl Images {
    /// The images as named inside `dir` (they may not exist yet).
    pub fn in_dir(dir: &Path) -> Images {
        Images {
            xen_core: dir.join(XEN_CORE_CONTAINER),
            guest: dir.join(GUEST_PACKAGE),
        }
    }

    /// The images in `dir`, which must already exist.
    pub fn existing_in(dir: &Path) -> Result<Images, String> {
        let images = Images::in_dir(dir);
        for file in [&images.xen_core, &images.guest] {
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
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_named_inside_the_directory() {
        let images = Images::in_dir(Path::new("/t/images"));
        assert_eq!(images.xen_core, Path::new("/t/images/xen-core.elf32"));
        assert_eq!(images.guest, Path::new("/t/images/pv-guest-kernel"));
        assert_eq!(images_dir(Path::new("/t")), Path::new("/t/images"));
        assert_eq!(
            xen_core_elf(Path::new("/t")),
            Path::new("/t/x86_64-unknown-none/release/xen-core")
        );
    }

    #[test]
    fn existing_images_must_be_there() {
        let dir = std::env::temp_dir().join(format!("xtask-images-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = Images::existing_in(&dir).unwrap_err();
        std::fs::write(dir.join(XEN_CORE_CONTAINER), b"x").unwrap();
        std::fs::write(dir.join(GUEST_PACKAGE), b"y").unwrap();
        let found = Images::existing_in(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(missing.contains("xen-core.elf32 is missing"), "{missing}");
        assert_eq!(found, Ok(Images::in_dir(&dir)));
    }
}
