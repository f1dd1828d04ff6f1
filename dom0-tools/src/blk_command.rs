//! The DomU shell's `blk` commands (list, read, write, sum, bench, garbage) parsed from the words after `blk`, and the names of virtual block devices (xvda from 51712).

use alloc::string::String;

/// `blk` usage, printed for a bad line.
pub const USAGE: &str = "usage: blk [list] | blk read|sum VDEV SECTOR COUNT | blk write VDEV SECTOR COUNT SEED | blk bench VDEV MIB qd=1|32 read|write | blk garbage VDEV";
/// The most sectors one `read`, `write` or `sum` takes (4 GiB).
pub const MAX_COUNT: u64 = 1 << 23;
/// The most MiB one `bench` moves.
pub const MAX_BENCH_MIB: u64 = 1024;

/// Direction of a benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchOp {
    /// Reads.
    Read,
    /// Writes.
    Write,
}

/// A `blk` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlkCommand<'a> {
    /// `blk` or `blk list`: the devices and their states.
    List,
    /// `blk read VDEV SECTOR COUNT`: checksum and first bytes.
    Read {
        /// Device name.
        vdev: &'a str,
        /// First sector.
        sector: u64,
        /// Sectors.
        count: u64,
    },
    /// `blk write VDEV SECTOR COUNT SEED`: writes the seed's pattern.
    Write {
        /// Device name.
        vdev: &'a str,
        /// First sector.
        sector: u64,
        /// Sectors.
        count: u64,
        /// Pattern seed.
        seed: u64,
    },
    /// `blk sum VDEV SECTOR COUNT`: checksum only.
    Sum {
        /// Device name.
        vdev: &'a str,
        /// First sector.
        sector: u64,
        /// Sectors.
        count: u64,
    },
    /// `blk bench VDEV MIB qd=N read|write`.
    Bench {
        /// Device name.
        vdev: &'a str,
        /// MiB to move.
        mib: u64,
        /// Requests in flight (1 to 32).
        depth: usize,
        /// Direction.
        op: BenchOp,
    },
    /// `blk garbage VDEV`: malformed requests on the device's ring, then a corrupt index.
    Garbage {
        /// Device name.
        vdev: &'a str,
    },
}

/// A decimal number of at most 20 digits.
fn number(word: &[u8]) -> Option<u64> {
    crate::blkfront::parse_decimal(word)
}

/// A device name word: `xvd` and letters, optionally a partition number.
fn vdev(word: &[u8]) -> Option<&str> {
    let s = core::str::from_utf8(word).ok()?;
    (s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(s)
}

/// The `blk` command the words after `blk` ask for, or the usage line.
pub fn parse<'a>(
    mut words: impl Iterator<Item = &'a [u8]>,
) -> Result<BlkCommand<'a>, &'static str> {
    let Some(sub) = words.next() else {
        return Ok(BlkCommand::List);
    };
    let mut rest: [Option<&'a [u8]>; 5] = [None; 5];
    for slot in rest.iter_mut() {
        *slot = words.next();
    }
    let n = rest.iter().take_while(|w| w.is_some()).count();
    let arg = |i: usize| rest[i].unwrap_or(b"");
    let range = || -> Option<(&'a str, u64, u64)> {
        let count = number(arg(2)).filter(|c| (1..=MAX_COUNT).contains(c))?;
        Some((vdev(arg(0))?, number(arg(1))?, count))
    };
    let cmd = match (sub, n) {
        (b"list", 0) => Some(BlkCommand::List),
        (b"read", 3) => range().map(|(vdev, sector, count)| BlkCommand::Read {
            vdev,
            sector,
            count,
        }),
        (b"sum", 3) => range().map(|(vdev, sector, count)| BlkCommand::Sum {
            vdev,
            sector,
            count,
        }),
        (b"write", 4) => range().and_then(|(vdev, sector, count)| {
            Some(BlkCommand::Write {
                vdev,
                sector,
                count,
                seed: number(arg(3))?,
            })
        }),
        (b"bench", 4) => bench(arg(0), arg(1), arg(2), arg(3)),
        (b"garbage", 1) => vdev(arg(0)).map(|vdev| BlkCommand::Garbage { vdev }),
        _ => None,
    };
    cmd.ok_or(USAGE)
}

fn bench<'a>(dev: &'a [u8], mib: &[u8], qd: &[u8], op: &[u8]) -> Option<BlkCommand<'a>> {
    let depth = match qd.strip_prefix(b"qd=").and_then(number)? {
        d @ 1..=32 => d as usize,
        _ => return None,
    };
    let op = match op {
        b"read" => BenchOp::Read,
        b"write" => BenchOp::Write,
        _ => return None,
    };
    Some(BlkCommand::Bench {
        vdev: vdev(dev)?,
        mib: number(mib).filter(|m| (1..=MAX_BENCH_MIB).contains(m))?,
        depth,
        op,
    })
}

