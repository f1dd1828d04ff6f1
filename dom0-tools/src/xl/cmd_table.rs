//! The commands the shell knows, with xl's descriptions and usage lines, and `help`'s text.
//
// Names, descriptions and usage strings are xl's (Xen 4.17 `xl_cmdtable.c`), in xl's order; the
// option lists are cut down to the options we take, and `console` and `info` show only the
// arguments we take. `sleep` and `exit` are the shell's own (for scripts), listed apart.

use alloc::string::String;
use core::fmt::Write;

/// One command of the table.
#[derive(Debug, PartialEq, Eq)]
pub struct CmdSpec {
    /// Its name.
    pub name: &'static str,
    /// Takes xl's global `-N` (dry run).
    pub can_dryrun: bool,
    /// Changes something (takes xl's global `-f`).
    pub modifies: bool,
    /// One-line description.
    pub desc: &'static str,
    /// Arguments, after the name.
    pub usage: &'static str,
    /// Option lines, if any.
    pub options: Option<&'static str>,
}

const fn cmd(
    name: &'static str,
    can_dryrun: bool,
    modifies: bool,
    desc: &'static str,
    usage: &'static str,
    options: Option<&'static str>,
) -> CmdSpec {
    CmdSpec {
        name,
        can_dryrun,
        modifies,
        desc,
        usage,
        options,
    }
}

const MEM_USAGE: &str = "<Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>";

/// The xl commands we implement, in xl's order.
pub static XL_COMMANDS: [CmdSpec; 22] = [
    cmd(
        "create",
        true,
        true,
        "Create a domain from config file <filename>",
        "<ConfigFile> [options] [vars]",
        Some(
            "-h                      Print this help.\n\
             -p                      Leave the domain paused after it is created.\n\
             -c                      Connect to the console after the domain is created.\n\
             -f FILE, --defconfig=FILE\n                     Use the given configuration file.",
        ),
    ),
    cmd(
        "list",
        false,
        false,
        "List information about all/some domains",
        "[options] [Domain]\n",
        Some("-l, --long              Output all VM details"),
    ),
    cmd(
        "destroy",
        false,
        true,
        "Terminate a domain immediately",
        "[options] <Domain>\n",
        Some(
            "-f                      Permit destroying domain 0, which will only succeed\n\
             \x20                       when run from disaggregated toolstack domain with a\n\
             \x20                       hardware domain distinct from domain 0.",
        ),
    ),
    cmd(
        "shutdown",
        false,
        true,
        "Issue a shutdown signal to a domain",
        "[options] <-a|Domain>",
        Some(
            "-a, --all               Shutdown all guest domains.\n\
             -h                      Print this help.\n\
             -w, --wait              Wait for guest(s) to shutdown.\n",
        ),
    ),
    cmd(
        "reboot",
        false,
        true,
        "Issue a reboot signal to a domain",
        "[options] <-a|Domain>",
        Some(
            "-a, --all               Shutdown all guest domains.\n\
             -h                      Print this help.\n\
             -w, --wait              Wait for guest(s) to reboot.\n",
        ),
    ),
    cmd(
        "pause",
        false,
        true,
        "Pause execution of a domain",
        "<Domain>",
        None,
    ),
    cmd(
        "unpause",
        false,
        true,
        "Unpause a paused domain",
        "<Domain>",
        None,
    ),
    cmd(
        "console",
        false,
        false,
        "Attach to domain's console",
        "<Domain>",
        None,
    ),
    cmd(
        "mem-max",
        false,
        true,
        "Set the maximum amount reservation for a domain",
        MEM_USAGE,
        None,
    ),
    cmd(
        "mem-set",
        false,
        true,
        "Set the current memory usage for a domain",
        MEM_USAGE,
        None,
    ),
    cmd(
        "vcpu-list",
        false,
        false,
        "List the VCPUs for all/some domains",
        "[Domain, ...]",
        None,
    ),
    cmd(
        "info",
        false,
        false,
        "Get information about Xen host",
        "[Field]",
        None,
    ),
    cmd(
        "sched-credit",
        false,
        true,
        "Get/set credit scheduler parameters",
        "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]]",
        Some(
            "-d DOMAIN, --domain=DOMAIN        Domain to modify\n\
             -w WEIGHT, --weight=WEIGHT        Weight (int)\n\
             -c CAP, --cap=CAP                 Cap (int)",
        ),
    ),
    cmd(
        "domid",
        false,
        false,
        "Convert a domain name to domain id",
        "<DomainName>",
        None,
    ),
    cmd(
        "domname",
        false,
        false,
        "Convert a domain id to domain name",
        "<DomainId>",
        None,
    ),
    cmd(
        "rename",
        false,
        true,
        "Rename a domain",
        "<Domain> <NewDomainName>",
        None,
    ),
    cmd(
        "dmesg",
        false,
        false,
        "Read and/or clear dmesg buffer",
        "[-c]",
        Some("  -c                        Clear dmesg buffer as well as printing it"),
    ),
    cmd(
        "top",
        false,
        false,
        "Monitor a host and the domains in real time",
        "",
        None,
    ),
    cmd(
        "block-attach",
        true,
        true,
        "Create a new virtual block device",
        "<Domain> <disk-spec-component(s)>...",
        None,
    ),
    cmd(
        "block-list",
        false,
        false,
        "List virtual block devices for a domain",
        "<Domain(s)>",
        None,
    ),
    cmd(
        "block-detach",
        false,
        true,
        "Destroy a domain's virtual block device",
        "<Domain> <DevId>",
        Some("-f, --force             Do not wait for the guest to let go of the device."),
    ),
    cmd(
        "uptime",
        false,
        false,
        "Print uptime for all/some domains",
        "[-s] [Domain]",
        None,
    ),
];

