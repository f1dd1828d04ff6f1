//! Dom0's blkback against misbehaving frontends: malformed requests and a corrupt ring from a hostile guest, and a guest destroyed in the middle of its I/O, on xen-core and on Xen 4.17.

#![forbid(unsafe_code)]

use tests::disk_test::{SHARED_SEED, crcs_after, image, image_bytes};
use tests::xl_session::{On, answer, listed, xl_on_with};

use dom0_tools::blk_data::crc32;
use xtask::disk_image::fill_sector;

/// Sectors of each partition of the test image (4 MiB).
const PART_SECTORS: u64 = 8192;

/// Requests of one `blk bench xvda 4`: 4 MiB in requests of 11 pages.
const BENCH_REQUESTS: u64 = (4u64 << 20).div_ceil(11 * 4096);

/// What `blk garbage` must print for each hostile request, in order.
const GARBAGE: &[(&str, &str)] = &[
    ("read into grant 0xdead (never granted)", "BLKIF_RSP_ERROR"),
    ("write from grant 0xdead (never granted)", "BLKIF_RSP_ERROR"),
    ("write whose 2nd segment is grant 0xdead", "BLKIF_RSP_ERROR"),
    ("read 4 sectors past the end of the disk", "BLKIF_RSP_ERROR"),
    (
        "write 4 sectors past the end of the disk",
        "BLKIF_RSP_ERROR",
    ),
    ("write at sector 2^64-4", "BLKIF_RSP_ERROR"),
    ("read with nr_segments 0", "BLKIF_RSP_ERROR"),
    ("read with nr_segments 12", "BLKIF_RSP_ERROR"),
    ("read with first_sect 5 > last_sect 2", "BLKIF_RSP_ERROR"),
    ("read with last_sect 8", "BLKIF_RSP_ERROR"),
    ("write with last_sect 8", "BLKIF_RSP_ERROR"),
    ("operation 0x7f", "BLKIF_RSP_EOPNOTSUPP"),
    ("read into a page granted read-only", "BLKIF_RSP_ERROR"),
];

/// Blkback's lines saying something failed (unmapping the ring, closing...).
fn blkback_failures(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.starts_with("blkback: ") && l.contains("failed"))
        .collect()
}

/// The id of `name` in an `xl list` answer.
fn domid_of(list: &str, name: &str) -> Option<u32> {
    listed(list)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, id, _)| id)
}

#[test]
fn a_hostile_frontend_gets_errors_then_is_disconnected_and_harms_nobody_on_xen_core() {
    hostile_frontend(On::XenCore);
}

#[test]
fn a_hostile_frontend_gets_errors_then_is_disconnected_and_harms_nobody_on_xen_417() {
    hostile_frontend(On::Xen417);
}

