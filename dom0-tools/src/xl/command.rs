//! One line typed at the `dom0# ` prompt, parsed into a typed command (or xl's error text).
//
// Words are split on blanks (no quoting); a leading `xl` word is optional; a blank line or a
// line starting with `#` is nothing. Options are read as xl's getopt does: anywhere among the
// arguments, clustered (`-wa`), with an argument attached or in the next word (`-w256`,
// `-w 256`, `--weight=256`), `--` ends them, `-h`/`--help` asks for the command's help. The
// commands and their arguments follow xl's; options xl has and we do not take get xl's
// ``option `X' not supported.``.

use super::cmd_table::{self, CmdSpec};
use super::dom_resolve::DomSpec;
use super::mem_size::{MemSizeError, parse_mem_size_kb};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Which domains `shutdown`/`reboot` act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `-a`: every domain but Dom0.
    All,
    /// One domain.
    Domain(DomSpec),
}

/// A command of the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XlCommand {
    /// `create FILE [-p] [-c] [KEY=VALUE...]`.
    Create {
        /// The config file.
        config: String,
        /// `-p`: leave it paused.
        paused: bool,
        /// `-c`: attach to its console.
        console: bool,
        /// `KEY=VALUE` words, each one more config line applied after the file.
        overrides: Vec<String>,
    },
    /// `list [-l] [DOM...]` (xl takes at most one domain; we take several).
    List {
        /// `-l`: the long form.
        long: bool,
        /// The domains to show (all when empty).
        domains: Vec<DomSpec>,
    },
    /// `destroy [-f] DOM` (without `-f`, Dom0 is refused: see [`NOT_DESTROYING_DOM0`]).
    Destroy {
        /// The domain.
        domain: DomSpec,
        /// `-f`.
        force: bool,
    },
    /// `shutdown [-w] <-a|DOM>`.
    Shutdown {
        /// Which domains.
        target: Target,
        /// `-w`: wait until they are gone.
        wait: bool,
    },
    /// `reboot [-w] <-a|DOM>`.
    Reboot {
        /// Which domains.
        target: Target,
        /// `-w`: wait until they have rebooted.
        wait: bool,
    },
    /// `pause DOM`.
    Pause(DomSpec),
    /// `unpause DOM`.
    Unpause(DomSpec),
    /// `console DOM`.
    Console(DomSpec),
    /// `mem-max DOM MEM`.
    MemMax {
        /// The domain.
        domain: DomSpec,
        /// The new limit in KiB.
        mem_kib: u64,
    },
    /// `mem-set DOM MEM`.
    MemSet {
        /// The domain.
        domain: DomSpec,
        /// The new target in KiB.
        mem_kib: u64,
    },
    /// `vcpu-list [DOM...]`.
    VcpuList(Vec<DomSpec>),
    /// `info [FIELD]`: everything, or the value of the lines whose key starts with FIELD.
    Info(Option<String>),
    /// `sched-credit [-d DOM [-w WEIGHT] [-c CAP]]`: list, show one domain, or set (weight and
    /// cap still to be checked with [`super::sched_params`] against the domain's vCPUs).
    SchedCredit {
        /// `-d`.
        domain: Option<DomSpec>,
        /// `-w`.
        weight: Option<i64>,
        /// `-c`.
        cap: Option<i64>,
    },
    /// `domid NAME`.
    Domid(String),
    /// `domname ID`.
    Domname(u32),
    /// `rename DOM NEWNAME` (check NEWNAME with [`super::domain_name::check_rename`]).
    Rename {
        /// The domain.
        domain: DomSpec,
        /// Its new name.
        new_name: String,
    },
    /// `dmesg [-c]`.
    Dmesg {
        /// `-c`: clear the buffer after printing it.
        clear: bool,
    },
    /// `uptime [-s] [DOM...]`.
    Uptime {
        /// `-s`: the short form.
        short: bool,
        /// The domains (all when empty).
        domains: Vec<DomSpec>,
    },
    /// `top`.
    Top,
    /// `block-attach DOM DISKSPEC...`: the words are the DISKSPEC's comma-separated parts
    /// (xl joins them with commas).
    BlockAttach {
        /// The domain.
        domain: DomSpec,
        /// The DISKSPEC, its words joined with commas.
        spec: String,
    },
    /// `block-detach [-f] DOM DEVID|VDEV`.
    BlockDetach {
        /// The domain.
        domain: DomSpec,
        /// A device number or a vdev name (`51712`, `xvda`).
        device: String,
        /// `-f`: remove the device without waiting for the guest.
        force: bool,
    },
    /// `block-list DOM...`.
    BlockList(Vec<DomSpec>),
    /// `help [COMMAND]`: print [`help_text`](super::cmd_table::help_text) of it.
    Help(Option<String>),
    /// Shell builtin `sleep SECONDS` (decimals allowed, to the ms).
    Sleep {
        /// How long, in ms.
        millis: u64,
    },
    /// Shell builtin `exit`.
    Exit,
    /// `network-attach`, `network-detach`, `network-list`.
    Network(super::network::NetworkCommand),
}

