//! A model of an ATA disk behind the primary channel's ports, for host tests: it checks the register protocol and injects errors.
// What it checks (a violation panics, failing the test): command block registers are written
// only while neither BSY nor DRQ is set; the data register is used only while DRQ is set and
// never past a block; read and write commands select the master in LBA mode. What it models:
// the status register shows its old value until the alternate status register has been read
// once after a command or a block (the 400 ns a real device needs), BSY for a configurable
// number of status polls, the LBA48 "previous" register bytes, a write cache that FLUSH CACHE
// makes durable, the interrupt line and its acknowledgement, and a software reset.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::identify;
use super::{AtaPorts, Reg, command, control, error_bits, status};
use crate::block_store::SECTOR_SIZE;

/// What happens when BSY clears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    /// The next block of a data-in command is ready.
    BlockIn,
    /// The device is ready for the next block of a data-out command.
    BlockOut,
    /// A data-out block arrived: store it.
    Stored,
    /// The command is over with this status and error.
    Done(u8, u8),
    /// FLUSH CACHE finished.
    Flushed,
}

/// A data command in progress.
#[derive(Clone, Debug)]
struct Xfer {
    identify: bool,
    write: bool,
    lba: u64,
    left: u64,
    block: [u8; SECTOR_SIZE],
    pos: usize,
}

/// The disk.
#[derive(Debug)]
pub struct FakeDisk {
    sectors: u64,
    lba48: bool,
    model: &'static str,
    media: BTreeMap<u64, [u8; SECTOR_SIZE]>,
    cache: BTreeMap<u64, [u8; SECTOR_SIZE]>,
    cur: [u8; 8],
    prev: [u8; 8],
    status: u8,
    error: u8,
    control: u8,
    stale: Option<u8>,
    busy_left: u32,
    then: Option<Then>,
    xfer: Option<Xfer>,
    /// Status polls each busy period lasts.
    pub busy_polls: u32,
    /// Reads reaching this sector fail (UNC).
    pub fail_read_at: Option<u64>,
    /// Writes reaching this sector fail (UNC after the block arrives).
    pub fail_write_at: Option<u64>,
    /// The next command never leaves BSY (until a reset).
    pub hang: bool,
    /// Data commands end their first busy period with neither DRQ nor an error.
    pub skip_drq: bool,
    /// Commands end with a device fault.
    pub fault: bool,
    /// No device: every read is 0, writes are dropped.
    pub absent: bool,
    /// An ATAPI device: IDENTIFY DEVICE is aborted with the packet signature.
    pub atapi: bool,
    /// The interrupt line.
    pub irq: bool,
    /// Interrupts raised so far.
    pub irqs: u32,
    /// Calls of `wait_ready`.
    pub waits: u32,
    /// Commands written, in order.
    pub commands: Vec<u8>,
    /// `(lba, count)` of each read or write command.
    pub requests: Vec<(u64, u64)>,
    /// Calls of `read_data` and `write_data`.
    pub data_calls: u32,
    /// Software resets done.
    pub resets: u32,
    /// Port accesses of any kind (each would be a trap in a PV guest).
    pub accesses: u32,
}

impl FakeDisk {
    /// A zeroed disk of `sectors` sectors (stored sparsely), LBA48 or not.
    pub fn new(model: &'static str, sectors: u64, lba48: bool) -> Self {
        FakeDisk {
            sectors,
            lba48,
            model,
            media: BTreeMap::new(),
            cache: BTreeMap::new(),
            cur: [0; 8],
            prev: [0; 8],
            status: status::DRDY,
            error: 0,
            control: 0,
            stale: None,
            busy_left: 0,
            then: None,
            xfer: None,
            busy_polls: 0,
            fail_read_at: None,
            fail_write_at: None,
            hang: false,
            skip_drq: false,
            fault: false,
            absent: false,
            atapi: false,
            irq: false,
            irqs: 0,
            waits: 0,
            commands: Vec::new(),
            requests: Vec::new(),
            data_calls: 0,
            resets: 0,
            accesses: 0,
        }
    }

    /// Sector `lba` as a read would see it (the cache first).
    pub fn sector(&self, lba: u64) -> [u8; SECTOR_SIZE] {
        self.cache
            .get(&lba)
            .or_else(|| self.media.get(&lba))
            .copied()
            .unwrap_or([0; SECTOR_SIZE])
    }

    /// Sector `lba` as the medium holds it (what survives a power cut).
    pub fn durable(&self, lba: u64) -> [u8; SECTOR_SIZE] {
        self.media.get(&lba).copied().unwrap_or([0; SECTOR_SIZE])
    }

