//! The command line of `cargo xtask`: commands, options and the help text.

use std::path::PathBuf;

use crate::boot::Hypervisor;

/// The help text.
pub const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build                        build xen-core and pv-guest-kernel into target/images
  run [options]                build, then boot in QEMU with the serial console on this terminal
      --dom0 PATH              Dom0 kernel (default: our pv-guest-kernel with args `selftest`)
      --hypervisor NAME        xen-core (default) or xen-4.17 (Debian's, fetched on first use)
      --cmdline \"ARGS\"         Dom0's command line
      --ramdisk PATH           Dom0's initial ramdisk (the second boot module), e.g. a DomU kernel;
                               the default Dom0 gets its own kernel, for `domains=` scenarios
      --gdb                    wait for gdb on :1234 (QEMU -s -S)
      --script FILE            type FILE into the serial console, then stop QEMU (see below)
      --disk FILE              the raw image on the IDE disk that Dom0 drives (default:
                               target/images/disk.img, made on first use: an MBR with hda1 and
                               hda3 of 16 MiB empty, hda2 of 16 MiB filled with a pattern)
  test [-- CARGO-TEST-ARGS]    build, then `cargo test --workspace` with the images
  bench [--hypervisor NAME]    build; under -icount, boot the benchmark guest, time `xl create`,
                               and run the split drivers (block, TCP); print the figures
  help                         this text

QEMU exit status after `run`: 0 Dom0 powered off, 3 Dom0 crashed, 5 Dom0 asked for a reboot,
7 xen-core stopped on a fatal error. Quit QEMU with Ctrl-A X.

Scripts (`run --script FILE`, or piped: `echo list | cargo xtask run --cmdline ...`): one line
per step; each line is typed once the output since the previous one ends with a prompt (`# `);
`@send TEXT` types at once, `@wait TEXT` waits for TEXT, `^]` types Ctrl-] and waits for a
prompt; blank lines and `#` lines are skipped. QEMU stops once the last line is answered by a
prompt (`xtask: script done`).";

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Print the help text.
    Help,
    /// Build the images.
    Build,
    /// Build and boot interactively.
    Run(RunArgs),
    /// Build and run the workspace's tests, with these extra `cargo test` arguments.
    Test(Vec<String>),
    /// Build and run the benchmarks under this hypervisor.
    Bench(Hypervisor),
}

/// Options of `run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunArgs {
    /// Dom0 kernel; None means our pv-guest-kernel.
    pub dom0: Option<PathBuf>,
    /// Which hypervisor to boot.
    pub hypervisor: Hypervisor,
    /// Dom0's command line; None means the default for the chosen Dom0.
    pub cmdline: Option<String>,
    /// Dom0's initial ramdisk, if any.
    pub ramdisk: Option<PathBuf>,
    /// Wait for a debugger.
    pub gdb: bool,
    /// Type this script file into the serial console (`-` or none with a piped stdin: stdin).
    pub script: Option<PathBuf>,
    /// The disk image; None means the default one.
    pub disk: Option<PathBuf>,
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("no command given".into());
    };
    if command == "test" {
        return parse_test(rest);
    }
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Command::Help);
    }
    match command.as_str() {
        "help" | "--help" | "-h" => Ok(Command::Help),
        "build" => no_options("build", rest).map(|()| Command::Build),
        "run" => parse_run(rest).map(Command::Run),
        "bench" => parse_bench(rest).map(Command::Bench),
        other => Err(format!("unknown command `{other}`")),
    }
}

fn no_options(command: &str, rest: &[String]) -> Result<(), String> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!("`{command}` takes no argument `{arg}`")),
    }
}

fn parse_test(rest: &[String]) -> Result<Command, String> {
    match rest.split_first() {
        None => Ok(Command::Test(Vec::new())),
        Some((dashes, passed)) if dashes == "--" => Ok(Command::Test(passed.to_vec())),
        Some((first, _)) if first == "--help" || first == "-h" => Ok(Command::Help),
        Some((first, _)) => Err(format!(
            "`test` passes arguments to cargo after `--`: `cargo xtask test -- {first}`"
        )),
    }
}

fn parse_run(rest: &[String]) -> Result<RunArgs, String> {
    let mut run = RunArgs {
        dom0: None,
        hypervisor: Hypervisor::XenCore,
        cmdline: None,
        ramdisk: None,
        gdb: false,
        script: None,
        disk: None,
    };
    let mut options = Options::new(rest);
    while let Some(option) = options.next_option()? {
        match option.as_str() {
            "--dom0" => run.dom0 = Some(PathBuf::from(options.value(&option)?)),
            "--hypervisor" => run.hypervisor = hypervisor(&options.value(&option)?)?,
            "--cmdline" => run.cmdline = Some(options.value(&option)?),
            "--ramdisk" => run.ramdisk = Some(PathBuf::from(options.value(&option)?)),
            "--gdb" => options.flag(&option).map(|()| run.gdb = true)?,
            "--script" => run.script = Some(PathBuf::from(options.value(&option)?)),
            "--disk" => run.disk = Some(PathBuf::from(options.value(&option)?)),
            other => return Err(format!("`run` has no option `{other}`")),
        }
    }
    Ok(run)
}