/// xl's refusal to destroy Dom0 without `-f`.
pub const NOT_DESTROYING_DOM0: &str = "Not destroying domain 0; use -f to force.\n\
This can only be done when using a disaggregated hardware domain and toolstack.\n\n";

/// A line that is not a valid command; `Display` gives exactly what xl prints (newlines
/// included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XlError {
    /// No such command.
    NotImplemented,
    /// An option the command does not take.
    OptionNotSupported(String),
    /// Fewer arguments than the command needs.
    TooFewArgs {
        /// The command.
        command: &'static CmdSpec,
        /// How many it needs.
        needed: usize,
    },
    /// Arguments that do not fit the command: its help is printed.
    Usage(&'static CmdSpec),
    /// `shutdown`/`reboot` with neither `-a` nor a domain.
    NoDomainOrAll,
    /// `sched-credit -w/-c` without `-d`.
    MustSpecifyDomain,
    /// `domname` of something that is not a number.
    InvalidDomainId,
    /// A memory size not in xl's syntax.
    MemSize(MemSizeError),
    /// A number option that is not a number (ours: xl reads it with `strtol` and takes 0).
    BadNumber {
        /// The option's meaning (`weight`, `cap`).
        what: &'static str,
        /// What was given.
        value: String,
    },
    /// `sleep` of something that is not a duration.
    BadSleep(String),
}

impl fmt::Display for XlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XlError::NotImplemented => f.write_str("command not implemented\n"),
            XlError::OptionNotSupported(opt) => writeln!(f, "option `{opt}' not supported."),
            XlError::TooFewArgs { command, needed } => {
                write!(
                    f,
                    "'xl {}' requires at least {} argument{}.\n\n",
                    command.name,
                    needed,
                    if *needed > 1 { "s" } else { "" }
                )?;
                f.write_str(&cmd_table::command_help(command))
            }
            XlError::Usage(command) => f.write_str(&cmd_table::command_help(command)),
            XlError::NoDomainOrAll => f.write_str("You must specify -a or a domain id.\n\n"),
            XlError::MustSpecifyDomain => f.write_str("Must specify a domain.\n"),
            XlError::InvalidDomainId => f.write_str("Invalid domain id.\n\n"),
            XlError::MemSize(e) => e.fmt(f),
            XlError::BadNumber { what, value } => writeln!(f, "Invalid {what}: '{value}'."),
            XlError::BadSleep(value) => writeln!(f, "sleep: invalid time interval '{value}'"),
        }
    }
}

impl From<MemSizeError> for XlError {
    fn from(e: MemSizeError) -> Self {
        XlError::MemSize(e)
    }
}

