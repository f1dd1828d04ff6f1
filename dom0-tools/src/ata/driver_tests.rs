//! Host tests of the ATA driver against the fake disk: commands, LBA28/LBA48, chunking, waits, errors and recovery.

use alloc::vec;

use super::fake_disk::FakeDisk;
use super::{Ata, AtaError, DEFAULT_POLL_BUDGET, LBA28_LIMIT, command, error_bits, status};
use crate::block_store::{BlockError, BlockStore, SECTOR_SIZE};

const MIB_48: u64 = 48 * 2048;

fn open(disk: FakeDisk) -> Ata<FakeDisk> {
    Ata::open(disk, DEFAULT_POLL_BUDGET).unwrap()
}

fn pattern(sectors: usize, seed: u8) -> alloc::vec::Vec<u8> {
    (0..sectors * SECTOR_SIZE)
        .map(|i| (i / 7) as u8 ^ seed)
        .collect()
}

#[test]
fn open_identifies_the_disk_with_interrupts_off() {
    let ata = open(FakeDisk::new("QEMU HARDDISK", MIB_48, false));
    assert_eq!(ata.identity().model(), "QEMU HARDDISK");
    assert_eq!(ata.sectors(), MIB_48);
    assert!(!ata.identity().lba48);
    let disk = ata.into_ports();
    assert!(!disk.interrupts_enabled());
    assert_eq!(disk.commands, [command::IDENTIFY]);
    assert_eq!(disk.irqs, 0);
}

#[test]
fn writes_then_reads_back_across_command_boundaries() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    let data = pattern(300, 0x5a);
    ata.write(1000, &data).unwrap();
    let mut back = vec![0u8; data.len()];
    ata.read(1000, &mut back).unwrap();
    assert_eq!(back, data);
    let disk = ata.into_ports();
    assert_eq!(
        disk.commands,
        [
            command::IDENTIFY,
            command::WRITE_SECTORS,
            command::WRITE_SECTORS,
            command::READ_SECTORS,
            command::READ_SECTORS,
        ]
    );
    assert_eq!(
        disk.requests,
        [(1000, 256), (1256, 44), (1000, 256), (1256, 44)]
    );
    // One data transfer per sector (a `rep insl`/`rep outsl` each), plus IDENTIFY's.
    assert_eq!(disk.data_calls, 2 * 300 + 1);
    assert_eq!(disk.sector(1299)[..], data[299 * 512..]);
}

#[test]
fn a_256_sector_lba28_command_writes_a_zero_count() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    let mut buf = vec![0u8; 256 * SECTOR_SIZE];
    ata.read(0, &mut buf).unwrap();
    assert_eq!(ata.into_ports().requests, [(0, 256)]);
}

#[test]
fn lba48_is_used_only_above_the_lba28_limit() {
    let sectors = LBA28_LIMIT * 4;
    let mut ata = open(FakeDisk::new("BIG", sectors, true));
    assert!(ata.identity().lba48);
    assert_eq!(ata.sectors(), sectors);
    let data = pattern(3, 1);
    // Straddles the limit: sectors 2^28 - 1, 2^28, 2^28 + 1.
    ata.write(LBA28_LIMIT - 1, &data).unwrap();
    ata.write(5, &data[..512]).unwrap();
    let far = sectors - 1;
    ata.write(far, &data[1024..]).unwrap();
    let mut back = vec![0u8; 1536];
    ata.read(LBA28_LIMIT - 1, &mut back).unwrap();
    assert_eq!(back, data);
    let disk = ata.into_ports();
    assert_eq!(
        disk.commands[1..],
        [
            command::WRITE_SECTORS_EXT,
            command::WRITE_SECTORS,
            command::WRITE_SECTORS_EXT,
            command::READ_SECTORS_EXT,
        ]
    );
    assert_eq!(disk.requests[2], (far, 1));
    assert_eq!(disk.sector(LBA28_LIMIT)[..], data[512..1024]);
    assert_eq!(disk.sector(far)[..], data[1024..]);
}

#[test]
fn out_of_range_and_ragged_requests_reach_no_device() {
    let mut ata = open(FakeDisk::new("D", 100, false));
    assert_eq!(
        ata.read(99, &mut [0; 1024]),
        Err(BlockError::OutOfRange {
            sector: 99,
            count: 2,
            sectors: 100
        })
    );
    assert_eq!(
        ata.write(u64::MAX, &[0; 512]),
        Err(BlockError::OutOfRange {
            sector: u64::MAX,
            count: 1,
            sectors: 100
        })
    );
    assert_eq!(
        ata.write(0, &[0; 100]),
        Err(BlockError::BadLength { len: 100 })
    );
    assert_eq!(ata.into_ports().commands, [command::IDENTIFY]);
}

#[test]
fn busy_periods_call_the_wait_hook_and_still_succeed() {
    let mut disk = FakeDisk::new("D", MIB_48, false);
    disk.busy_polls = 3;
    let mut ata = open(disk);
    let data = pattern(4, 9);
    ata.write(10, &data).unwrap();
    ata.flush().unwrap();
    let mut back = vec![0u8; data.len()];
    ata.read(10, &mut back).unwrap();
    assert_eq!(back, data);
    assert!(ata.ports_mut().waits >= 3 * 9);
}

