//! An ATA PIO driver for the primary IDE channel's master disk, over the `AtaPorts` trait (no hardware here).
// The protocol (ATA/ATAPI-6 PIO data-in, data-out and non-data classes): the host writes the
// command block registers while the device shows neither BSY nor DRQ, writes the command, waits
// one PIO cycle (a read of the alternate status register) before trusting the status register,
// then for each 512-byte block waits for BSY to clear and DRQ to rise and moves the block
// through the data register. Every wait is bounded by a poll budget; between polls the
// caller's `wait_ready` runs (a spin, a yield, or a block on the disk's interrupt). After an
// error that leaves the device busy or mid-transfer, the driver resets the channel so that the
// next command can be accepted.

pub mod identify;

#[cfg(test)]
mod driver_tests;
#[cfg(test)]
mod fake_disk;

use core::fmt;

use crate::block_store::{BlockError, BlockStore, SECTOR_SIZE, check_range};
pub use identify::Identity;

/// The primary channel's command block (data register) port.
pub const PRIMARY_COMMAND: u16 = 0x1f0;
/// The primary channel's control block port (alternate status / device control).
pub const PRIMARY_CONTROL: u16 = 0x3f6;
/// The primary channel's ISA interrupt line.
pub const PRIMARY_IRQ: u32 = 14;
/// Sectors one command moves at most (a sector count of 0 means 256 in LBA28 commands).
pub const MAX_SECTORS_PER_COMMAND: usize = 256;
/// Status polls a wait makes before giving up, by default: generous for an emulated disk
/// whose I/O completes in QEMU's main loop while the CPU is emulated.
pub const DEFAULT_POLL_BUDGET: u32 = 2_000_000;
/// The highest sector count LBA28 commands can reach (sectors `0..LBA28_LIMIT`).
pub const LBA28_LIMIT: u64 = 1 << 28;

/// A command block register, by offset from [`PRIMARY_COMMAND`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Reg {
    /// Error (read) / Features (write).
    ErrorFeatures = 1,
    /// Sector count.
    SectorCount = 2,
    /// LBA bits 0..8 (and 24..32 as the previous value in LBA48).
    LbaLow = 3,
    /// LBA bits 8..16 (and 32..40).
    LbaMid = 4,
    /// LBA bits 16..24 (and 40..48).
    LbaHigh = 5,
    /// Device: drive select, LBA mode, LBA28 bits 24..28.
    Device = 6,
    /// Status (read, acknowledges the interrupt) / Command (write).
    StatusCommand = 7,
}

impl Reg {
    /// The register's I/O port on the primary channel.
    pub fn port(self) -> u16 {
        PRIMARY_COMMAND + self as u16
    }
}

/// Status register bits.
pub mod status {
    /// Busy: the device owns the registers.
    pub const BSY: u8 = 0x80;
    /// Device ready.
    pub const DRDY: u8 = 0x40;
    /// Device fault.
    pub const DF: u8 = 0x20;
    /// Data request: a block is ready to move through the data register.
    pub const DRQ: u8 = 0x08;
    /// Error: the error register says what.
    pub const ERR: u8 = 0x01;
}

/// Error register bits (after a command with ERR set).
pub mod error_bits {
    /// Interface CRC error (bad block in older standards).
    pub const ICRC: u8 = 0x80;
    /// Uncorrectable data error.
    pub const UNC: u8 = 0x40;
    /// ID not found: the address is outside the medium.
    pub const IDNF: u8 = 0x10;
    /// Command aborted (unsupported or invalid).
    pub const ABRT: u8 = 0x04;
    /// Address mark not found.
    pub const AMNF: u8 = 0x01;
}

/// Device control register bits.
pub mod control {
    /// Interrupts disabled (the device never asserts INTRQ).
    pub const NIEN: u8 = 0x02;
    /// Software reset of both devices on the channel.
    pub const SRST: u8 = 0x04;
}

