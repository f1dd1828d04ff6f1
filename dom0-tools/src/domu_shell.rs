//! The DomU shell's commands (`domu# ` prompt): parsing a typed line into a command.

/// The shell's prompt.
pub const PROMPT: &str = "domu# ";
/// The line printed once the shell is ready (the toolstack benchmark times it).
pub const READY: &str = "domu: ready";
/// The longest `busy` run accepted, in seconds.
pub const BUSY_MAX_S: u64 = 3600;
/// The help text, one line per command.
pub const HELP: [&str; 16] = [
    "help            this list",
    "uptime          seconds since boot",
    "mem             memory now, balloon target and maximum",
    "busy SECONDS    keep the CPU busy for SECONDS",
    "count           start or stop a `count N` line every second",
    "crash           crash this domain on purpose",
    "shutdown        power off",
    "reboot          reboot (shutdown reason reboot)",
    "balloon KIB     balloon to KIB as if memory/target said so",
    "ls PATH         list a xenstore directory (relative to our home, or absolute)",
    "write PATH VALUE  set a xenstore node (relative to our home, or absolute)",
    "blk [list]      block devices, their sizes and states",
    "blk read|sum VDEV SECTOR COUNT     crc32 of sectors (read: and the first bytes)",
    "blk write VDEV SECTOR COUNT SEED   write the seed's pattern",
    "blk bench VDEV MIB qd=1|32 read|write   time a transfer against memcpy",
    "blk garbage VDEV  act as a hostile frontend: bad requests, then a runaway ring index",
];