/// Parses one input line; `Ok(None)` for a blank or comment line.
pub fn parse_line(line: &str) -> Result<Option<XlCommand>, XlError> {
    let mut words: Vec<&str> = line.split_ascii_whitespace().collect();
    if words.first() == Some(&"xl") {
        words.remove(0);
    }
    let Some((&first, args)) = words.split_first() else {
        return Ok(None);
    };
    if first.starts_with('#') {
        return Ok(None);
    }
    if let Some(spec) = cmd_table::lookup(first) {
        return parse_xl_command(spec, args).map(Some);
    }
    match first {
        "help" => Ok(Some(XlCommand::Help(
            args.first().map(|w| String::from(*w)),
        ))),
        "sleep" => parse_sleep(args).map(Some),
        "exit" => Ok(Some(XlCommand::Exit)),
        "network-attach" | "network-detach" | "network-list" => {
            Ok(Some(XlCommand::Network(super::network::parse(first, args))))
        }
        _ => Err(XlError::NotImplemented),
    }
}

/// The options one command takes: short letters (a `:` after one means it takes an argument)
/// and long names with their letter.
struct OptSpec {
    short: &'static str,
    long: &'static [(&'static str, char)],
}

/// Options and positional words, in the order given.
struct Parsed<'a> {
    opts: Vec<(char, Option<&'a str>)>,
    positional: Vec<&'a str>,
}

impl Parsed<'_> {
    fn has(&self, c: char) -> bool {
        self.opts.iter().any(|(o, _)| *o == c)
    }

    /// The last value given to option `c`.
    fn value(&self, c: char) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(o, _)| *o == c)
            .and_then(|(_, v)| *v)
    }
}

/// What getopt found that ends parsing early.
enum Stop {
    Help,
    Error(XlError),
}

fn takes_arg(spec: &OptSpec, c: char) -> Option<bool> {
    let mut chars = spec.short.chars().peekable();
    while let Some(o) = chars.next() {
        let with_arg = chars.peek() == Some(&':');
        if with_arg {
            chars.next();
        }
        if o == c {
            return Some(with_arg);
        }
    }
    None
}

fn getopt<'a>(spec: &OptSpec, args: &[&'a str]) -> Result<Parsed<'a>, Stop> {
    let mut parsed = Parsed {
        opts: Vec::new(),
        positional: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let word = args[i];
        i += 1;
        if word == "--" {
            parsed.positional.extend_from_slice(&args[i..]);
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if name == "help" {
                return Err(Stop::Help);
            }
            let Some(&(_, c)) = spec.long.iter().find(|(n, _)| *n == name) else {
                return Err(Stop::Error(XlError::OptionNotSupported(String::from(word))));
            };
            if takes_arg(spec, c) == Some(true) {
                let value = match attached {
                    Some(v) => v,
                    None => {
                        let Some(next) = args.get(i) else {
                            return Err(Stop::Error(XlError::OptionNotSupported(c.into())));
                        };
                        i += 1;
                        next
                    }
                };
                parsed.opts.push((c, Some(value)));
            } else {
                parsed.opts.push((c, None));
            }
            continue;
        }
        let Some(cluster) = word.strip_prefix('-').filter(|rest| !rest.is_empty()) else {
            parsed.positional.push(word);
            continue;
        };
        for (at, c) in cluster.char_indices() {
            if c == 'h' {
                return Err(Stop::Help);
            }
            match takes_arg(spec, c) {
                None => return Err(Stop::Error(XlError::OptionNotSupported(c.into()))),
                Some(false) => parsed.opts.push((c, None)),
                Some(true) => {
                    let rest = &cluster[at + c.len_utf8()..];
                    let value = if !rest.is_empty() {
                        rest
                    } else if let Some(next) = args.get(i) {
                        i += 1;
                        next
                    } else {
                        return Err(Stop::Error(XlError::OptionNotSupported(c.into())));
                    };
                    parsed.opts.push((c, Some(value)));
                    break;
                }
            }
        }
    }
    Ok(parsed)
}

/// getopt, then xl's check that at least `needed` positional words remain.
fn options<'a>(
    command: &'static CmdSpec,
    spec: &OptSpec,
    args: &[&'a str],
    needed: usize,
) -> Result<Result<Parsed<'a>, XlCommand>, XlError> {
    match getopt(spec, args) {
        Err(Stop::Help) => Ok(Err(XlCommand::Help(Some(String::from(command.name))))),
        Err(Stop::Error(e)) => Err(e),
        Ok(parsed) if parsed.positional.len() < needed => {
            Err(XlError::TooFewArgs { command, needed })
        }
        Ok(parsed) => Ok(Ok(parsed)),
    }
}

