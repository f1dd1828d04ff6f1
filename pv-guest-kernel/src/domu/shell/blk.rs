//! The shell's `blk` commands: list the virtual disks, read, write and checksum sectors, time transfers against memcpy, and play a hostile frontend (`garbage`).
// Checksums are CRC-32 (zlib's; see dom0_tools::blk_data), written patterns come from a seed
// and the disk offset, so a host test can compute both.

use core::hint::black_box;

use dom0_tools::blk_command::{BenchOp, BlkCommand};
use dom0_tools::blk_data::Crc32;
use dom0_tools::blkfront::{
    self, DiskInfo, Op, SECTOR_BYTES, TransferError, TransferStats, WaitError,
};

use crate::arch::x86_64::page_pool::PAGE;
use crate::arch::x86_64::{shared_events, timing};
use crate::console::kprintln;
use crate::domu::blk::device::Device;
use crate::domu::blk::devices::BlkDevices;
use crate::domu::blk::garbage;
use crate::domu::blk::ring_io::{Data, RingIo, WAIT_NS};
use crate::domu::xenbus::Xenbus;

/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;
/// Requests in flight for `read`, `write` and `sum`.
const DEPTH: usize = 32;

/// Runs a `blk` command.
pub fn run(devs: &mut BlkDevices, xb: Option<&mut Xenbus>, cmd: BlkCommand<'_>) {
    let Some(xb) = xb else {
        kprintln!("blk: no xenstore");
        return;
    };
    match cmd {
        BlkCommand::List => list(devs),
        BlkCommand::Read {
            vdev,
            sector,
            count,
        } => data_command(devs, xb, vdev, sector, count, None, "read"),
        BlkCommand::Sum {
            vdev,
            sector,
            count,
        } => data_command(devs, xb, vdev, sector, count, None, "sum"),
        BlkCommand::Write {
            vdev,
            sector,
            count,
            seed,
        } => data_command(devs, xb, vdev, sector, count, Some(seed), "wrote"),
        BlkCommand::Bench {
            vdev,
            mib,
            depth,
            op,
        } => bench(devs, xb, vdev, mib, depth, op),
        BlkCommand::Garbage { vdev } => {
            if let Some((dev, info)) = usable(devs, vdev) {
                garbage::run(dev, xb, info);
            }
        }
    }
}

/// `blk list`: one line per device.
fn list(devs: &BlkDevices) {
    if devs.devices().is_empty() {
        kprintln!("blk: no block devices");
        return;
    }
    for d in devs.devices() {
        match (&d.info, d.connected()) {
            (Some(info), true) => kprintln!(
                "{}: {} sectors ({} MiB) {} ({}{})",
                d.name,
                info.sectors,
                info.bytes() / MIB,
                if info.read_only() { "ro" } else { "rw" },
                d.ours.name(),
                if info.flush { ", flush" } else { "" }
            ),
            _ => kprintln!(
                "{}: not connected (frontend {}, backend {}){}{}",
                d.name,
                d.ours.name(),
                d.theirs.name(),
                if d.problem.is_some() { ": " } else { "" },
                d.problem.as_deref().unwrap_or("")
            ),
        }
    }
}

/// The connected device `vdev` and its disk, or a message saying why not.
fn usable<'d>(devs: &'d mut BlkDevices, vdev: &str) -> Option<(&'d mut Device, DiskInfo)> {
    let Some(dev) = devs.find(vdev) else {
        kprintln!("blk: no device {}", vdev);
        return None;
    };
    match dev.info {
        Some(info) if dev.connected() => Some((dev, info)),
        _ => {
            kprintln!(
                "blk: {} is not connected (frontend {}, backend {})",
                vdev,
                dev.ours.name(),
                dev.theirs.name()
            );
            None
        }
    }
}

/// Whether `sector..sector+count` lies on the disk; says why not.
fn in_range(name: &str, info: &DiskInfo, sector: u64, count: u64) -> bool {
    if sector >= info.sectors {
        kprintln!(
            "blk: sector {} is past the end of {} ({} sectors)",
            sector,
            name,
            info.sectors
        );
        return false;
    }
    if sector.saturating_add(count) > info.sectors {
        kprintln!(
            "blk: sectors {}+{} go past the end of {} ({} sectors)",
            sector,
            count,
            name,
            info.sectors
        );
        return false;
    }
    true
}

/// Says what went wrong; disconnects the device if its ring broke.
fn report(dev: &mut Device, xb: &mut Xenbus, e: TransferError) {
    match e {
        TransferError::Status { status, .. } => kprintln!(
            "blk: {}: I/O error ({})",
            dev.name,
            blkfront::status_name(status)
        ),
        TransferError::Wait(WaitError::Timeout) => kprintln!(
            "blk: {}: no answer from the backend within {} s",
            dev.name,
            WAIT_NS / 1_000_000_000
        ),
        TransferError::Wait(WaitError::Failed(r)) => {
            kprintln!("blk: {}: waiting for the backend failed ({})", dev.name, r)
        }
        TransferError::BadRequest(e) => kprintln!("blk: {}: bad request ({:?})", dev.name, e),
        TransferError::Broken(why) => {
            kprintln!(
                "blk: {}: the backend broke the ring ({}); disconnecting",
                dev.name,
                why
            );
            dev.problem = Some(alloc::format!("ring broken: {why}"));
            dev.close(xb);
        }
    }
}