/// Command codes.
pub mod command {
    /// READ SECTORS (LBA28, PIO data-in).
    pub const READ_SECTORS: u8 = 0x20;
    /// READ SECTORS EXT (LBA48, PIO data-in).
    pub const READ_SECTORS_EXT: u8 = 0x24;
    /// WRITE SECTORS (LBA28, PIO data-out).
    pub const WRITE_SECTORS: u8 = 0x30;
    /// WRITE SECTORS EXT (LBA48, PIO data-out).
    pub const WRITE_SECTORS_EXT: u8 = 0x34;
    /// FLUSH CACHE (non-data).
    pub const FLUSH_CACHE: u8 = 0xe7;
    /// IDENTIFY DEVICE (PIO data-in).
    pub const IDENTIFY: u8 = 0xec;
    /// Not a command: what a reset is reported as.
    pub const RESET: u8 = 0x00;

    /// The command's name, for messages.
    pub fn name(code: u8) -> &'static str {
        match code {
            READ_SECTORS => "READ SECTORS",
            READ_SECTORS_EXT => "READ SECTORS EXT",
            WRITE_SECTORS => "WRITE SECTORS",
            WRITE_SECTORS_EXT => "WRITE SECTORS EXT",
            FLUSH_CACHE => "FLUSH CACHE",
            IDENTIFY => "IDENTIFY DEVICE",
            RESET => "software reset",
            _ => "command",
        }
    }
}

/// Device register value: master, LBA addressing (bits 7 and 5 set for old devices).
const DEVICE_LBA_MASTER: u8 = 0xe0;

/// The channel's I/O ports, as the driver sees them. Implementations do the port I/O (or
/// model a device, in tests).
pub trait AtaPorts {
    /// Reads command block register `reg` (reading Status acknowledges the interrupt).
    fn inb(&mut self, reg: Reg) -> u8;
    /// Writes command block register `reg`.
    fn outb(&mut self, reg: Reg, value: u8);
    /// Reads the alternate status register (Status without acknowledging the interrupt).
    fn alt_status(&mut self) -> u8;
    /// Writes the device control register.
    fn set_control(&mut self, value: u8);
    /// Reads `buf.len()` bytes (a multiple of 4) from the data register, in order.
    fn read_data(&mut self, buf: &mut [u8]);
    /// Writes `buf` (a multiple of 4 bytes) to the data register, in order.
    fn write_data(&mut self, buf: &[u8]);
    /// Called between status polls while the device is busy: spin, yield the CPU, or block
    /// on the disk's interrupt. It must return within a bounded time (the driver counts the
    /// calls against its poll budget); returning early is always allowed.
    fn wait_ready(&mut self);
}

/// Why an ATA operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtaError {
    /// No device answers on the channel (status reads 0x00 or 0xff).
    NoDevice {
        /// The status read.
        status: u8,
    },
    /// The device is not an ATA disk (an ATAPI or SATA signature after IDENTIFY).
    NotAta {
        /// LBA mid and high after IDENTIFY.
        signature: u16,
    },
    /// The disk cannot do LBA addressing.
    NoLba,
    /// The device stayed busy through the whole poll budget.
    Timeout {
        /// The command that was running.
        command: u8,
        /// The last status read.
        status: u8,
    },
    /// The device reported an error (ERR).
    Failed {
        /// The command.
        command: u8,
        /// The status read.
        status: u8,
        /// The error register.
        error: u8,
    },
    /// The device reported a fault (DF).
    Fault {
        /// The command.
        command: u8,
        /// The status read.
        status: u8,
    },
    /// The device finished a block without asking for data (no DRQ, no error).
    NoData {
        /// The command.
        command: u8,
        /// The status read.
        status: u8,
    },
    /// The device still asked for data after the last block.
    ExtraData {
        /// The command.
        command: u8,
        /// The status read.
        status: u8,
    },
}

impl AtaError {
    /// The error a test double reports for a sector made to fail: an uncorrectable read.
    pub fn injected() -> Self {
        AtaError::Failed {
            command: command::READ_SECTORS,
            status: status::DRDY | status::ERR,
            error: error_bits::UNC,
        }
    }
}

/// Status bits by name.
struct StatusBits(u8);