    /// Puts `data` in sector `lba` of the medium.
    pub fn put(&mut self, lba: u64, data: [u8; SECTOR_SIZE]) {
        self.media.insert(lba, data);
    }

    /// Whether interrupts are enabled (nIEN clear).
    pub fn interrupts_enabled(&self) -> bool {
        self.control & control::NIEN == 0
    }

    fn raise(&mut self) {
        if self.interrupts_enabled() {
            self.irq = true;
            self.irqs += 1;
        }
    }

    /// The device goes busy; `then` happens when it clears. Status keeps showing `old`
    /// until the alternate status is read.
    fn go_busy(&mut self, then: Then) {
        self.stale = Some(self.status);
        self.status = status::BSY | status::DRDY;
        self.busy_left = self.busy_polls;
        self.then = Some(then);
    }

    fn done(&mut self, st: u8, err: u8) {
        self.status = st;
        self.error = err;
        self.xfer = None;
        self.raise();
    }

    fn resolve(&mut self) {
        let Some(then) = self.then.take() else {
            return;
        };
        let fault = if self.fault { status::DF } else { 0 };
        match then {
            Then::Done(st, err) => self.done(st | fault, err),
            Then::Flushed => {
                let cache = core::mem::take(&mut self.cache);
                self.media.extend(cache);
                self.done(status::DRDY | fault, 0);
            }
            Then::BlockIn | Then::BlockOut if self.skip_drq => self.done(status::DRDY, 0),
            Then::BlockIn => {
                let x = self.xfer.as_ref().expect("a data-in command");
                let block = if x.identify {
                    identify::sample(self.model, self.sectors, self.lba48)
                } else if self.fail_read_at == Some(x.lba) {
                    return self.done(status::DRDY | status::ERR, error_bits::UNC);
                } else {
                    self.sector(x.lba)
                };
                let x = self.xfer.as_mut().expect("a data-in command");
                x.block = block;
                x.pos = 0;
                self.status = status::DRDY | status::DRQ;
                self.raise();
            }
            Then::BlockOut => {
                self.status = status::DRDY | status::DRQ;
            }
            Then::Stored => {
                let x = self.xfer.as_mut().expect("a data-out command");
                if self.fail_write_at == Some(x.lba) {
                    return self.done(status::DRDY | status::ERR, error_bits::UNC);
                }
                let (lba, block) = (x.lba, x.block);
                x.lba += 1;
                x.left -= 1;
                x.pos = 0;
                let more = x.left > 0;
                self.cache.insert(lba, block);
                if more {
                    self.status = status::DRDY | status::DRQ;
                    self.raise();
                } else {
                    self.done(status::DRDY | fault, 0);
                }
            }
        }
    }

    fn read_status(&mut self) -> u8 {
        if let Some(old) = self.stale {
            return old;
        }
        if self.status & status::BSY != 0 && !self.hang {
            if self.busy_left == 0 {
                self.resolve();
            } else {
                self.busy_left -= 1;
            }
        }
        self.status
    }

    fn command(&mut self, cmd: u8) {
        self.commands.push(cmd);
        let abort = Then::Done(status::DRDY | status::ERR, error_bits::ABRT);
        match cmd {
            command::IDENTIFY if self.atapi => {
                self.cur[4] = 0x14;
                self.cur[5] = 0xeb;
                self.go_busy(abort);
            }
            command::IDENTIFY => {
                self.xfer = Some(Xfer {
                    identify: true,
                    write: false,
                    lba: 0,
                    left: 1,
                    block: [0; SECTOR_SIZE],
                    pos: 0,
                });
                self.go_busy(Then::BlockIn);
            }
            command::READ_SECTORS
            | command::READ_SECTORS_EXT
            | command::WRITE_SECTORS
            | command::WRITE_SECTORS_EXT => {
                let ext = matches!(cmd, command::READ_SECTORS_EXT | command::WRITE_SECTORS_EXT);
                let device = self.cur[6];
                assert!(
                    device & 0x40 != 0,
                    "read/write without LBA mode: {device:#x}"
                );
                assert!(device & 0x10 == 0, "read/write selects the slave");
                let (lba, count) = if ext {
                    assert!(self.lba48, "an EXT command to a disk without LBA48");
                    let lba = u64::from_le_bytes([
                        self.cur[3],
                        self.cur[4],
                        self.cur[5],
                        self.prev[3],
                        self.prev[4],
                        self.prev[5],
                        0,
                        0,
                    ]);
                    let n = u64::from(u16::from_le_bytes([self.cur[2], self.prev[2]]));
                    (lba, if n == 0 { 65536 } else { n })
                } else {
                    let lba = u64::from_le_bytes([
                        self.cur[3],
                        self.cur[4],
                        self.cur[5],
                        device & 0x0f,
                        0,
                        0,
                        0,
                        0,
                    ]);
                    let n = u64::from(self.cur[2]);
                    (lba, if n == 0 { 256 } else { n })
                };
                self.requests.push((lba, count));
                if lba + count > self.sectors {
                    self.go_busy(Then::Done(status::DRDY | status::ERR, error_bits::IDNF));
                    return;
                }
                let write = matches!(cmd, command::WRITE_SECTORS | command::WRITE_SECTORS_EXT);
                self.xfer = Some(Xfer {
                    identify: false,
                    write,
                    lba,
                    left: count,
                    block: [0; SECTOR_SIZE],
                    pos: 0,
                });
                self.go_busy(if write { Then::BlockOut } else { Then::BlockIn });
            }
            command::FLUSH_CACHE => self.go_busy(Then::Flushed),
            _ => self.go_busy(abort),
        }
    }
}