const NO_OPTS: OptSpec = OptSpec {
    short: "",
    long: &[],
};

fn doms(words: &[&str]) -> Vec<DomSpec> {
    words.iter().map(|w| DomSpec::parse(w)).collect()
}

fn number(what: &'static str, value: Option<&str>) -> Result<Option<i64>, XlError> {
    value
        .map(|v| {
            v.parse::<i64>().map_err(|_| XlError::BadNumber {
                what,
                value: String::from(v),
            })
        })
        .transpose()
}

fn parse_xl_command(command: &'static CmdSpec, args: &[&str]) -> Result<XlCommand, XlError> {
    macro_rules! opts {
        ($spec:expr, $needed:expr) => {
            match options(command, &$spec, args, $needed)? {
                Ok(parsed) => parsed,
                Err(help) => return Ok(help),
            }
        };
    }
    let one = |p: &Parsed<'_>| DomSpec::parse(p.positional[0]);
    Ok(match command.name {
        "create" => return parse_create(command, args),
        "list" => {
            let p = opts!(
                OptSpec {
                    short: "l",
                    long: &[("long", 'l')]
                },
                0
            );
            XlCommand::List {
                long: p.has('l'),
                domains: doms(&p.positional),
            }
        }
        "destroy" => {
            let p = opts!(
                OptSpec {
                    short: "f",
                    long: &[]
                },
                1
            );
            XlCommand::Destroy {
                domain: one(&p),
                force: p.has('f'),
            }
        }
        "shutdown" | "reboot" => {
            let p = opts!(
                OptSpec {
                    short: "aw",
                    long: &[("all", 'a'), ("wait", 'w')]
                },
                0
            );
            let target = if p.has('a') {
                Target::All
            } else if let Some(word) = p.positional.first() {
                Target::Domain(DomSpec::parse(word))
            } else {
                return Err(XlError::NoDomainOrAll);
            };
            let wait = p.has('w');
            if command.name == "shutdown" {
                XlCommand::Shutdown { target, wait }
            } else {
                XlCommand::Reboot { target, wait }
            }
        }
        "pause" => XlCommand::Pause(one(&opts!(NO_OPTS, 1))),
        "unpause" => XlCommand::Unpause(one(&opts!(NO_OPTS, 1))),
        "console" => XlCommand::Console(one(&opts!(NO_OPTS, 1))),
        "mem-max" | "mem-set" => {
            let p = opts!(NO_OPTS, 2);
            let domain = one(&p);
            let mem_kib = parse_mem_size_kb(p.positional[1])?;
            if command.name == "mem-max" {
                XlCommand::MemMax { domain, mem_kib }
            } else {
                XlCommand::MemSet { domain, mem_kib }
            }
        }
        "vcpu-list" => XlCommand::VcpuList(doms(&opts!(NO_OPTS, 0).positional)),
        "info" => XlCommand::Info(
            opts!(NO_OPTS, 0)
                .positional
                .first()
                .map(|w| String::from(*w)),
        ),
        "sched-credit" => {
            let p = opts!(
                OptSpec {
                    short: "d:w:c:",
                    long: &[("domain", 'd'), ("weight", 'w'), ("cap", 'c')]
                },
                0
            );
            let domain = p.value('d').map(DomSpec::parse);
            let weight = number("weight", p.value('w'))?;
            let cap = number("cap", p.value('c'))?;
            if domain.is_none() && (weight.is_some() || cap.is_some()) {
                return Err(XlError::MustSpecifyDomain);
            }
            XlCommand::SchedCredit {
                domain,
                weight,
                cap,
            }
        }
        "domid" => XlCommand::Domid(String::from(opts!(NO_OPTS, 1).positional[0])),
        "domname" => {
            let p = opts!(NO_OPTS, 1);
            let word = p.positional[0];
            if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
                return Err(XlError::InvalidDomainId);
            }
            XlCommand::Domname(word.parse().map_err(|_| XlError::InvalidDomainId)?)
        }
        "rename" => {
            let p = opts!(NO_OPTS, 2);
            XlCommand::Rename {
                domain: one(&p),
                new_name: String::from(p.positional[1]),
            }
        }
        "dmesg" => {
            let p = opts!(
                OptSpec {
                    short: "c",
                    long: &[("clear", 'c')]
                },
                0
            );
            XlCommand::Dmesg { clear: p.has('c') }
        }
        "uptime" => {
            let p = opts!(
                OptSpec {
                    short: "s",
                    long: &[]
                },
                0
            );
            XlCommand::Uptime {
                short: p.has('s'),
                domains: doms(&p.positional),
            }
        }
        "top" => {
            opts!(NO_OPTS, 0);
            XlCommand::Top
        }
        "block-attach" => {
            let p = opts!(NO_OPTS, 2);
            XlCommand::BlockAttach {
                domain: one(&p),
                spec: p.positional[1..].join(","),
            }
        }
        "block-detach" => {
            let p = opts!(
                OptSpec {
                    short: "f",
                    long: &[("force", 'f')]
                },
                2
            );
            XlCommand::BlockDetach {
                domain: one(&p),
                device: String::from(p.positional[1]),
                force: p.has('f'),
            }
        }
        "block-list" => XlCommand::BlockList(doms(&opts!(NO_OPTS, 1).positional)),
        _ => return Err(XlError::NotImplemented),
    })
}