impl fmt::Display for StatusBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x}", self.0)?;
        let names = [
            (status::BSY, "BSY"),
            (status::DRDY, "DRDY"),
            (status::DF, "DF"),
            (status::DRQ, "DRQ"),
            (status::ERR, "ERR"),
        ];
        let mut sep = " (";
        for (bit, name) in names {
            if self.0 & bit != 0 {
                write!(f, "{sep}{name}")?;
                sep = " ";
            }
        }
        if sep == " " {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Error register bits by name.
struct ErrorBits(u8);

impl fmt::Display for ErrorBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x}", self.0)?;
        let names = [
            (error_bits::ICRC, "ICRC"),
            (error_bits::UNC, "UNC: uncorrectable data"),
            (error_bits::IDNF, "IDNF: sector not found"),
            (error_bits::ABRT, "ABRT: command aborted"),
            (error_bits::AMNF, "AMNF"),
        ];
        let mut sep = " (";
        for (bit, name) in names {
            if self.0 & bit != 0 {
                write!(f, "{sep}{name}")?;
                sep = ", ";
            }
        }
        if sep == ", " {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for AtaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use command::name;
        match *self {
            AtaError::NoDevice { status } => {
                write!(f, "no device (status {status:#04x})")
            }
            AtaError::NotAta { signature } => {
                write!(f, "not an ATA disk (signature {signature:#06x})")
            }
            AtaError::NoLba => f.write_str("the disk cannot do LBA addressing"),
            AtaError::Timeout { command, status } => write!(
                f,
                "{} timed out, status {}",
                name(command),
                StatusBits(status)
            ),
            AtaError::Failed {
                command,
                status,
                error,
            } => write!(
                f,
                "{} failed, status {}, error {}",
                name(command),
                StatusBits(status),
                ErrorBits(error)
            ),
            AtaError::Fault { command, status } => write!(
                f,
                "{}: device fault, status {}",
                name(command),
                StatusBits(status)
            ),
            AtaError::NoData { command, status } => write!(
                f,
                "{}: device asked for no data, status {}",
                name(command),
                StatusBits(status)
            ),
            AtaError::ExtraData { command, status } => write!(
                f,
                "{}: device wants more data than the command moves, status {}",
                name(command),
                StatusBits(status)
            ),
        }
    }
}

/// Which way a data command moves its blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

/// The disk on the primary channel, identified and ready for I/O.
#[derive(Debug)]
pub struct Ata<P: AtaPorts> {
    ports: P,
    identity: Identity,
    poll_budget: u32,
}

impl<P: AtaPorts> Ata<P> {
    /// Finds and identifies the master disk on `ports` with interrupts off (polling), each
    /// wait bounded by `poll_budget` polls.
    pub fn open(mut ports: P, poll_budget: u32) -> Result<Self, AtaError> {
        ports.set_control(control::NIEN);
        let mut ata = Ata {
            ports,
            identity: Identity::default(),
            poll_budget,
        };
        ata.identity = ata.identify()?;
        Ok(ata)
    }

    /// What IDENTIFY DEVICE said.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Lets the device interrupt at each block and at completion (`true`), or not (`false`,
    /// pure polling). With interrupts on, `wait_ready` may block on the interrupt; the
    /// driver's status reads acknowledge it.
    pub fn set_interrupts(&mut self, enabled: bool) {
        self.ports
            .set_control(if enabled { 0 } else { control::NIEN });
    }

    /// Bounds each later wait by `poll_budget` polls (fewer when each wait blocks on the
    /// interrupt with a timeout).
    pub fn set_poll_budget(&mut self, poll_budget: u32) {
        self.poll_budget = poll_budget;
    }

    /// The ports (to tune the caller's wait).
    pub fn ports_mut(&mut self) -> &mut P {
        &mut self.ports
    }

    /// Gives the ports back.
    pub fn into_ports(self) -> P {
        self.ports
    }

    /// Resets the channel (SRST) with interrupts off, and waits for the device to be ready.
    pub fn reset(&mut self) -> Result<(), AtaError> {
        self.ports.set_control(control::SRST | control::NIEN);
        // Hold SRST for a while (the standard wants 5 us): a few control-block reads.
        for _ in 0..4 {
            let _ = self.ports.alt_status();
        }
        self.ports.set_control(control::NIEN);
        for _ in 0..4 {
            let _ = self.ports.alt_status();
        }
        self.wait_not_busy(command::RESET).map(|_| ())
    }