/// A command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// An empty line.
    Empty,
    /// `help`.
    Help,
    /// `uptime`.
    Uptime,
    /// `mem`.
    Mem,
    /// `busy SECONDS`.
    Busy(u64),
    /// `count`.
    Count,
    /// `crash`.
    Crash,
    /// `shutdown`.
    Shutdown,
    /// `reboot`.
    Reboot,
    /// `balloon KIB`.
    Balloon(u64),
    /// `ls PATH`.
    Ls(&'a str),
    /// `write PATH VALUE`.
    Write(&'a str, &'a [u8]),
    /// `blk ...`.
    Blk(crate::blk_command::BlkCommand<'a>),
    /// A line that names no command or gives bad arguments: the message to print.
    Bad(BadCommand<'a>),
}

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadCommand<'a> {
    /// The first word names no command.
    Unknown(&'a [u8]),
    /// The command's arguments are wrong: its usage line.
    Usage(&'static str),
}

/// The command a typed line asks for (words separated by spaces).
pub fn parse(line: &[u8]) -> Command<'_> {
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let Some(first) = words.next() else {
        return Command::Empty;
    };
    let arg = words.next();
    let extra = words.next().is_some();
    let plain = |c: Command<'static>, usage: &'static str| {
        if arg.is_none() {
            c
        } else {
            Command::Bad(BadCommand::Usage(usage))
        }
    };
    match first {
        b"help" => plain(Command::Help, "usage: help"),
        b"uptime" => plain(Command::Uptime, "usage: uptime"),
        b"mem" => plain(Command::Mem, "usage: mem"),
        b"count" => plain(Command::Count, "usage: count"),
        b"crash" => plain(Command::Crash, "usage: crash"),
        b"shutdown" => plain(Command::Shutdown, "usage: shutdown"),
        b"reboot" => plain(Command::Reboot, "usage: reboot"),
        b"busy" => match (arg.and_then(seconds), extra) {
            (Some(s), false) => Command::Busy(s),
            _ => Command::Bad(BadCommand::Usage("usage: busy SECONDS (1 to 3600)")),
        },
        b"balloon" => match (arg.and_then(crate::guest_balloon::parse_kib), extra) {
            (Some(kib), false) => Command::Balloon(kib),
            _ => Command::Bad(BadCommand::Usage("usage: balloon KIB")),
        },
        b"ls" => match (arg.and_then(|a| core::str::from_utf8(a).ok()), extra) {
            (Some(path), false) => Command::Ls(path),
            _ => Command::Bad(BadCommand::Usage("usage: ls PATH")),
        },
        b"write" => {
            let mut rest = line.split(|&b| b == b' ').filter(|w| !w.is_empty()).skip(1);
            let path = rest.next().and_then(|p| core::str::from_utf8(p).ok());
            match (path, rest.next(), rest.next()) {
                (Some(path), Some(value), None) => Command::Write(path, value),
                _ => Command::Bad(BadCommand::Usage("usage: write PATH VALUE")),
            }
        }
        b"blk" => {
            let rest = line.split(|&b| b == b' ').filter(|w| !w.is_empty()).skip(1);
            match crate::blk_command::parse(rest) {
                Ok(c) => Command::Blk(c),
                Err(usage) => Command::Bad(BadCommand::Usage(usage)),
            }
        }
        other => Command::Bad(BadCommand::Unknown(other)),
    }
}

/// A `busy` duration: 1 to [`BUSY_MAX_S`] decimal seconds.
fn seconds(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 4 || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let s = word.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    (1..=BUSY_MAX_S).contains(&s).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse(b""), Command::Empty);
        assert_eq!(parse(b"   "), Command::Empty);
        assert_eq!(parse(b"help"), Command::Help);
        assert_eq!(parse(b" uptime "), Command::Uptime);
        assert_eq!(parse(b"mem"), Command::Mem);
        assert_eq!(parse(b"count"), Command::Count);
        assert_eq!(parse(b"crash"), Command::Crash);
        assert_eq!(parse(b"shutdown"), Command::Shutdown);
        assert_eq!(parse(b"reboot"), Command::Reboot);
        assert_eq!(parse(b"busy 3"), Command::Busy(3));
        assert_eq!(parse(b"busy  3600"), Command::Busy(3600));
        assert_eq!(parse(b"ls /local/domain"), Command::Ls("/local/domain"));
        assert_eq!(parse(b"balloon 4096"), Command::Balloon(4096));
        assert_eq!(parse(b"write a/b 1"), Command::Write("a/b", b"1"));
        for bad in [&b"write"[..], b"write a", b"write a b c"] {
            assert_eq!(
                parse(bad),
                Command::Bad(BadCommand::Usage("usage: write PATH VALUE"))
            );
        }
        assert_eq!(
            parse(b"blk"),
            Command::Blk(crate::blk_command::BlkCommand::List)
        );
        assert_eq!(
            parse(b"blk  sum xvda 0 8"),
            Command::Blk(crate::blk_command::BlkCommand::Sum {
                vdev: "xvda",
                sector: 0,
                count: 8
            })
        );
        assert_eq!(
            parse(b"blk read"),
            Command::Bad(BadCommand::Usage(crate::blk_command::USAGE))
        );
        for bad in [
            &b"balloon"[..],
            b"balloon -1",
            b"balloon 4k",
            b"balloon 1 2",
        ] {
            assert_eq!(
                parse(bad),
                Command::Bad(BadCommand::Usage("usage: balloon KIB")),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(b"ls"),
            Command::Bad(BadCommand::Usage("usage: ls PATH"))
        );
        assert_eq!(
            parse(b"ls a b"),
            Command::Bad(BadCommand::Usage("usage: ls PATH"))
        );
    }

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(parse(b"cat x"), Command::Bad(BadCommand::Unknown(b"cat")));
        for bad in [
            &b"busy"[..],
            b"busy 0",
            b"busy 3601",
            b"busy x",
            b"busy 1 2",
            b"busy 99999",
        ] {
            assert!(
                matches!(parse(bad), Command::Bad(BadCommand::Usage(u)) if u.starts_with("usage: busy")),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(b"mem now"),
            Command::Bad(BadCommand::Usage("usage: mem"))
        );
        assert!(HELP.iter().all(|l| !l.is_empty()));
        assert_eq!(PROMPT, "domu# ");
    }
}
