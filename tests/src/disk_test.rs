//! Shared helpers of the virtual-disk tests: a fresh partitioned disk image per test, its bytes after the run, and the checksums and answers the DomU shell printed.

use std::path::{Path, PathBuf};

use xtask::disk_image::{self, Extent, PartitionSpec};
use xtask::qemu::Run;

use crate::xl_session::{On, answer_at};

/// The seed of hda2's fill (the shared read-only disk).
pub const SHARED_SEED: u8 = 0x5a;

/// A fresh image for one test: hda1 4 MiB (read-write), hda2 4 MiB filled with
/// [`SHARED_SEED`] (shared read-only), hda3 4 MiB; its path and the partitions' extents.
pub fn image(name: &str, on: On) -> (PathBuf, Vec<Extent>) {
    let dir = xtask::paths::target_dir()
        .expect("the target directory")
        .join("test-disks");
    let path = dir.join(format!("{name}-{on:?}-{}.img", std::process::id()));
    let specs = [
        PartitionSpec {
            size_mib: 4,
            fill: None,
        },
        PartitionSpec {
            size_mib: 4,
            fill: Some(SHARED_SEED),
        },
        PartitionSpec {
            size_mib: 4,
            fill: None,
        },
    ];
    let extents = disk_image::create(&path, &specs).expect("the test disk image");
    (path, extents)
}

/// `len` bytes of the image at byte `offset`.
pub fn image_bytes(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let all = std::fs::read(path).expect("the image after the run");
    let start = offset as usize;
    all[start..start + len].to_vec()
}

/// The `crc32 0x...` value in `text` after `prefix` (on the first line starting with it).
pub fn crc_after(text: &str, prefix: &str) -> Option<u32> {
    crcs_after(text, prefix).into_iter().next()
}

/// The `crc32 0x...` values of every line of `text` starting with `prefix`, in order.
pub fn crcs_after(text: &str, prefix: &str) -> Vec<u32> {
    text.replace('\r', "")
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let hex = l.split("crc32 0x").nth(1)?.get(..8)?;
            u32::from_str_radix(hex, 16).ok()
        })
        .collect()
}

/// What a DomU's shell answered to `command` (typed there for the `nth` time).
pub fn domu(run: &Run, command: &str, nth: usize) -> String {
    answer_at(run, "domu# ", command, nth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_read_from_the_shells_lines() {
        let text = "sum xvda 0+8: crc32 0x0badf00d\r\nxvda 0: 00\nsum xvda 0+8: crc32 0x12345678\n";
        assert_eq!(crc_after(text, "sum xvda 0+8"), Some(0x0bad_f00d));
        assert_eq!(crcs_after(text, "sum xvda 0+8"), [0x0bad_f00d, 0x1234_5678]);
        assert_eq!(crc_after(text, "read xvda"), None);
        assert_eq!(crc_after("sum xvda 0+8: crc32 0xzz", "sum"), None);
    }
}