/// `create`: as xl, a first word that is neither an option nor `KEY=VALUE` is the file; later
/// words with `=` are overrides; one more plain word names the file if none was given yet, a
/// second one is a usage error.
fn parse_create(command: &'static CmdSpec, args: &[&str]) -> Result<XlCommand, XlError> {
    let (mut config, rest) = match args.split_first() {
        Some((first, rest)) if !first.starts_with('-') && !first.contains('=') => {
            (Some(String::from(*first)), rest)
        }
        _ => (None, args),
    };
    let spec = OptSpec {
        short: "pcf:",
        long: &[("defconfig", 'f')],
    };
    let p = match getopt(&spec, rest) {
        Err(Stop::Help) => return Ok(XlCommand::Help(Some(String::from(command.name)))),
        Err(Stop::Error(e)) => return Err(e),
        Ok(p) => p,
    };
    if let Some(file) = p.value('f') {
        config = Some(String::from(file));
    }
    let mut overrides = Vec::new();
    for word in &p.positional {
        if word.contains('=') {
            overrides.push(String::from(*word));
        } else if config.is_none() {
            config = Some(String::from(*word));
        } else {
            return Err(XlError::Usage(command));
        }
    }
    let Some(config) = config else {
        return Err(XlError::TooFewArgs { command, needed: 1 });
    };
    Ok(XlCommand::Create {
        config,
        paused: p.has('p'),
        console: p.has('c'),
        overrides,
    })
}

/// Longest `sleep`: one day.
pub const SLEEP_MAX_MS: u64 = 86_400_000;

