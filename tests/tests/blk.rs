//! Virtual disks end to end: Dom0's blkback on the IDE disk, a DomU's blkfront, driven through the xl shell on xen-core and on Xen 4.17.

#![forbid(unsafe_code)]

use dom0_tools::blk_data::{crc32, fill_pattern};
use tests::disk_test::{crc_after, domu, image, image_bytes};
use tests::xl_session::{On, xl_on_with};

#[test]
fn a_guest_write_outlives_the_guest_and_is_read_back_after_recreate_on_xen_core() {
    write_destroy_recreate_read(On::XenCore);
}

#[test]
fn a_guest_write_outlives_the_guest_and_is_read_back_after_recreate_on_xen_417() {
    write_destroy_recreate_read(On::Xen417);
}

/// The second guest also balloons down to 4 MiB before it reads: its blkfront's page pool
/// stays its own.
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
         ^]\n\
         mem-set blkrw 4m\n\
         console blkrw\n\
         @wait balloon: now\n\
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

#[test]
fn two_guests_share_a_read_only_disk_on_xen_core() {
    shared_read_only(On::XenCore);
}

#[test]
fn two_guests_share_a_read_only_disk_on_xen_417() {
    shared_read_only(On::Xen417);
}

fn shared_read_only(on: On) {
    let (path, extents) = image("ro", on);
    let Some(run) = xl_on_with(
        on,
        "create /etc/xen/tests/blk-ro1.cfg\n\
         create /etc/xen/tests/blk-ro2.cfg\n\
         console ro1\n\
         @wait blk: xvda connected\n\
         blk\n\
         blk sum xvda 0 8192\n\
         @wait sum xvda 0+8192\n\
         blk write xvda 0 8 1\n\
         @wait read-only\n\
         ^]\n\
         console ro2\n\
         @wait blk: xvda connected\n\
         blk sum xvda 0 8192\n\
         @wait sum xvda 0+8192\n\
         ^]\n\
         list\n",
        |s| s.disk(path.clone()),
    ) else {
        return;
    };
    let context = tests::report::context(&run);
    assert!(
        domu(&run, "blk", 0).contains("xvda: 8192 sectors (4 MiB) ro"),
        "{context}"
    );
    let shared = image_bytes(&path, extents[1].first * 512, 8192 * 512);
    let want = crc32(&shared);
    for nth in 0..2 {
        let got = crc_after(&domu(&run, "blk sum xvda 0 8192", nth), "sum xvda 0+8192")
            .unwrap_or_else(|| panic!("no checksum from guest {nth}\n{context}"));
        assert_eq!(
            got, want,
            "guest {nth} reads the shared partition\n{context}"
        );
    }
    assert!(
        domu(&run, "blk write xvda 0 8 1", 0).contains("blk: xvda is read-only"),
        "{context}"
    );
    assert!(
        shared == image_bytes(&path, extents[1].first * 512, 8192 * 512),
        "the shared partition is unchanged"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_disk_is_attached_to_and_detached_from_a_running_guest_on_xen_core() {
    attach_detach(On::XenCore);
}

#[test]
fn a_disk_is_attached_to_and_detached_from_a_running_guest_on_xen_417() {
    attach_detach(On::Xen417);
}

fn attach_detach(on: On) {
    let (path, extents) = image("hotplug", on);
    let Some(run) = xl_on_with(
        on,
        "create /etc/xen/tests/blk-none.cfg\n\
         console plain\n\
         @wait domu: ready\n\
         blk\n\
         @wait blk: no block devices\n\
         ^]\n\
         block-attach plain phy:/dev/hda3,xvdb,w\n\
         block-list plain\n\
         console plain\n\
         @wait blk: xvdb connected\n\
         blk write xvdb 0 16 3\n\
         @wait wrote xvdb 0+16\n\
         ^]\n\
         block-detach plain xvdb\n\
         block-list plain\n\
         console plain\n\
         @wait blk: xvdb closed\n\
         blk\n\
         @wait blk: no block devices\n\
         ^]\n",
        |s| s.disk(path.clone()),
    ) else {
        return;
    };
    let context = tests::report::context(&run);
    assert!(
        domu(&run, "blk", 0).contains("blk: no block devices"),
        "{context}"
    );
    let listed = tests::xl_session::answer(&run, "block-list plain", 0);
    assert!(
        listed.lines().any(|l| l.starts_with("51728 ")),
        "xvdb (51728) listed after block-attach\n{context}"
    );
    let after = tests::xl_session::answer(&run, "block-list plain", 1);
    assert!(
        !after.lines().any(|l| l.starts_with("51728 ")),
        "xvdb gone after block-detach\n{context}"
    );
    assert!(
        domu(&run, "blk", 1).contains("blk: no block devices"),
        "{context}"
    );
    let mut want = vec![0u8; 16 * 512];
    fill_pattern(3, 0, &mut want);
    assert!(
        image_bytes(&path, extents[2].first * 512, want.len()) == want,
        "the hot-plugged disk got the write"
    );
    let _ = std::fs::remove_file(&path);
}