/// `read`, `sum` (no seed) and `write` (a seed).
fn data_command(
    devs: &mut BlkDevices,
    xb: &mut Xenbus,
    vdev: &str,
    sector: u64,
    count: u64,
    seed: Option<u64>,
    verb: &str,
) {
    let Some((dev, info)) = usable(devs, vdev) else {
        return;
    };
    if seed.is_some() && info.read_only() {
        kprintln!("blk: {} is read-only", vdev);
        return;
    }
    if !in_range(vdev, &info, sector, count) {
        return;
    }
    let Some(conn) = dev.conn.as_mut() else {
        return;
    };
    let (op, data) = match seed {
        Some(seed) => (
            Op::Write,
            Data::Pattern {
                seed,
                disk_offset: sector * SECTOR_BYTES as u64,
                crc: Crc32::new(),
            },
        ),
        None => (
            Op::Read,
            Data::Check {
                crc: Crc32::new(),
                first: [0; 16],
                first_len: 0,
            },
        ),
    };
    let mut io = RingIo::new(&mut conn.link, data);
    let mut result = blkfront::transfer(&mut conn.front, &mut io, op, sector, count, DEPTH);
    if result.is_ok() && op == Op::Write && info.flush {
        result = blkfront::flush(&mut conn.front, &mut io).map(|()| TransferStats::default());
    }
    let data = io.data;
    if let Err(e) = result {
        report(dev, xb, e);
        return;
    }
    match data {
        Data::Pattern { crc, .. } => {
            kprintln!(
                "{} {} {}+{}: crc32 {:#010x}",
                verb,
                vdev,
                sector,
                count,
                crc.value()
            )
        }
        Data::Check {
            crc,
            first,
            first_len,
        } => {
            kprintln!(
                "{} {} {}+{}: crc32 {:#010x}",
                verb,
                vdev,
                sector,
                count,
                crc.value()
            );
            if verb == "read" {
                let mut line = alloc::string::String::new();
                for b in &first[..first_len] {
                    let _ = core::fmt::Write::write_fmt(&mut line, format_args!(" {b:02x}"));
                }
                kprintln!("{} {}:{}", vdev, sector, line);
            }
        }
        Data::Untouched => {}
    }
}

/// Hundredths of `n / d` as `x.yy`.
struct Ratio(u64, u64);

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let h = (self.0 * 100).checked_div(self.1).unwrap_or(0);
        write!(f, "{}.{:02}", h / 100, h % 100)
    }
}

/// `blk bench`: moves `mib` MiB from the start of the disk at queue depth `depth` without
/// touching the data, then copies as many bytes with memcpy, and prints both.
fn bench(devs: &mut BlkDevices, xb: &mut Xenbus, vdev: &str, mib: u64, depth: usize, op: BenchOp) {
    let Some((dev, info)) = usable(devs, vdev) else {
        return;
    };
    let (op, name) = match op {
        BenchOp::Read => (Op::Read, "read"),
        BenchOp::Write => (Op::Write, "write"),
    };
    if op == Op::Write && info.read_only() {
        kprintln!("blk: {} is read-only", vdev);
        return;
    }
    let sectors = mib * MIB / SECTOR_BYTES as u64;
    if !in_range(vdev, &info, 0, sectors) {
        return;
    }
    let Some(conn) = dev.conn.as_mut() else {
        return;
    };
    let events_before = conn.link.events;
    let t0 = shared_events::system_time_ns().unwrap_or(0);
    let c0 = timing::now();
    let mut io = RingIo::new(&mut conn.link, Data::Untouched);
    let result = blkfront::transfer(&mut conn.front, &mut io, op, 0, sectors, depth);
    let cycles = timing::now().wrapping_sub(c0);
    let ns = shared_events::system_time_ns()
        .unwrap_or(0)
        .saturating_sub(t0);
    let received = conn.link.events - events_before;
    let stats = match result {
        Ok(s) => s,
        Err(e) => {
            report(dev, xb, e);
            return;
        }
    };
    kprintln!(
        "bench {} {} {} MiB qd={}: {} requests, {} bytes, {} tsc, {} ns, notifications {} sent ({}/request), {} received ({}/request)",
        vdev,
        name,
        mib,
        depth,
        stats.requests,
        stats.bytes,
        cycles,
        ns,
        stats.notifications,
        Ratio(stats.notifications, stats.requests),
        received,
        Ratio(received, stats.requests)
    );
    let (bytes, copy_cycles) = memcpy(stats.bytes);
    kprintln!("bench memcpy {} bytes: {} tsc", bytes, copy_cycles);
    // The same two figures for `cargo xtask bench` (xtask/src/bench_io.rs parses them):
    // instructions per request and per copied page, with the totals.
    kprintln!(
        "BENCH blk_{}_{}_qd{} insns={} n={} bytes={} tsc={} sent={} received={}",
        vdev,
        name,
        depth,
        Ratio(cycles, stats.requests),
        stats.requests,
        stats.bytes,
        cycles,
        stats.notifications,
        received
    );
    let pages = bytes / PAGE as u64;
    kprintln!(
        "BENCH blk_{}_{}_qd{}_memcpy insns={} n={} bytes={} tsc={}",
        vdev,
        name,
        depth,
        Ratio(copy_cycles, pages),
        pages,
        bytes,
        copy_cycles
    );
}

/// Copies `bytes` bytes page by page between two buffers; the bytes and the TSC ticks.
fn memcpy(bytes: u64) -> (u64, u64) {
    let src = [0x5Au8; PAGE];
    let mut dst = [0u8; PAGE];
    let pages = bytes / PAGE as u64;
    let c0 = timing::now();
    for _ in 0..pages {
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
    }
    (pages * PAGE as u64, timing::now().wrapping_sub(c0))
}