/// The shell's own commands (not xl's).
pub static SHELL_BUILTINS: [CmdSpec; 2] = [
    cmd(
        "sleep",
        false,
        false,
        "Wait <Seconds> (decimals allowed) before the next command",
        "<Seconds>",
        None,
    ),
    cmd("exit", false, false, "Leave the xl shell", "", None),
];

/// The xl command `word` names: an exact name, or as xl an abbreviation that starts only one
/// command's name (among the commands above).
pub fn lookup(word: &str) -> Option<&'static CmdSpec> {
    let mut found = None;
    let mut count = 0;
    for spec in XL_COMMANDS.iter() {
        if spec.name == word {
            return Some(spec);
        }
        if !word.is_empty() && spec.name.starts_with(word) {
            found = Some(spec);
            count += 1;
        }
    }
    if count == 1 { found } else { None }
}

/// The shell builtin named exactly `word`.
pub fn lookup_builtin(word: &str) -> Option<&'static CmdSpec> {
    SHELL_BUILTINS.iter().find(|spec| spec.name == word)
}

/// One command's help, as xl's `help COMMAND` prints it.
pub fn command_help(spec: &CmdSpec) -> String {
    let mut out = String::new();
    if lookup_builtin(spec.name).is_some() {
        let _ = write!(
            out,
            "Usage: {} {}\n\n{}.\n\n",
            spec.name, spec.usage, spec.desc
        );
    } else {
        let _ = write!(
            out,
            "Usage: xl [-v{}{}] {} {}\n\n{}.\n\n",
            if spec.modifies { "f" } else { "" },
            if spec.can_dryrun { "N" } else { "" },
            spec.name,
            spec.usage,
            spec.desc
        );
    }
    if let Some(options) = spec.options {
        let _ = writeln!(out, "Options:\n\n{options}");
    }
    out
}

/// `help` (every command, one line each) or `help COMMAND`, as xl prints them.
pub fn help_text(command: Option<&str>) -> String {
    match command {
        None | Some("help") => {
            let mut out = String::from(
                "Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:\n\n",
            );
            for spec in XL_COMMANDS.iter() {
                let _ = writeln!(out, " {:<19} {}", spec.name, spec.desc);
            }
            out.push_str("\nDom0 shell commands:\n\n");
            for spec in SHELL_BUILTINS.iter() {
                let _ = writeln!(out, " {:<19} {}", spec.name, spec.desc);
            }
            out
        }
        Some(word) => match lookup(word).or_else(|| lookup_builtin(word)) {
            Some(spec) => command_help(spec),
            None => alloc::format!("command \"{word}\" not implemented\n"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_exact_and_abbreviated() {
        assert_eq!(lookup("list").unwrap().name, "list");
        assert_eq!(lookup("li").unwrap().name, "list");
        assert_eq!(lookup("sched").unwrap().name, "sched-credit");
        assert!(lookup("c").is_none()); // create, console
        assert!(lookup("d").is_none()); // destroy, domid, domname, dmesg
        assert_eq!(lookup("dm").unwrap().name, "dmesg");
        assert!(lookup("").is_none());
        assert!(lookup("frobnicate").is_none());
        assert!(lookup("sleep").is_none());
        assert_eq!(lookup_builtin("sleep").unwrap().name, "sleep");
    }

    #[test]
    fn help_for_one_command() {
        assert_eq!(
            help_text(Some("pause")),
            "Usage: xl [-vf] pause <Domain>\n\nPause execution of a domain.\n\n"
        );
        assert_eq!(
            help_text(Some("list")),
            "Usage: xl [-v] list [options] [Domain]\n\n\nList information about all/some domains.\n\n\
             Options:\n\n-l, --long              Output all VM details\n"
        );
        assert!(help_text(Some("create")).starts_with(
            "Usage: xl [-vfN] create <ConfigFile> [options] [vars]\n\n\
             Create a domain from config file <filename>.\n\nOptions:\n\n-h "
        ));
        assert_eq!(
            help_text(Some("mem-set")),
            "Usage: xl [-vf] mem-set <Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>\n\n\
             Set the current memory usage for a domain.\n\n"
        );
        assert_eq!(
            help_text(Some("sleep")),
            "Usage: sleep <Seconds>\n\nWait <Seconds> (decimals allowed) before the next command.\n\n"
        );
        assert_eq!(
            help_text(Some("nope")),
            "command \"nope\" not implemented\n"
        );
    }

    #[test]
    fn help_lists_everything() {
        let text = help_text(None);
        assert!(text.starts_with(
            "Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:\n\n \
             create              Create a domain from config file <filename>\n \
             list                List information about all/some domains\n"
        ));
        assert!(text.contains("\n sched-credit        Get/set credit scheduler parameters\n"));
        assert!(text.ends_with(" exit                Leave the xl shell\n"));
        assert_eq!(help_text(Some("help")), text);
        for spec in XL_COMMANDS.iter() {
            assert!(spec.name.len() <= 19);
        }
    }
}