    /// Polls Status until BSY clears; the last status read. Bounded by the poll budget.
    fn wait_not_busy(&mut self, command: u8) -> Result<u8, AtaError> {
        let mut polls = 0u32;
        loop {
            let s = self.ports.inb(Reg::StatusCommand);
            if s & status::BSY == 0 {
                return Ok(s);
            }
            if polls >= self.poll_budget {
                return Err(AtaError::Timeout { command, status: s });
            }
            polls += 1;
            self.ports.wait_ready();
        }
    }

    /// ERR or DF in `s` as an error.
    fn check(&mut self, command: u8, s: u8) -> Result<(), AtaError> {
        if s & status::ERR != 0 {
            let error = self.ports.inb(Reg::ErrorFeatures);
            return Err(AtaError::Failed {
                command,
                status: s,
                error,
            });
        }
        if s & status::DF != 0 {
            return Err(AtaError::Fault { command, status: s });
        }
        Ok(())
    }

    /// Waits for the device to be idle (neither BSY nor DRQ) before a new command; a reset
    /// if it was left mid-transfer.
    fn idle(&mut self, command: u8) -> Result<(), AtaError> {
        let s = self.wait_not_busy(command)?;
        if s & status::DRQ != 0 {
            self.reset()?;
        }
        Ok(())
    }

    /// IDENTIFY DEVICE.
    fn identify(&mut self) -> Result<Identity, AtaError> {
        let cmd = command::IDENTIFY;
        self.ports.outb(Reg::Device, DEVICE_LBA_MASTER);
        // The 400 ns a device select needs before Status is valid.
        for _ in 0..4 {
            let _ = self.ports.alt_status();
        }
        let s = self.ports.alt_status();
        if s == 0x00 || s == 0xff {
            return Err(AtaError::NoDevice { status: s });
        }
        self.idle(cmd)?;
        for reg in [Reg::SectorCount, Reg::LbaLow, Reg::LbaMid, Reg::LbaHigh] {
            self.ports.outb(reg, 0);
        }
        self.ports.outb(Reg::StatusCommand, cmd);
        if self.ports.alt_status() == 0 {
            return Err(AtaError::NoDevice { status: 0 });
        }
        let s = self.wait_not_busy(cmd)?;
        let mid = self.ports.inb(Reg::LbaMid);
        let high = self.ports.inb(Reg::LbaHigh);
        if (mid, high) != (0, 0) {
            return Err(AtaError::NotAta {
                signature: u16::from_be_bytes([mid, high]),
            });
        }
        self.check(cmd, s)?;
        if s & status::DRQ == 0 {
            return Err(AtaError::NoData {
                command: cmd,
                status: s,
            });
        }
        let mut data = [0u8; SECTOR_SIZE];
        self.ports.read_data(&mut data);
        self.finish(cmd)?;
        Identity::parse(&data)
    }

    /// Waits for the end of a command after its last block: not busy, no error, no more data.
    fn finish(&mut self, cmd: u8) -> Result<(), AtaError> {
        let _ = self.ports.alt_status();
        let s = self.wait_not_busy(cmd)?;
        self.check(cmd, s)?;
        if s & status::DRQ != 0 {
            return Err(AtaError::ExtraData {
                command: cmd,
                status: s,
            });
        }
        Ok(())
    }

    /// Writes the command block for `count` (1..=256) sectors at `lba`, then `cmd`.
    fn issue(&mut self, cmd: u8, lba: u64, count: usize, lba48: bool) {
        let b = lba.to_le_bytes();
        let n = (count as u16).to_le_bytes();
        if lba48 {
            // The "previous" (high order) bytes first, then the current ones.
            self.ports.outb(Reg::SectorCount, n[1]);
            self.ports.outb(Reg::LbaLow, b[3]);
            self.ports.outb(Reg::LbaMid, b[4]);
            self.ports.outb(Reg::LbaHigh, b[5]);
            self.ports.outb(Reg::SectorCount, n[0]);
            self.ports.outb(Reg::LbaLow, b[0]);
            self.ports.outb(Reg::LbaMid, b[1]);
            self.ports.outb(Reg::LbaHigh, b[2]);
            self.ports.outb(Reg::Device, DEVICE_LBA_MASTER);
        } else {
            // A count of 256 is written as 0.
            self.ports.outb(Reg::SectorCount, n[0]);
            self.ports.outb(Reg::LbaLow, b[0]);
            self.ports.outb(Reg::LbaMid, b[1]);
            self.ports.outb(Reg::LbaHigh, b[2]);
            self.ports
                .outb(Reg::Device, DEVICE_LBA_MASTER | (b[3] & 0x0f));
        }
        self.ports.outb(Reg::StatusCommand, cmd);
        // One PIO cycle before Status is valid.
        let _ = self.ports.alt_status();
    }

