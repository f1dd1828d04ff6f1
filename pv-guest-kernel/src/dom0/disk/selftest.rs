//! `disk=selftest`: Dom0 opens the disk, checks its partition table, writes, flushes and reads back the last sector of a partition, and times a large read.
// The sector written is the last of hda3 (or of the last partition if there is no hda3); its
// contents are `pattern(disk sector)`, which the integration test finds in the image file on
// the host after QEMU exits: 16 bytes "pv-disk-selftest", the disk sector number (8 bytes,
// little-endian), then byte i = i * 7 + 3 (mod 256).

use alloc::vec::Vec;

use dom0_tools::block_store::{BlockError, BlockStore, Region, SECTOR_SIZE};
use dom0_tools::mbr::Partition;
use hypercall_abi::start_info::StartInfo;

use super::irq;
use super::open::{self, Disk};
use crate::arch::x86_64::{shared_events, xen};
use crate::conform_mm::guest;
use crate::console::kprintln;
use crate::dom0::scenario::{ensure, step};
use crate::selftest::report::{Detail, Outcome, Report};

/// The self-test's name on the console.
const NAME: &str = "disk=selftest";
/// The magic the written sector starts with.
pub const MAGIC: &[u8; 16] = b"pv-disk-selftest";
/// Sectors of the timed read (1 MiB).
const TIMED_SECTORS: u64 = 2048;
/// Sectors per read call of the timed read (64 KiB: the heap is 128 KiB).
const CHUNK_SECTORS: u64 = 128;

/// Runs the disk self-test as Dom0, prints the verdict and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run(NAME, start_info, p2m, |_, report| checks(report))
}

/// The pattern written to disk sector `sector`.
pub fn pattern(sector: u64) -> [u8; SECTOR_SIZE] {
    let mut out = [0u8; SECTOR_SIZE];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(3);
    }
    out[..16].copy_from_slice(MAGIC);
    out[16..24].copy_from_slice(&sector.to_le_bytes());
    out
}

/// The driver's wait between status polls: give the CPU away.
fn yield_cpu() {
    let _ = xen::sched_yield();
}

fn detail(e: BlockError) -> Detail {
    Detail::new(format_args!("{e}"))
}

fn checks(report: &mut Report) {
    let Some(mut disk) = step(
        report,
        "disk.open",
        open::open().ok_or_else(|| Detail::new(format_args!("no disk (see the hda: line)"))),
    ) else {
        return;
    };
    // The driver blocks on the disk's interrupt (other domains run meanwhile); if it cannot
    // be routed, it polls and yields.
    disk.ata.ports_mut().set_wait(yield_cpu);
    report.check(
        "disk.irq",
        irq::enable(&mut disk)
            .map(|_| ())
            .map_err(|(what, e)| Detail::new(format_args!("{what} returned {e}"))),
    );
    let sectors = disk.ata.sectors();
    report.check(
        "disk.identify",
        ensure(
            sectors > 0 && !disk.ata.identity().model().is_empty(),
            format_args!("model '{}', {sectors} sectors", disk.ata.identity().model()),
        ),
    );
    let Some(parts) = step(report, "disk.partitions", partitions(&disk)) else {
        return;
    };
    report.check("disk.names", names(&disk, &parts));
    let target = parts
        .iter()
        .find(|p| p.number == 3)
        .or(parts.last())
        .copied();
    if let Some(target) = target {
        report.check("disk.bounds", bounds(&mut disk, &target));
        report.check("disk.write_flush_read", write_back(&mut disk, &target));
    }
    if let Some(first) = parts.first() {
        report.check("disk.large_read", large_read(&mut disk, first));
    }
}

/// The used partitions (at least one).
fn partitions(disk: &Disk) -> Result<Vec<Partition>, Detail> {
    let Some(mbr) = disk.mbr.as_ref() else {
        return Err(Detail::new(format_args!("no usable partition table")));
    };
    let parts: Vec<Partition> = mbr.partitions().copied().collect();
    if parts.is_empty() {
        return Err(Detail::new(format_args!("the partition table is empty")));
    }
    Ok(parts)
}

