//! Dom0 drives the physical IDE disk (`disk=selftest`) on xen-core and on Xen 4.17; the host then finds the sector it wrote in the image.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use tests::guest_verdict::{succeeds_on_xen_417_with, succeeds_on_xen_core_with};
use xtask::disk_image::{self, Extent, PartitionSpec};
use xtask::qemu::Run;

/// The seed of hda2's fill, which the self-test only reads.
const SEED: u8 = 0x5a;

/// A fresh 5 MiB image for one test: hda1 1 MiB, hda2 2 MiB filled, hda3 1 MiB.
fn image(name: &str) -> (PathBuf, Vec<Extent>) {
    let dir = xtask::paths::target_dir()
        .expect("the target directory")
        .join("test-disks");
    let path = dir.join(format!("{name}-{}.img", std::process::id()));
    let specs = [
        PartitionSpec {
            size_mib: 1,
            fill: None,
        },
        PartitionSpec {
            size_mib: 2,
            fill: Some(SEED),
        },
        PartitionSpec {
            size_mib: 1,
            fill: None,
        },
    ];
    let extents = disk_image::create(&path, &specs).expect("the test disk image");
    (path, extents)
}

/// What the self-test writes to disk sector `sector` (pv-guest-kernel's
/// `dom0::disk::selftest::pattern`): "pv-disk-selftest", the sector number, then i * 7 + 3.
fn selftest_pattern(sector: u64) -> [u8; 512] {
    let mut out = [0u8; 512];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(3);
    }
    out[..16].copy_from_slice(b"pv-disk-selftest");
    out[16..24].copy_from_slice(&sector.to_le_bytes());
    out
}

/// The console lines and the image after the run: the disk announced, the last sector of
/// hda3 holding the pattern, everything else as created.
fn check_disk(run: &Run, path: &PathBuf, extents: &[Extent]) {
    let context = tests::report::context(run);
    assert!(
        run.output
            .contains("hda: QEMU HARDDISK, 10240 sectors (5 MiB)"),
        "no identify line\n{context}"
    );
    assert!(
        run.output
            .lines()
            .any(|l| l.trim_end() == "hda: hda1 hda2 hda3"),
        "no partition line\n{context}"
    );
    let hda3 = extents[2];
    let last = hda3.end() - 1;
    let sector = disk_image::read_sector(path, last).unwrap();
    assert_eq!(
        sector,
        selftest_pattern(last),
        "sector {last} of the image does not hold what Dom0 wrote"
    );
    assert_eq!(disk_image::read_sector(path, last - 1).unwrap(), [0; 512]);
    let hda2 = extents[1];
    for s in [0, hda2.sectors - 1] {
        assert_eq!(
            disk_image::read_sector(path, hda2.first + s).unwrap(),
            disk_image::fill_sector(SEED, s),
            "hda2 sector {s} changed"
        );
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn dom0_reads_and_writes_the_ide_disk_on_xen_core() {
    let (path, extents) = image("xen-core");
    let disk = path.clone();
    let run = succeeds_on_xen_core_with("disk=selftest", |s| s.disk(disk));
    check_disk(&run, &path, &extents);
}

#[test]
fn dom0_reads_and_writes_the_ide_disk_on_xen_417() {
    let (path, extents) = image("xen-417");
    let disk = path.clone();
    if let Some(run) = succeeds_on_xen_417_with("disk=selftest", |s| s.disk(disk)) {
        check_disk(&run, &path, &extents);
    } else {
        let _ = std::fs::remove_file(&path);
    }
}