    /// One PIO command moving `len / 512` (1..=256) sectors at `lba` in `dir`; the range was
    /// checked against the disk.
    fn transfer(&mut self, lba: u64, dir: Direction, mut data: Data<'_>) -> Result<(), AtaError> {
        let count = data.len() / SECTOR_SIZE;
        let lba48 = lba + count as u64 > LBA28_LIMIT;
        let cmd = match (dir, lba48) {
            (Direction::In, false) => command::READ_SECTORS,
            (Direction::In, true) => command::READ_SECTORS_EXT,
            (Direction::Out, false) => command::WRITE_SECTORS,
            (Direction::Out, true) => command::WRITE_SECTORS_EXT,
        };
        self.idle(cmd)?;
        self.issue(cmd, lba, count, lba48);
        for block in 0..count {
            let s = self.wait_not_busy(cmd)?;
            self.check(cmd, s)?;
            if s & status::DRQ == 0 {
                return Err(AtaError::NoData {
                    command: cmd,
                    status: s,
                });
            }
            let at = block * SECTOR_SIZE..(block + 1) * SECTOR_SIZE;
            match &mut data {
                Data::In(buf) => self.ports.read_data(&mut buf[at]),
                Data::Out(buf) => self.ports.write_data(&buf[at]),
            }
            if block + 1 < count {
                let _ = self.ports.alt_status();
            }
        }
        self.finish(cmd)
    }

    /// Runs `op`; after a failure that left the device busy or mid-transfer, resets it so
    /// the next command is accepted.
    fn recovering(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<(), AtaError>,
    ) -> Result<(), AtaError> {
        let result = op(self);
        if result.is_err() && self.ports.alt_status() & (status::BSY | status::DRQ) != 0 {
            // The first error is the one to report.
            let _ = self.reset();
        }
        result
    }

    /// Splits `sector`..`sector + len/512` into commands of at most 256 sectors.
    fn chunks(
        &mut self,
        sector: u64,
        len: usize,
        mut each: impl FnMut(&mut Self, u64, core::ops::Range<usize>) -> Result<(), AtaError>,
    ) -> Result<(), BlockError> {
        check_range(sector, len, self.identity.sectors)?;
        let step = MAX_SECTORS_PER_COMMAND * SECTOR_SIZE;
        let mut at = 0;
        while at < len {
            let end = (at + step).min(len);
            let lba = sector + (at / SECTOR_SIZE) as u64;
            each(self, lba, at..end)?;
            at = end;
        }
        Ok(())
    }
}

/// The buffer of one transfer.
enum Data<'a> {
    In(&'a mut [u8]),
    Out(&'a [u8]),
}

impl Data<'_> {
    fn len(&self) -> usize {
        match self {
            Data::In(b) => b.len(),
            Data::Out(b) => b.len(),
        }
    }
}

impl<P: AtaPorts> BlockStore for Ata<P> {
    fn sectors(&self) -> u64 {
        self.identity.sectors
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let len = buf.len();
        self.chunks(sector, len, |ata, lba, range| {
            let part = &mut buf[range];
            ata.recovering(|ata| ata.transfer(lba, Direction::In, Data::In(part)))
        })
    }

    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), BlockError> {
        self.chunks(sector, buf.len(), |ata, lba, range| {
            let part = &buf[range];
            ata.recovering(|ata| ata.transfer(lba, Direction::Out, Data::Out(part)))
        })
    }

    fn flush(&mut self) -> Result<(), BlockError> {
        let cmd = command::FLUSH_CACHE;
        self.recovering(|ata| {
            ata.idle(cmd)?;
            ata.ports.outb(Reg::StatusCommand, cmd);
            let _ = ata.ports.alt_status();
            let s = ata.wait_not_busy(cmd)?;
            ata.check(cmd, s)
        })
        .map_err(BlockError::Device)
    }
}