/// `sleep SECONDS`, SECONDS being digits with up to three decimals.
fn parse_sleep(args: &[&str]) -> Result<XlCommand, XlError> {
    let Some(&word) = args.first() else {
        return Err(XlError::BadSleep(String::new()));
    };
    let bad = || XlError::BadSleep(String::from(word));
    let (whole, frac) = word.split_once('.').unwrap_or((word, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) || frac.len() > 3 {
        return Err(bad());
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut millis_part: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..3 {
        millis_part *= 10;
    }
    let millis = secs
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(millis_part))
        .filter(|ms| *ms <= SLEEP_MAX_MS)
        .ok_or_else(bad)?;
    Ok(XlCommand::Sleep { millis })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> XlCommand {
        parse_line(line).unwrap().unwrap()
    }

    fn err(line: &str) -> String {
        parse_line(line).unwrap_err().to_string()
    }

    fn name(n: &str) -> DomSpec {
        DomSpec::Name(String::from(n))
    }

    #[test]
    fn blank_and_comment_lines() {
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(parse_line("   \t "), Ok(None));
        assert_eq!(parse_line("xl"), Ok(None));
        assert_eq!(parse_line("# list"), Ok(None));
        assert_eq!(parse_line("#list"), Ok(None));
    }

    #[test]
    fn create() {
        assert_eq!(
            parse("xl create /etc/xen/a.cfg"),
            XlCommand::Create {
                config: String::from("/etc/xen/a.cfg"),
                paused: false,
                console: false,
                overrides: Vec::new()
            }
        );
        assert_eq!(
            parse("create a.cfg -p -c memory=64 name=x"),
            XlCommand::Create {
                config: String::from("a.cfg"),
                paused: true,
                console: true,
                overrides: alloc::vec![String::from("memory=64"), String::from("name=x")]
            }
        );
        assert_eq!(
            parse("create -pc memory=64 a.cfg"),
            XlCommand::Create {
                config: String::from("a.cfg"),
                paused: true,
                console: true,
                overrides: alloc::vec![String::from("memory=64")]
            }
        );
        assert_eq!(
            parse("create --defconfig=b.cfg"),
            XlCommand::Create {
                config: String::from("b.cfg"),
                paused: false,
                console: false,
                overrides: Vec::new()
            }
        );
        assert_eq!(
            parse("create -h"),
            XlCommand::Help(Some(String::from("create")))
        );
        assert!(
            err("create").starts_with(
                "'xl create' requires at least 1 argument.\n\nUsage: xl [-vfN] create "
            )
        );
        assert!(err("create a.cfg b.cfg").starts_with("Usage: xl [-vfN] create <ConfigFile>"));
        assert_eq!(err("create a.cfg -q"), "option `q' not supported.\n");
        assert_eq!(err("create a.cfg -f"), "option `f' not supported.\n");
    }

    #[test]
    fn list() {
        assert_eq!(
            parse("list"),
            XlCommand::List {
                long: false,
                domains: Vec::new()
            }
        );
        assert_eq!(
            parse("xl list -l 3 guest"),
            XlCommand::List {
                long: true,
                domains: alloc::vec![DomSpec::Id(3), name("guest")]
            }
        );
        assert_eq!(
            parse("li --long"),
            XlCommand::List {
                long: true,
                domains: Vec::new()
            }
        );
        assert_eq!(err("list -v"), "option `v' not supported.\n");
        assert_eq!(err("list --numa"), "option `--numa' not supported.\n");
        assert_eq!(
            parse("list --help"),
            XlCommand::Help(Some(String::from("list")))
        );
    }

    #[test]
    fn domain_commands() {
        assert_eq!(
            parse("destroy guest"),
            XlCommand::Destroy {
                domain: name("guest"),
                force: false
            }
        );
        assert_eq!(
            parse("destroy -f 0"),
            XlCommand::Destroy {
                domain: DomSpec::Id(0),
                force: true
            }
        );
        assert_eq!(parse("pause 2"), XlCommand::Pause(DomSpec::Id(2)));
        assert_eq!(parse("unpause g"), XlCommand::Unpause(name("g")));
        assert_eq!(parse("console g"), XlCommand::Console(name("g")));
        assert_eq!(
            parse("rename g h"),
            XlCommand::Rename {
                domain: name("g"),
                new_name: String::from("h")
            }
        );
        assert_eq!(parse("domid g"), XlCommand::Domid(String::from("g")));
        assert_eq!(parse("domname 4"), XlCommand::Domname(4));
        assert_eq!(err("domname x"), "Invalid domain id.\n\n");
        assert_eq!(err("domname 99999999999"), "Invalid domain id.\n\n");
        assert_eq!(
            err("pause"),
            "'xl pause' requires at least 1 argument.\n\n\
             Usage: xl [-vf] pause <Domain>\n\nPause execution of a domain.\n\n"
        );
        assert!(err("rename g").starts_with("'xl rename' requires at least 2 arguments.\n\n"));
        assert_eq!(err("pause -x g"), "option `x' not supported.\n");
        // `--` ends the options: a name may start with a dash.
        assert_eq!(parse("pause -- -odd"), XlCommand::Pause(name("-odd")));
    }

    #[test]
    fn shutdown_and_reboot() {
        assert_eq!(
            parse("shutdown g"),
            XlCommand::Shutdown {
                target: Target::Domain(name("g")),
                wait: false
            }
        );
        assert_eq!(
            parse("shutdown -w g"),
            XlCommand::Shutdown {
                target: Target::Domain(name("g")),
                wait: true
            }
        );
        assert_eq!(
            parse("shutdown -wa"),
            XlCommand::Shutdown {
                target: Target::All,
                wait: true
            }
        );
        assert_eq!(
            parse("reboot --wait 5"),
            XlCommand::Reboot {
                target: Target::Domain(DomSpec::Id(5)),
                wait: true
            }
        );
        assert_eq!(
            parse("reboot -a --wait"),
            XlCommand::Reboot {
                target: Target::All,
                wait: true
            }
        );
        assert_eq!(err("shutdown"), "You must specify -a or a domain id.\n\n");
        assert_eq!(
            err("shutdown -w"),
            "You must specify -a or a domain id.\n\n"
        );
        assert_eq!(err("reboot -F g"), "option `F' not supported.\n");
    }

    #[test]
    fn memory() {
        assert_eq!(
            parse("mem-set g 64"),
            XlCommand::MemSet {
                domain: name("g"),
                mem_kib: 65536
            }
        );
        assert_eq!(
            parse("xl mem-max 3 128m"),
            XlCommand::MemMax {
                domain: DomSpec::Id(3),
                mem_kib: 131072
            }
        );
        assert_eq!(err("mem-set g lots"), "invalid memory size: lots\n");
        assert!(err("mem-set g").starts_with("'xl mem-set' requires at least 2 arguments."));
    }

    #[test]
    fn info_dmesg_uptime_vcpu_top() {
        assert_eq!(parse("info"), XlCommand::Info(None));
        assert_eq!(
            parse("info xen_version"),
            XlCommand::Info(Some(String::from("xen_version")))
        );
        assert_eq!(err("info -n"), "option `n' not supported.\n");
        assert_eq!(parse("dmesg"), XlCommand::Dmesg { clear: false });
        assert_eq!(parse("dmesg -c"), XlCommand::Dmesg { clear: true });
        assert_eq!(parse("dmesg --clear"), XlCommand::Dmesg { clear: true });
        assert_eq!(
            parse("uptime -s g 0"),
            XlCommand::Uptime {
                short: true,
                domains: alloc::vec![name("g"), DomSpec::Id(0)]
            }
        );
        assert_eq!(parse("vcpu-list"), XlCommand::VcpuList(Vec::new()));
        assert_eq!(
            parse("vcpu-list a 1"),
            XlCommand::VcpuList(alloc::vec![name("a"), DomSpec::Id(1)])
        );
        assert_eq!(parse("top"), XlCommand::Top);
        assert_eq!(err("top -d 1"), "option `d' not supported.\n");
    }

    #[test]
    fn sched_credit() {
        assert_eq!(
            parse("sched-credit"),
            XlCommand::SchedCredit {
                domain: None,
                weight: None,
                cap: None
            }
        );
        assert_eq!(
            parse("sched-credit -d g -w 512 -c 50"),
            XlCommand::SchedCredit {
                domain: Some(name("g")),
                weight: Some(512),
                cap: Some(50)
            }
        );
        assert_eq!(
            parse("sched-credit -dg -w512"),
            XlCommand::SchedCredit {
                domain: Some(name("g")),
                weight: Some(512),
                cap: None
            }
        );
        assert_eq!(
            parse("sched-credit --domain=3 --cap=0"),
            XlCommand::SchedCredit {
                domain: Some(DomSpec::Id(3)),
                weight: None,
                cap: Some(0)
            }
        );
        assert_eq!(
            parse("sched-credit -d 3"),
            XlCommand::SchedCredit {
                domain: Some(DomSpec::Id(3)),
                weight: None,
                cap: None
            }
        );
        assert_eq!(err("sched-credit -w 5"), "Must specify a domain.\n");
        assert_eq!(err("sched-credit -d g -w x"), "Invalid weight: 'x'.\n");
        assert_eq!(err("sched-credit -d g -w"), "option `w' not supported.\n");
        assert_eq!(err("sched-credit -s"), "option `s' not supported.\n");
    }

    #[test]
    fn help_sleep_exit_unknown() {
        assert_eq!(parse("help"), XlCommand::Help(None));
        assert_eq!(
            parse("xl help list"),
            XlCommand::Help(Some(String::from("list")))
        );
        assert_eq!(parse("sleep 2"), XlCommand::Sleep { millis: 2000 });
        assert_eq!(parse("sleep 0.5"), XlCommand::Sleep { millis: 500 });
        assert_eq!(parse("sleep .25"), XlCommand::Sleep { millis: 250 });
        assert_eq!(
            parse("sleep 86400"),
            XlCommand::Sleep { millis: 86_400_000 }
        );
        for bad in [
            "sleep",
            "sleep x",
            "sleep 1.2345",
            "sleep -1",
            "sleep .",
            "sleep 86401",
            "sleep 99999999999999999999",
        ] {
            assert!(
                err(bad).starts_with("sleep: invalid time interval '"),
                "{bad}"
            );
        }
        assert_eq!(parse("exit"), XlCommand::Exit);
        assert_eq!(err("frobnicate"), "command not implemented\n");
        assert_eq!(err("c x"), "command not implemented\n");
        assert_eq!(err("he"), "command not implemented\n");
        assert!(cmd_table::help_text(None).starts_with("Usage xl [-vfNtT]"));
    }

    #[test]
    fn hostile_lines_do_not_panic() {
        let mut seed: u64 = 0x1234_5678;
        let alphabet =
            b"xl -=ac-wdlpfhcreatelistd:0123456789 \t--helpsched-creditmem-set.#\xc3\xa9";
        for _ in 0..5000 {
            let mut line = alloc::vec::Vec::new();
            let len = (seed % 40) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                line.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let text = String::from_utf8_lossy(&line);
            let _ = parse_line(&text);
            seed = seed.wrapping_add(1);
        }
        // Multi-byte characters in option clusters.
        assert_eq!(err("list -é"), "option `é' not supported.\n");
        assert!(parse_line("sched-credit -dé").is_ok());
    }

    #[test]
    fn block_commands() {
        assert_eq!(
            parse("block-attach g phy:/dev/ram0,xvdb,w"),
            XlCommand::BlockAttach {
                domain: name("g"),
                spec: String::from("phy:/dev/ram0,xvdb,w")
            }
        );
        assert_eq!(
            parse("xl block-attach 3 target=/dev/hda2 vdev=xvdc access=r"),
            XlCommand::BlockAttach {
                domain: DomSpec::Id(3),
                spec: String::from("target=/dev/hda2,vdev=xvdc,access=r")
            }
        );
        assert_eq!(
            parse("block-detach g xvdb"),
            XlCommand::BlockDetach {
                domain: name("g"),
                device: String::from("xvdb"),
                force: false
            }
        );
        assert_eq!(
            parse("block-detach -f 2 51728"),
            XlCommand::BlockDetach {
                domain: DomSpec::Id(2),
                device: String::from("51728"),
                force: true
            }
        );
        assert_eq!(
            parse("block-list g 2"),
            XlCommand::BlockList(vec![name("g"), DomSpec::Id(2)])
        );
        assert!(
            err("block-attach g").starts_with("'xl block-attach' requires at least 2 arguments.")
        );
        assert!(
            err("block-detach g").starts_with("'xl block-detach' requires at least 2 arguments.")
        );
        assert!(err("block-list").starts_with("'xl block-list' requires at least 1 argument."));
        assert_eq!(err("block-list -x g"), "option `x' not supported.\n");
    }
}
