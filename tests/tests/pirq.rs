//! A disk's IRQ 14 reaches Dom0 as an event channel (map_pirq, bind_pirq, eoi) on xen-core and on Xen 4.17.

#![forbid(unsafe_code)]

use std::fs::{self, File};
use std::path::PathBuf;

use tests::guest_verdict::{succeeds_on_xen_417_with, succeeds_on_xen_core_with};

/// The image size: 4 MiB, 8192 sectors (the guest's default for `pirq.sectors`).
const IMAGE_BYTES: u64 = 4 << 20;

/// A zero-filled raw image of [`IMAGE_BYTES`] under the target directory, one per test.
fn disk_image(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pirq");
    fs::create_dir_all(&dir).expect("create the image directory");
    let path = dir.join(format!("{name}.img"));
    let file = File::create(&path).expect("create the disk image");
    file.set_len(IMAGE_BYTES).expect("size the disk image");
    path
}

fn guest_args() -> String {
    format!("conform=pirq pirq.sectors={}", IMAGE_BYTES / 512)
}

#[test]
fn disk_irq_reaches_dom0_on_xen_core() {
    let disk = disk_image("xen-core");
    let run = succeeds_on_xen_core_with(&guest_args(), |s| s.disk(disk));
    assert!(run.output.contains("PASS pirq.identify"));
    assert!(run.output.contains("PASS pirq.second_event"));
}

#[test]
fn disk_irq_reaches_dom0_on_xen_417() {
    let disk = disk_image("xen-417");
    if let Some(run) = succeeds_on_xen_417_with(&guest_args(), |s| s.disk(disk)) {
        assert!(run.output.contains("PASS pirq.identify"));
        assert!(run.output.contains("PASS pirq.second_event"));
    }
}
