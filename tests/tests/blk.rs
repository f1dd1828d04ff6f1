//! Virtual disks end to end: Dom0's blkback on the IDE disk, a DomU's blkfront, driven through the xl shell on xen-core and on Xen 4.17.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use dom0_tools::blk_data::{crc32, fill_pattern};
use tests::xl_session::{On, answer_at, xl_on_with};
use xtask::disk_image::{self, Extent, PartitionSpec};
use xtask::qemu::Run;

/// The seed of hda2's fill (the shared read-only disk).
const SHARED_SEED: u8 = 0x5a;

/// A fresh image for one test: hda1 4 MiB (read-write), hda2 4 MiB filled (shared read-only),
/// hda3 4 MiB.
fn image(name: &str, on: On) -> (PathBuf, Vec<Extent>) {
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
fn image_bytes(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let all = std::fs::read(path).expect("the image after the run");
    let start = offset as usize;
    all[start..start + len].to_vec()
}

/// The `crc32 0x...` value in `text` after `prefix`.
fn crc_after(text: &str, prefix: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    let hex = line.split("crc32 0x").nth(1)?.get(..8)?;
    u32::from_str_radix(hex, 16).ok()
}

/// What a DomU's shell answered to `command` (typed there for the `nth` time).
fn domu(run: &Run, command: &str, nth: usize) -> String {
    answer_at(run, "domu# ", command, nth)
}

#[test]
fn a_guest_write_outlives_the_guest_and_is_read_back_after_recreate_on_xen_core() {
    write_destroy_recreate_read(On::XenCore);
}

#[test]
fn a_guest_write_outlives_the_guest_and_is_read_back_after_recreate_on_xen_417() {
    write_destroy_recreate_read(On::Xen417);
}

fn write_destroy_recreate_read(on: On) {
    let (path, extents) = image("rw", on);
    let Some(run) = xl_on_with(
        on,
        "create /etc/xen/tests/blk-rw.cfg\n\
         console blkrw\n\
         @wait blk: xvda connected\n\
         blk\n\
         blk write xvda 8 88 7\n\
         @wait wrote xvda 8+88\n\
         ^]\n\
         destroy blkrw\n\
         create /etc/xen/tests/blk-rw.cfg\n\
         console blkrw\n\
         @wait blk: xvda connected\n\
         blk read xvda 8 88\n\
         @wait read xvda 8+88\n\
         ^]\n",
        |s| s.disk(path.clone()),
    ) else {
        return;
    };
    let context = tests::report::context(&run);
    assert!(
        domu(&run, "blk", 0).contains("xvda: 8192 sectors (4 MiB) rw"),
        "{context}"
    );
    let wrote = crc_after(&domu(&run, "blk write xvda 8 88 7", 0), "wrote xvda 8+88")
        .unwrap_or_else(|| panic!("no write checksum\n{context}"));
    let read = crc_after(&domu(&run, "blk read xvda 8 88", 0), "read xvda 8+88")
        .unwrap_or_else(|| panic!("no read checksum\n{context}"));
    let mut want = vec![0u8; 88 * 512];
    fill_pattern(7, 8 * 512, &mut want);
    assert_eq!(wrote, crc32(&want), "the pattern written\n{context}");
    assert_eq!(read, wrote, "read back after recreate\n{context}");
    let on_disk = image_bytes(&path, (extents[0].first + 8) * 512, want.len());
    assert!(
        on_disk == want,
        "the image holds the guest's write at hda1 sector 8"
    );
    let _ = std::fs::remove_file(&path);
}