/// `/dev/hdaN` resolves to each partition's extent and `/dev/hda` to the disk.
fn names(disk: &Disk, parts: &[Partition]) -> Outcome {
    let whole = disk.names.resolve("/dev/hda");
    ensure(
        whole == Some((0, disk.ata.sectors())),
        format_args!("/dev/hda is {whole:?}"),
    )?;
    for p in parts {
        let name = dom0_tools::disk_names::PARTITIONS[usize::from(p.number) - 1];
        let got = disk.names.resolve(name);
        ensure(
            got == Some((p.first, p.sectors)),
            format_args!(
                "{name} is {got:?}, the table says {}+{}",
                p.first, p.sectors
            ),
        )?;
    }
    Ok(())
}

/// A partition view refuses the sector just past its end.
fn bounds(disk: &mut Disk, part: &Partition) -> Outcome {
    let mut region = Region::new(&mut disk.ata, part.first, part.sectors).map_err(detail)?;
    let mut buf = [0u8; SECTOR_SIZE];
    match region.read(part.sectors, &mut buf) {
        Err(BlockError::OutOfRange { .. }) => Ok(()),
        other => Err(Detail::new(format_args!(
            "a read past hda{} gave {other:?}",
            part.number
        ))),
    }
}

/// Writes the pattern to the partition's last sector, flushes, reads it back.
fn write_back(disk: &mut Disk, part: &Partition) -> Outcome {
    let last = part.sectors - 1;
    let at = part.first + last;
    let want = pattern(at);
    let mut region = Region::new(&mut disk.ata, part.first, part.sectors).map_err(detail)?;
    region.write(last, &want).map_err(detail)?;
    region.flush().map_err(detail)?;
    let mut got = [0u8; SECTOR_SIZE];
    region.read(last, &mut got).map_err(detail)?;
    ensure(
        got == want,
        format_args!("sector {at} read back differs from what was written"),
    )?;
    kprintln!(
        "disk: wrote, flushed and read back sector {} of hda{} (disk sector {})",
        last,
        part.number,
        at
    );
    Ok(())
}

/// Reads up to 1 MiB of the partition in 64 KiB calls (the heap is small), times it, and
/// checks sampled sectors of the first call against single-sector reads.
fn large_read(disk: &mut Disk, part: &Partition) -> Outcome {
    let count = part.sectors.min(TIMED_SECTORS);
    let chunk = CHUNK_SECTORS.min(count);
    let len = chunk as usize * SECTOR_SIZE;
    let mut buf = Vec::new();
    buf.try_reserve_exact(len)
        .map_err(|_| Detail::new(format_args!("no memory for {len} bytes")))?;
    buf.resize(len, 0);
    let mut region = Region::new(&mut disk.ata, part.first, part.sectors).map_err(detail)?;
    let _ = shared_events::map();
    let start = shared_events::system_time_ns();
    let mut at = 0;
    while at + chunk <= count {
        region.read(at, &mut buf).map_err(detail)?;
        at += chunk;
    }
    let end = shared_events::system_time_ns();
    if let (Some(start), Some(end)) = (start, end) {
        let us = (end.saturating_sub(start) / 1000).max(1);
        kprintln!(
            "disk: read {} KiB of hda{} in {} ms ({} KiB/s)",
            at * SECTOR_SIZE as u64 / 1024,
            part.number,
            us / 1000,
            (at * SECTOR_SIZE as u64 / 1024) * 1_000_000 / us
        );
    }
    region.read(0, &mut buf).map_err(detail)?;
    for s in [0, 1, chunk / 2, chunk - 1] {
        let mut one = [0u8; SECTOR_SIZE];
        region.read(s, &mut one).map_err(detail)?;
        let at = s as usize * SECTOR_SIZE;
        ensure(
            one[..] == buf[at..at + SECTOR_SIZE],
            format_args!("sector {s} differs between a large and a single read"),
        )?;
    }
    Ok(())
}