/// The major number of Xen virtual disks in a device id (`202 << 8 | disk << 4 | part`).
const XVD_MAJOR: u64 = 202;
/// Device ids with this bit use the extended form (`1 << 28 | disk << 8 | part`).
const EXTENDED: u64 = 1 << 28;

/// The name of the virtual disk with device id `devid` (as xl and Linux name them: 51712 is
/// `xvda`, 51713 `xvda1`, 268442112 `xvdaa`), or `None` for ids of other kinds.
pub fn vdev_name(devid: u64) -> Option<String> {
    let (disk, part) = if devid & EXTENDED != 0 {
        if devid >> 29 != 0 {
            return None;
        }
        ((devid >> 8) & 0xF_FFFF, devid & 0xFF)
    } else if devid >> 8 == XVD_MAJOR {
        ((devid >> 4) & 0xF, devid & 0xF)
    } else {
        return None;
    };
    let mut name = String::from("xvd");
    disk_letters(disk, &mut name);
    if part != 0 {
        use core::fmt::Write;
        let _ = write!(name, "{part}");
    }
    Some(name)
}

/// Appends the letters of disk `n`: a..z, then aa..zz, aaa...
fn disk_letters(n: u64, out: &mut String) {
    let mut letters = [0u8; 8];
    let mut len = 0;
    let mut n = n + 1;
    while n > 0 && len < letters.len() {
        n -= 1;
        letters[len] = b'a' + (n % 26) as u8;
        len += 1;
        n /= 26;
    }
    for &l in letters[..len].iter().rev() {
        out.push(char::from(l));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<BlkCommand<'_>, &'static str> {
        parse(
            line.as_bytes()
                .split(|&b| b == b' ')
                .filter(|w| !w.is_empty()),
        )
    }

    #[test]
    fn commands_parse() {
        assert_eq!(p(""), Ok(BlkCommand::List));
        assert_eq!(p("list"), Ok(BlkCommand::List));
        assert_eq!(
            p("read xvda 0 8"),
            Ok(BlkCommand::Read {
                vdev: "xvda",
                sector: 0,
                count: 8
            })
        );
        assert_eq!(
            p("write xvdb 16 100 42"),
            Ok(BlkCommand::Write {
                vdev: "xvdb",
                sector: 16,
                count: 100,
                seed: 42
            })
        );
        assert_eq!(
            p("sum xvda 0 32768"),
            Ok(BlkCommand::Sum {
                vdev: "xvda",
                sector: 0,
                count: 32768
            })
        );
        assert_eq!(
            p("bench xvda 16 qd=32 read"),
            Ok(BlkCommand::Bench {
                vdev: "xvda",
                mib: 16,
                depth: 32,
                op: BenchOp::Read
            })
        );
        assert_eq!(
            p("bench xvda 1 qd=1 write"),
            Ok(BlkCommand::Bench {
                vdev: "xvda",
                mib: 1,
                depth: 1,
                op: BenchOp::Write
            })
        );
        assert_eq!(p("garbage xvda"), Ok(BlkCommand::Garbage { vdev: "xvda" }));
    }

    #[test]
    fn bad_lines_give_the_usage() {
        for bad in [
            "list x",
            "read",
            "read xvda 0",
            "read xvda 0 0",
            "read xvda 0 8 9",
            "read xvda -1 8",
            "read xv/da 0 8",
            "read xvda 0 8388609",
            "write xvda 0 8",
            "write xvda 0 8 x",
            "sum xvda 0 99999999999999999999",
            "bench xvda 0 qd=1 read",
            "bench xvda 1 qd=33 read",
            "bench xvda 1 qd=0 read",
            "bench xvda 1 32 read",
            "bench xvda 1 qd=1 erase",
            "bench xvda 2000 qd=1 read",
            "garbage",
            "garbage xvda 1",
            "garbage xv/da",
            "frob",
        ] {
            assert_eq!(p(bad), Err(USAGE), "{bad}");
        }
    }

    #[test]
    fn device_ids_name_disks_as_xl_does() {
        assert_eq!(vdev_name(51712).as_deref(), Some("xvda"));
        assert_eq!(vdev_name(51728).as_deref(), Some("xvdb"));
        assert_eq!(vdev_name(51713).as_deref(), Some("xvda1"));
        assert_eq!(vdev_name(51952).as_deref(), Some("xvdp"));
        assert_eq!(vdev_name((1 << 28) | (26 << 8)).as_deref(), Some("xvdaa"));
        assert_eq!(
            vdev_name((1 << 28) | (27 << 8) | 3).as_deref(),
            Some("xvdab3")
        );
        assert_eq!(vdev_name(768), None, "hda is not a Xen virtual disk");
        assert_eq!(vdev_name(1 << 29), None);
        assert_eq!(vdev_name(u64::MAX), None);
    }
}