fn parse_bench(rest: &[String]) -> Result<Hypervisor, String> {
    let mut chosen = Hypervisor::XenCore;
    let mut options = Options::new(rest);
    while let Some(option) = options.next_option()? {
        match option.as_str() {
            "--hypervisor" => chosen = hypervisor(&options.value(&option)?)?,
            other => return Err(format!("`bench` has no option `{other}`")),
        }
    }
    Ok(chosen)
}

fn hypervisor(name: &str) -> Result<Hypervisor, String> {
    Hypervisor::from_name(name)
        .ok_or_else(|| format!("unknown hypervisor `{name}` (xen-core or xen-4.17)"))
}

/// A cursor over `--name value` and `--name=value` options.
struct Options<'a> {
    args: &'a [String],
    next: usize,
    /// The `=value` part of the option being read.
    inline: Option<String>,
}

impl<'a> Options<'a> {
    fn new(args: &'a [String]) -> Self {
        Options {
            args,
            next: 0,
            inline: None,
        }
    }

    /// The next option's name.
    fn next_option(&mut self) -> Result<Option<String>, String> {
        let Some(arg) = self.args.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        if !arg.starts_with("--") {
            return Err(format!("unexpected argument `{arg}`"));
        }
        match arg.split_once('=') {
            Some((name, value)) => {
                self.inline = Some(value.to_string());
                Ok(Some(name.to_string()))
            }
            None => {
                self.inline = None;
                Ok(Some(arg.clone()))
            }
        }
    }

    /// The value of `option`: after `=`, or the next argument.
    fn value(&mut self, option: &str) -> Result<String, String> {
        if let Some(value) = self.inline.take() {
            return Ok(value);
        }
        let value = self
            .args
            .get(self.next)
            .ok_or_else(|| format!("`{option}` needs a value"))?;
        self.next += 1;
        Ok(value.clone())
    }

    /// Checks that the flag `option` was not given a value.
    fn flag(&mut self, option: &str) -> Result<(), String> {
        match self.inline.take() {
            None => Ok(()),
            Some(_) => Err(format!("`{option}` takes no value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(line: &str) -> Result<Command, String> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn parses_the_simple_commands() {
        assert_eq!(parse_words("build"), Ok(Command::Build));
        assert_eq!(parse_words("help"), Ok(Command::Help));
        assert_eq!(parse_words("--help"), Ok(Command::Help));
        assert_eq!(parse_words("run --help"), Ok(Command::Help));
        assert_eq!(
            parse_words("bench"),
            Ok(Command::Bench(Hypervisor::XenCore))
        );
        assert_eq!(
            parse_words("bench --hypervisor xen-4.17"),
            Ok(Command::Bench(Hypervisor::Xen417))
        );
        assert!(parse_words("").is_err());
        assert!(parse_words("frobnicate").is_err());
        assert!(parse_words("build --release").is_err());
    }

    #[test]
    fn run_defaults_to_xen_core_and_our_guest() {
        assert_eq!(
            parse_words("run"),
            Ok(Command::Run(RunArgs {
                dom0: None,
                hypervisor: Hypervisor::XenCore,
                cmdline: None,
                ramdisk: None,
                gdb: false,
                script: None,
                disk: None,
            }))
        );
    }

    #[test]
    fn run_takes_every_option_in_both_spellings() {
        let parsed = parse(&args(&[
            "run",
            "--dom0",
            "/k",
            "--hypervisor=xen-4.17",
            "--cmdline",
            "fault=hvwrite console=hvc0",
            "--ramdisk=/r",
            "--gdb",
            "--script",
            "list.txt",
            "--disk",
            "/d.img",
        ]));
        assert_eq!(
            parsed,
            Ok(Command::Run(RunArgs {
                dom0: Some("/k".into()),
                hypervisor: Hypervisor::Xen417,
                cmdline: Some("fault=hvwrite console=hvc0".into()),
                ramdisk: Some("/r".into()),
                gdb: true,
                script: Some("list.txt".into()),
                disk: Some("/d.img".into()),
            }))
        );
    }

    #[test]
    fn run_rejects_bad_options() {
        assert!(parse_words("run --dom0").is_err());
        assert!(parse_words("run --ramdisk").is_err());
        assert!(parse_words("run --script").is_err());
        assert!(parse_words("run --disk").is_err());
        assert!(parse_words("run --hypervisor kvm").is_err());
        assert!(parse_words("run --gdb=yes").is_err());
        assert!(parse_words("run --frob").is_err());
        assert!(parse_words("run stray").is_err());
    }

    #[test]
    fn test_passes_arguments_after_dashes() {
        assert_eq!(parse_words("test"), Ok(Command::Test(vec![])));
        assert_eq!(
            parse_words("test -- -p tests -- --nocapture"),
            Ok(Command::Test(args(&["-p", "tests", "--", "--nocapture"])))
        );
        assert_eq!(parse_words("test --help"), Ok(Command::Help));
        assert!(parse_words("test -p tests").is_err());
    }
}