/// Guest `ro1` checksums the shared read-only hda2 before and after guest `hostile` (on hda1,
/// right before it) runs `blk garbage`; Dom0 keeps answering, and the hostile guest is
/// destroyed cleanly. (Lines typed right after attaching to a console, or after a command
/// whose events redraw the prompt, are followed by an `@wait` for their answer: the replayed
/// history and the redrawn prompt end in `# ` before the answer comes.)
fn hostile_frontend(on: On) {
    let (path, extents) = image("hostile", on);
    let Some(run) = xl_on_with(
        on,
        "create /etc/xen/tests/blk-ro1.cfg\n\
         console ro1\n\
         @wait blk: xvda connected\n\
         blk sum xvda 0 8192\n\
         @wait sum xvda 0+8192: crc32\n\
         ^]\n\
         create /etc/xen/tests/hostile.cfg\n\
         console hostile\n\
         @wait blk: xvda connected\n\
         blk garbage xvda\n\
         @wait garbage: backend disconnected\n\
         blk\n\
         @wait xvda: not connected\n\
         ^]\n\
         list\n\
         console ro1\n\
         blk read xvda 0 8192\n\
         @wait read xvda 0+8192: crc32\n\
         ^]\n\
         destroy hostile\n\
         list\n\
         destroy ro1\n\
         list\n",
        |s| s.disk(path.clone()),
    ) else {
        return;
    };
    let context = tests::report::context(&run);
    let out = run.output.replace('\r', "");

    // Every hostile request got the status blkif.h says, nothing else was touched.
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("garbage: ")).collect();
    for (what, status) in GARBAGE {
        let want = format!("garbage: {what}: response {status}");
        assert!(
            lines.iter().any(|l| *l == want),
            "{on:?}: no `{want}`\n{}\n{context}",
            lines.join("\n")
        );
    }
    for want in [
        "garbage: the read-only granted page is intact",
        "garbage: disk unchanged (crc32 0x",
        "garbage: 13 requests, 0 unexpected outcomes",
        "garbage: backend disconnected (backend Clos",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "{on:?}: no `{want}`\n{}\n{context}",
            lines.join("\n")
        );
    }
    assert_eq!(GARBAGE.len(), 13, "the count in the summary line");

    // Dom0 said why it dropped the frontend, and the frontend followed it down.
    let hostile = domid_of(&answer(&run, "list", 0), "hostile")
        .unwrap_or_else(|| panic!("{on:?}: no hostile guest listed\n{context}"));
    let dropped = format!("blkback: vbd {hostile}/51712: ring index out of range (req_prod ");
    assert!(out.contains(&dropped), "{on:?}: no `{dropped}`\n{context}");
    assert!(
        out.contains(&format!("blkback: vbd {hostile}/51712 Closed")),
        "{on:?}: the backend did not reach Closed\n{context}"
    );
    assert!(
        out.contains("xvda: not connected (frontend Closed, backend Clos"),
        "{on:?}: the frontend is not closed\n{context}"
    );

    let failures = blkback_failures(&out);
    assert!(failures.is_empty(), "{on:?}: {failures:?}\n{context}");

    // The other guest read the same bytes before and after, and they are the image's.
    let sums = [
        crcs_after(&out, "sum xvda 0+8192: crc32"),
        crcs_after(&out, "read xvda 0+8192: crc32"),
    ]
    .concat();
    let fill: Vec<u8> = (0..PART_SECTORS)
        .flat_map(|s| fill_sector(SHARED_SEED, s))
        .collect();
    let want = crc32(&fill);
    assert!(sums.len() >= 2, "{on:?}: ro1's sums {sums:x?}\n{context}");
    assert!(
        sums.iter().all(|&s| s == want),
        "{on:?}: ro1 read {sums:x?}, the fill's crc32 is {want:#x}\n{context}"
    );
    // Nothing reached the disk: hda1 is still zeroes, hda2 still its fill.
    let hda1 = image_bytes(&path, extents[0].first * 512, PART_SECTORS as usize * 512);
    assert!(
        hda1.iter().all(|&b| b == 0),
        "{on:?}: a refused write reached hda1"
    );
    let hda2 = image_bytes(&path, extents[1].first * 512, PART_SECTORS as usize * 512);
    assert!(hda2 == fill, "{on:?}: hda2 changed");

    // Dom0 kept answering, and the hostile guest is gone after destroy (on Xen 4.17 a domain
    // whose page Dom0 still mapped would stay a zombie and destroy would fail).
    let during = listed(&answer(&run, "list", 0));
    assert!(
        during.iter().any(|(n, _, _)| n == "hostile") && during.iter().any(|(n, _, _)| n == "ro1"),
        "{on:?}: list while the hostile guest runs: {during:?}\n{context}"
    );
    let destroyed = answer(&run, "destroy hostile", 0);
    assert!(
        !destroyed.contains("libxl: error"),
        "{on:?}: destroy hostile: {destroyed}\n{context}"
    );
    let after = listed(&answer(&run, "list", 1));
    assert!(
        !after.iter().any(|(n, _, _)| n == "hostile") && after.iter().any(|(n, _, _)| n == "ro1"),
        "{on:?}: list after destroying the hostile guest: {after:?}\n{context}"
    );
    let last = listed(&answer(&run, "list", 2));
    assert!(
        last.iter().all(|(n, _, _)| n == "Domain-0"),
        "{on:?}: list at the end: {last:?}\n{context}"
    );
    if let On::XenCore = on {
        let freed = format!("Domain {hostile} destroyed: every frame returned");
        assert!(out.contains(&freed), "no `{freed}`\n{context}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_guest_destroyed_in_the_middle_of_its_io_leaves_dom0_well_on_xen_core() {
    destroyed_mid_io(On::XenCore);
}

#[test]
fn a_guest_destroyed_in_the_middle_of_its_io_leaves_dom0_well_on_xen_417() {
    destroyed_mid_io(On::Xen417);
}

/// A guest reading at queue depth 32 is destroyed while its requests are in flight (four
/// benches typed ahead; the destroy follows the first one's result): Dom0 survives, lets go of
/// its ring, and the domain is gone.
fn destroyed_mid_io(on: On) {
    let (path, _) = image("midio", on);
    let Some(run) = xl_on_with(
        on,
        "create /etc/xen/tests/hostile.cfg\n\
         console hostile\n\
         @wait blk: xvda connected\n\
         @send blk bench xvda 4 qd=32 read\n\
         @send blk bench xvda 4 qd=32 read\n\
         @send blk bench xvda 4 qd=32 read\n\
         @send blk bench xvda 4 qd=32 read\n\
         @wait bench xvda read 4 MiB qd=32: \n\
         ^]\n\
         destroy hostile\n\
         list\n",
        |s| s.disk(path.clone()),
    ) else {
        return;
    };
    let context = tests::report::context(&run);
    let out = run.output.replace('\r', "");
    let destroyed = answer(&run, "destroy hostile", 0);
    assert!(
        !destroyed.contains("libxl: error"),
        "{on:?}: destroy hostile: {destroyed}\n{context}"
    );
    let rows = listed(&answer(&run, "list", 0));
    assert!(
        rows.iter().all(|(n, _, _)| n == "Domain-0") && !rows.is_empty(),
        "{on:?}: list after destroy: {rows:?}\n{context}"
    );
    // The backend let go of the ring when the guest went (its teardown line).
    let failures = blkback_failures(&out);
    assert!(failures.is_empty(), "{on:?}: {failures:?}\n{context}");
    let teardown = out.lines().find(|l| {
        l.starts_with("blkback: vbd ") && l.contains("/51712: ") && l.contains(" requests, ")
    });
    assert!(
        teardown.is_some(),
        "{on:?}: no teardown line from blkback\n{context}"
    );
    eprintln!("{on:?}: {}", teardown.unwrap_or_default());
    // The first bench finished (94 requests of at most 44 KiB), the fourth did not: the
    // destroy came while the guest had requests queued.
    let requests: u64 = teardown
        .and_then(|l| l.split("/51712: ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        (BENCH_REQUESTS..4 * BENCH_REQUESTS).contains(&requests),
        "{on:?}: {requests} requests served before the destroy\n{context}"
    );
    if let On::XenCore = on {
        assert!(
            out.contains("destroyed: every frame returned"),
            "no `every frame returned`\n{context}"
        );
    }
    let _ = std::fs::remove_file(&path);
}