impl AtaPorts for FakeDisk {
    fn inb(&mut self, reg: Reg) -> u8 {
        self.accesses += 1;
        if self.absent {
            return 0;
        }
        match reg {
            Reg::ErrorFeatures => self.error,
            Reg::StatusCommand => {
                let s = self.read_status();
                if self.stale.is_none() {
                    self.irq = false;
                }
                s
            }
            r => self.cur[r as usize],
        }
    }

    fn outb(&mut self, reg: Reg, value: u8) {
        self.accesses += 1;
        if self.absent {
            return;
        }
        assert!(
            self.status & (status::BSY | status::DRQ) == 0 && self.stale.is_none(),
            "{reg:?} written while the device shows {:#x} (stale: {:?})",
            self.status,
            self.stale
        );
        let r = reg as usize;
        match reg {
            Reg::StatusCommand => self.command(value),
            Reg::SectorCount | Reg::LbaLow | Reg::LbaMid | Reg::LbaHigh => {
                self.prev[r] = self.cur[r];
                self.cur[r] = value;
            }
            _ => self.cur[r] = value,
        }
    }

    fn alt_status(&mut self) -> u8 {
        self.accesses += 1;
        if self.absent {
            return 0;
        }
        self.stale = None;
        self.status
    }

    fn set_control(&mut self, value: u8) {
        self.accesses += 1;
        let was = self.control;
        self.control = value;
        if value & control::SRST != 0 {
            self.status = status::BSY;
            self.xfer = None;
            self.then = None;
            self.stale = None;
        } else if was & control::SRST != 0 {
            self.hang = false;
            self.resets += 1;
            self.cur[2..6].copy_from_slice(&[1, 1, 0, 0]);
            self.error = 1;
            self.status = status::DRDY;
        }
    }

    fn read_data(&mut self, buf: &mut [u8]) {
        self.accesses += 1;
        self.data_calls += 1;
        assert!(
            self.status & status::DRQ != 0 && self.stale.is_none(),
            "data read without DRQ (status {:#x})",
            self.status
        );
        assert!(buf.len().is_multiple_of(4), "odd data transfer");
        let x = self.xfer.as_mut().expect("DRQ without a transfer");
        assert!(!x.write, "data read during a write command");
        assert!(x.pos + buf.len() <= SECTOR_SIZE, "data read past the block");
        buf.copy_from_slice(&x.block[x.pos..x.pos + buf.len()]);
        x.pos += buf.len();
        if x.pos == SECTOR_SIZE {
            x.left -= 1;
            x.lba += 1;
            if x.left > 0 {
                self.go_busy(Then::BlockIn);
            } else {
                self.stale = Some(self.status);
                self.status = status::DRDY;
                self.xfer = None;
            }
        }
    }

    fn write_data(&mut self, buf: &[u8]) {
        self.accesses += 1;
        self.data_calls += 1;
        assert!(
            self.status & status::DRQ != 0 && self.stale.is_none(),
            "data write without DRQ (status {:#x})",
            self.status
        );
        assert!(buf.len().is_multiple_of(4), "odd data transfer");
        let x = self.xfer.as_mut().expect("DRQ without a transfer");
        assert!(x.write, "data write during a read command");
        assert!(
            x.pos + buf.len() <= SECTOR_SIZE,
            "data written past the block"
        );
        x.block[x.pos..x.pos + buf.len()].copy_from_slice(buf);
        x.pos += buf.len();
        if x.pos == SECTOR_SIZE {
            self.go_busy(Then::Stored);
        }
    }

    fn wait_ready(&mut self) {
        self.waits += 1;
    }
}