#[test]
fn flush_makes_the_writes_durable() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    ata.write(7, &[0xab; 512]).unwrap();
    assert_eq!(ata.ports_mut().durable(7), [0; 512]);
    ata.flush().unwrap();
    assert_eq!(ata.ports_mut().durable(7), [0xab; 512]);
    assert_eq!(ata.ports_mut().commands.last(), Some(&command::FLUSH_CACHE));
}

#[test]
fn a_read_error_is_decoded_and_the_next_read_works() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    ata.ports_mut().put(11, [3; 512]);
    ata.ports_mut().fail_read_at = Some(12);
    let mut buf = vec![0u8; 4 * SECTOR_SIZE];
    let err = ata.read(10, &mut buf).unwrap_err();
    assert_eq!(
        err,
        BlockError::Device(AtaError::Failed {
            command: command::READ_SECTORS,
            status: status::DRDY | status::ERR,
            error: error_bits::UNC
        })
    );
    assert_eq!(
        err.to_string(),
        "device error: READ SECTORS failed, status 0x41 (DRDY ERR), error 0x40 (UNC: uncorrectable data)"
    );
    ata.read(11, &mut buf[..512]).unwrap();
    assert_eq!(buf[..512], [3; 512]);
}

#[test]
fn a_write_error_stops_at_the_bad_sector() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    ata.ports_mut().fail_write_at = Some(21);
    let err = ata.write(20, &[1; 3 * 512]).unwrap_err();
    assert!(matches!(
        err,
        BlockError::Device(AtaError::Failed {
            command: command::WRITE_SECTORS,
            ..
        })
    ));
    assert_eq!(ata.ports_mut().sector(20), [1; 512]);
    assert_eq!(ata.ports_mut().sector(21), [0; 512]);
}

#[test]
fn a_hung_device_times_out_is_reset_and_works_again() {
    let mut ata = Ata::open(FakeDisk::new("D", MIB_48, false), 50).unwrap();
    ata.ports_mut().hang = true;
    let err = ata.read(0, &mut [0; 512]).unwrap_err();
    assert_eq!(
        err,
        BlockError::Device(AtaError::Timeout {
            command: command::READ_SECTORS,
            status: status::BSY | status::DRDY
        })
    );
    assert_eq!(
        err.to_string(),
        "device error: READ SECTORS timed out, status 0xc0 (BSY DRDY)"
    );
    assert_eq!(ata.ports_mut().waits, 50);
    assert_eq!(ata.ports_mut().resets, 1);
    ata.read(0, &mut [0; 512]).unwrap();
}

#[test]
fn a_block_without_drq_is_an_error_not_a_hang() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    ata.ports_mut().skip_drq = true;
    assert!(matches!(
        ata.write(0, &[0; 512]),
        Err(BlockError::Device(AtaError::NoData {
            command: command::WRITE_SECTORS,
            ..
        }))
    ));
}

#[test]
fn a_device_fault_is_reported() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    ata.ports_mut().fault = true;
    let err = ata.flush().unwrap_err();
    assert_eq!(
        err,
        BlockError::Device(AtaError::Fault {
            command: command::FLUSH_CACHE,
            status: status::DRDY | status::DF
        })
    );
}

#[test]
fn no_device_and_atapi_devices_are_refused() {
    let mut absent = FakeDisk::new("D", 8, false);
    absent.absent = true;
    assert_eq!(
        Ata::open(absent, 10).unwrap_err(),
        AtaError::NoDevice { status: 0 }
    );
    let mut cd = FakeDisk::new("CD", 8, false);
    cd.atapi = true;
    let err = Ata::open(cd, 10).unwrap_err();
    assert_eq!(err, AtaError::NotAta { signature: 0x14eb });
    assert_eq!(err.to_string(), "not an ATA disk (signature 0x14eb)");
}

#[test]
fn with_interrupts_on_every_block_interrupts_and_is_acknowledged() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    ata.set_interrupts(true);
    ata.write(0, &pattern(2, 0)).unwrap();
    ata.read(0, &mut [0; 1024]).unwrap();
    let disk = ata.into_ports();
    assert!(disk.interrupts_enabled());
    // Write: the second block's DRQ and the completion; read: each block's DRQ.
    assert_eq!(disk.irqs, 4);
    assert!(!disk.irq, "the last interrupt was not acknowledged");
}

#[test]
fn a_whole_sector_costs_few_port_accesses() {
    let mut ata = open(FakeDisk::new("D", MIB_48, false));
    let before = ata.ports_mut().accesses;
    ata.read(0, &mut [0; 512]).unwrap();
    let one = ata.ports_mut().accesses - before;
    // Idle check, 5 registers and the command, a PIO-cycle wait, a poll, the data, and the
    // completion (a PIO-cycle wait and a poll).
    assert_eq!(one, 12);
}
