//! A PV domain's typed configuration from an xl.cfg file, with xl's defaults and checks.
//
// Keys read: `name` and `kernel` (required), `ramdisk`, `cmdline`/`root`/`extra`, `memory`,
// `maxmem`, `vcpus`, `cpu_weight`, `cap`, `on_poweroff`, `on_reboot`, `on_crash`, `disk`,
// `vif`, and `type`/`builder` (only a PV guest is accepted). Every other key is ignored, as
// xl ignores keys it does not read, and listed in [`DomainConfig::ignored_keys`].
//
// As in xl, a string key also takes an unquoted number (`name = 12` is the name "12") and a
// number key takes a quoted one (`memory = "16"`); numbers are C `strtol` base 0 (so `010` is
// eight). A number made with `+=` is an error (xl: "can't use += with numbers").

use super::disk::{DiskSpec, parse_disk_spec};
use super::error::{ConfigError, ConfigWarning};
use super::number::{NumberError, parse_long};
use super::syntax::{Config, Setting, Value};
use super::vif::{VifSpec, parse_vif_spec};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// libxl's memory when the file gives none, MiB.
pub const DEFAULT_MEMORY_MIB: u64 = 32;
/// Largest `memory`/`maxmem`, MiB: the KiB value must fit in a signed 64-bit number as in xl.
pub const MAX_MEMORY_MIB: u64 = (i64::MAX as u64) >> 10;
/// Most vCPUs a domain may ask for (Xen's HVM_MAX_VCPUS; more than this Dom0 can run anyway).
pub const MAX_VCPUS: u32 = 128;
/// The credit scheduler's default weight.
pub const DEFAULT_CPU_WEIGHT: u32 = 256;
/// Largest credit weight.
pub const MAX_CPU_WEIGHT: u32 = 65535;
/// Largest cap, percent of one CPU (the domctl field is 16 bits).
pub const MAX_CAP: u32 = 65535;
/// Longest domain name, bytes.
pub const MAX_NAME_LEN: usize = 64;

/// What the toolstack does when a domain shuts down for a given reason (xl.cfg "ACTION").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `destroy`: destroy the domain.
    Destroy,
    /// `restart`: destroy it and create a new one from the same configuration.
    Restart,
    /// `rename-restart`: rename the old domain, keep it, and create a new one.
    RenameRestart,
    /// `preserve`: keep the domain (shut down) until `xl destroy`.
    Preserve,
    /// `coredump-destroy`: write a core dump, then destroy.
    CoredumpDestroy,
    /// `coredump-restart`: write a core dump, then restart.
    CoredumpRestart,
}

impl Action {
    /// The action named `name` (xl's spelling). `soft-reset` is refused: it is for HVM guests.
    pub fn from_name(name: &str) -> Option<Action> {
        Some(match name {
            "destroy" => Action::Destroy,
            "restart" => Action::Restart,
            "rename-restart" => Action::RenameRestart,
            "preserve" => Action::Preserve,
            "coredump-destroy" => Action::CoredumpDestroy,
            "coredump-restart" => Action::CoredumpRestart,
            _ => return None,
        })
    }

    /// xl's name of the action.
    pub fn name(self) -> &'static str {
        match self {
            Action::Destroy => "destroy",
            Action::Restart => "restart",
            Action::RenameRestart => "rename-restart",
            Action::Preserve => "preserve",
            Action::CoredumpDestroy => "coredump-destroy",
            Action::CoredumpRestart => "coredump-restart",
        }
    }

    /// What a toolstack without core dumps does: `coredump-destroy` is `destroy`,
    /// `coredump-restart` is `restart`; `rename-restart` keeps its meaning (the caller renames
    /// the old domain, or treats it as `restart` if it cannot).
    pub fn without_coredump(self) -> Action {
        match self {
            Action::CoredumpDestroy => Action::Destroy,
            Action::CoredumpRestart => Action::Restart,
            other => other,
        }
    }
}

/// A key the parser did not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredKey {
    /// The key.
    pub name: String,
    /// Its line.
    pub line: u32,
}

/// Everything `xl create` needs to build a PV domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainConfig {
    /// `name`: the domain's name.
    pub name: String,
    /// `kernel`: path of the kernel image.
    pub kernel: String,
    /// `ramdisk`: path of the initial ramdisk.
    pub ramdisk: Option<String>,
    /// The kernel command line: `cmdline` if set; else `root=ROOT EXTRA`, `root=ROOT` or
    /// `EXTRA` from `root`/`extra` (xl's rule); `None` if none of them is set.
    pub cmdline: Option<String>,
    /// `memory`: initial memory, MiB (default 32, as libxl).
    pub memory_mib: u64,
    /// `maxmem`: most memory the guest may balloon up to, MiB (default `memory`).
    pub maxmem_mib: u64,
    /// `vcpus`: vCPUs online at start (default 1).
    pub vcpus: u32,
    /// `cpu_weight`: credit scheduler weight, 1..=65535 (default 256).
    pub cpu_weight: u32,
    /// `cap`: most CPU the domain may use, percent of one CPU; 0 (default) is no cap.
    pub cap: u32,
    /// `on_poweroff` (default destroy).
    pub on_poweroff: Action,
    /// `on_reboot` (default restart).
    pub on_reboot: Action,
    /// `on_crash` (default destroy).
    pub on_crash: Action,
    /// `disk`: the parsed DISKSPECs.
    pub disks: Vec<DiskSpec>,
    /// `vif`: the parsed VIFSPECs.
    pub vifs: Vec<VifSpec>,
    /// Keys present in the file and not read (xl ignores them silently; the caller may warn).
    pub ignored_keys: Vec<IgnoredKey>,
    /// What xl would warn about (e.g. `root`/`extra` ignored beside `cmdline`).
    pub warnings: Vec<ConfigWarning>,
}

/// Keys this parser reads.
const KNOWN_KEYS: [&str; 18] = [
    "name",
    "kernel",
    "ramdisk",
    "cmdline",
    "root",
    "extra",
    "memory",
    "maxmem",
    "vcpus",
    "cpu_weight",
    "cap",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "disk",
    "vif",
    "type",
    "builder",
];

impl DomainConfig {
    /// Parses and checks the bytes of an xl.cfg file.
    pub fn parse(input: &[u8]) -> Result<DomainConfig, ConfigError> {
        DomainConfig::from_config(&Config::parse(input)?)
    }

    /// The typed configuration from parsed settings.
    pub fn from_config(config: &Config) -> Result<DomainConfig, ConfigError> {
        let mut warnings = Vec::new();
        guest_type(config)?;
        let name = required_string(config, "name")?;
        check_name(&name.0, name.1)?;
        let kernel = required_string(config, "kernel")?;
        if kernel.0.is_empty() {
            return Err(ConfigError::new(kernel.1, "kernel: empty path"));
        }
        let ramdisk = string(config, "ramdisk")?.filter(|r| !r.is_empty());
        let cmdline = cmdline(config, &mut warnings)?;

        let memory_mib = number(config, "memory", 1, MAX_MEMORY_MIB)?.unwrap_or(DEFAULT_MEMORY_MIB);
        let maxmem_mib = match number(config, "maxmem", 1, MAX_MEMORY_MIB)? {
            None => memory_mib,
            Some(maxmem) if maxmem < memory_mib => {
                let line = config.get("maxmem").map_or(0, |s| s.line);
                return Err(ConfigError::new(
                    line,
                    format!("maxmem: {maxmem} is less than memory ({memory_mib})"),
                ));
            }
            Some(maxmem) => maxmem,
        };
        let vcpus = number(config, "vcpus", 1, u64::from(MAX_VCPUS))?.unwrap_or(1);
        let cpu_weight = number(config, "cpu_weight", 1, u64::from(MAX_CPU_WEIGHT))?
            .unwrap_or(u64::from(DEFAULT_CPU_WEIGHT));
        let cap = number(config, "cap", 0, u64::from(MAX_CAP))?.unwrap_or(0);

        let disks = specs(config, "disk", parse_disk_spec)?;
        let vifs = specs(config, "vif", parse_vif_spec)?;

        let ignored_keys = config
            .settings()
            .iter()
            .filter(|s| !KNOWN_KEYS.contains(&s.name.as_str()))
            .map(|s| IgnoredKey {
                name: s.name.clone(),
                line: s.line,
            })
            .collect();

        Ok(DomainConfig {
            name: name.0,
            kernel: kernel.0,
            ramdisk,
            cmdline,
            memory_mib,
            maxmem_mib,
            // The bounds above keep these in range.
            vcpus: u32::try_from(vcpus).unwrap_or(1),
            cpu_weight: u32::try_from(cpu_weight).unwrap_or(DEFAULT_CPU_WEIGHT),
            cap: u32::try_from(cap).unwrap_or(0),
            on_poweroff: action(config, "on_poweroff", Action::Destroy)?,
            on_reboot: action(config, "on_reboot", Action::Restart)?,
            on_crash: action(config, "on_crash", Action::Destroy)?,
            disks,
            vifs,
            ignored_keys,
            warnings,
        })
    }

    /// Initial memory in KiB.
    pub fn memory_kib(&self) -> u64 {
        self.memory_mib.saturating_mul(1024)
    }

    /// Maximum memory in KiB.
    pub fn maxmem_kib(&self) -> u64 {
        self.maxmem_mib.saturating_mul(1024)
    }
}

/// The text of a single-valued setting, or an error naming the key if it is a list.
fn atom(setting: &Setting) -> Result<&str, ConfigError> {
    setting.value.atom().ok_or_else(|| {
        ConfigError::new(
            setting.line,
            format!("{}: expected a single value, got a list", setting.name),
        )
    })
}

fn string(config: &Config, key: &str) -> Result<Option<String>, ConfigError> {
    config
        .get(key)
        .map(|s| atom(s).map(ToString::to_string))
        .transpose()
}

/// A required string key and its line.
fn required_string(config: &Config, key: &str) -> Result<(String, u32), ConfigError> {
    match config.get(key) {
        Some(setting) => Ok((atom(setting)?.to_string(), setting.line)),
        None => Err(ConfigError::new(
            0,
            format!("missing required key \"{key}\""),
        )),
    }
}

/// A name that the `xl` shell can address and xenstore can hold: not empty, not all digits
/// (it would read as a domain id), no white space, control characters or `/`.
fn check_name(name: &str, line: u32) -> Result<(), ConfigError> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("is longer than 64 bytes")
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        Some("is all digits (it would read as a domain id)")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Some("contains white space, a control character or \"/\"")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ConfigError::new(
            line,
            format!("name: \"{}\" {problem}", name.escape_debug()),
        )),
        None => Ok(()),
    }
}

/// `type` and `builder`: only a PV guest.
fn guest_type(config: &Config) -> Result<(), ConfigError> {
    for (key, pv) in [("type", "pv"), ("builder", "generic")] {
        if let Some(setting) = config.get(key) {
            let value = atom(setting)?;
            if value != pv {
                return Err(ConfigError::new(
                    setting.line,
                    format!("{key}: \"{value}\" is not supported, only \"{pv}\" (PV guests)"),
                ));
            }
        }
    }
    Ok(())
}

/// xl's kernel command line from `cmdline`, `root` and `extra`.
fn cmdline(
    config: &Config,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<String>, ConfigError> {
    let cmdline = string(config, "cmdline")?;
    let root = string(config, "root")?;
    let extra = string(config, "extra")?;
    Ok(match (cmdline, root, extra) {
        (Some(cmdline), root, extra) => {
            if root.is_some() || extra.is_some() {
                let line = config.get("cmdline").map_or(0, |s| s.line);
                warnings.push(ConfigWarning {
                    line,
                    message: String::from("ignoring root= and extra= in favour of cmdline="),
                });
            }
            Some(cmdline)
        }
        (None, Some(root), Some(extra)) => Some(format!("root={root} {extra}")),
        (None, Some(root), None) => Some(format!("root={root}")),
        (None, None, extra) => extra,
    })
}

/// A number key within `min..=max`, or `None` if the file does not set it.
fn number(config: &Config, key: &str, min: u64, max: u64) -> Result<Option<u64>, ConfigError> {
    let Some(setting) = config.get(key) else {
        return Ok(None);
    };
    let text = atom(setting)?;
    let error = |message: String| Err(ConfigError::new(setting.line, message));
    if setting.appended {
        return error(format!("{key}: can't use += with numbers"));
    }
    match parse_long(text) {
        Err(NumberError::Invalid) => error(format!(
            "{key}: expected a number, got \"{}\"",
            text.escape_debug()
        )),
        Err(NumberError::OutOfRange) => error(format!("{key}: number out of range: \"{text}\"")),
        Ok(n) => match u64::try_from(n) {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => error(format!("{key}: {n} is out of range ({min} to {max})")),
        },
    }
}

fn action(config: &Config, key: &str, default: Action) -> Result<Action, ConfigError> {
    let Some(setting) = config.get(key) else {
        return Ok(default);
    };
    let name = atom(setting)?;
    Action::from_name(name).ok_or_else(|| {
        ConfigError::new(
            setting.line,
            format!("Unknown {key} action \"{}\" specified", name.escape_debug()),
        )
    })
}

/// A list of spec strings, each parsed by `parse`.
fn specs<T>(
    config: &Config,
    key: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    let Some(setting) = config.get(key) else {
        return Ok(Vec::new());
    };
    let Value::List(items) = &setting.value else {
        return Err(ConfigError::new(
            setting.line,
            format!("{key}: expected a list, got a single value"),
        ));
    };
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let error = |message: String| ConfigError::new(setting.line, message);
        let Value::Str(spec) = item else {
            return Err(error(format!(
                "{key}: entry {index} is not a quoted string"
            )));
        };
        let parsed = parse(spec).map_err(|why| {
            error(format!(
                "{key}: entry {index} \"{}\": {why}",
                spec.escape_debug()
            ))
        })?;
        out.push(parsed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::disk::{DiskAccess, DiskFormat};
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const MINIMAL: &[u8] = b"name = \"d1\"\nkernel = \"/boot/k\"\n";

    fn parse(extra: &str) -> Result<DomainConfig, ConfigError> {
        let mut text = MINIMAL.to_vec();
        text.extend_from_slice(extra.as_bytes());
        DomainConfig::parse(&text)
    }

    fn message(extra: &str) -> (u32, String) {
        let e = parse(extra).unwrap_err();
        (e.line, e.message)
    }

    #[test]
    fn defaults_follow_xl() {
        let c = parse("").unwrap();
        assert_eq!((c.name.as_str(), c.kernel.as_str()), ("d1", "/boot/k"));
        assert_eq!((&c.ramdisk, &c.cmdline), (&None, &None));
        assert_eq!((c.memory_mib, c.maxmem_mib), (32, 32));
        assert_eq!((c.memory_kib(), c.maxmem_kib()), (32768, 32768));
        assert_eq!((c.vcpus, c.cpu_weight, c.cap), (1, 256, 0));
        assert_eq!(
            (c.on_poweroff, c.on_reboot, c.on_crash),
            (Action::Destroy, Action::Restart, Action::Destroy)
        );
        assert!(c.disks.is_empty() && c.vifs.is_empty());
        assert!(c.ignored_keys.is_empty() && c.warnings.is_empty());
    }

    #[test]
    fn reads_every_key() {
        let c = parse(
            "ramdisk = '/boot/initrd'\ncmdline = 'console=hvc0'\nmemory = 0x10\nmaxmem = '64'\n\
             vcpus = 2\ncpu_weight = 512\ncap = 50\non_poweroff = 'preserve'\n\
             on_reboot = 'destroy'\non_crash = 'coredump-restart'\ntype = 'pv'\n\
             disk = [ 'phy:/dev/vg/d1,xvda,w', ]\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\n",
        )
        .unwrap();
        assert_eq!(c.ramdisk.as_deref(), Some("/boot/initrd"));
        assert_eq!(c.cmdline.as_deref(), Some("console=hvc0"));
        assert_eq!((c.memory_mib, c.maxmem_mib, c.vcpus), (16, 64, 2));
        assert_eq!((c.cpu_weight, c.cap), (512, 50));
        assert_eq!(c.on_poweroff, Action::Preserve);
        assert_eq!(c.on_reboot, Action::Destroy);
        assert_eq!(c.on_crash, Action::CoredumpRestart);
        assert_eq!(c.on_crash.without_coredump(), Action::Restart);
        assert_eq!(c.disks.len(), 1);
        assert_eq!(c.disks[0].target.as_deref(), Some("/dev/vg/d1"));
        assert_eq!(c.disks[0].vdev, "xvda");
        assert_eq!(
            (c.disks[0].format, c.disks[0].access),
            (DiskFormat::Raw, DiskAccess::ReadWrite)
        );
        assert_eq!(c.vifs[0].mac, Some([0, 0x16, 0x3e, 0, 0, 1]));
        assert_eq!(c.vifs[0].bridge.as_deref(), Some("xenbr0"));
    }

    #[test]
    fn command_line_from_root_and_extra_as_xl() {
        let c = parse("root = '/dev/xvda1 ro'\nextra = 'domu=shell'").unwrap();
        assert_eq!(c.cmdline.as_deref(), Some("root=/dev/xvda1 ro domu=shell"));
        let c = parse("root = '/dev/xvda1'").unwrap();
        assert_eq!(c.cmdline.as_deref(), Some("root=/dev/xvda1"));
        let c = parse("extra = 'domu=shell'\nextra += ' quiet'").unwrap();
        assert_eq!(c.cmdline.as_deref(), Some("domu=shell quiet"));
        let c = parse("extra = 'x'\ncmdline = 'y'").unwrap();
        assert_eq!(c.cmdline.as_deref(), Some("y"));
        assert_eq!(
            c.warnings,
            vec![ConfigWarning {
                line: 4,
                message: "ignoring root= and extra= in favour of cmdline=".to_string()
            }]
        );
    }

    #[test]
    fn unknown_keys_are_ignored_but_listed() {
        let c = parse("builder = 'generic'\nusbctrl = ['x']\nserial = 'pty'\nuuid = 'u'").unwrap();
        let names: Vec<(&str, u32)> = c
            .ignored_keys
            .iter()
            .map(|k| (k.name.as_str(), k.line))
            .collect();
        assert_eq!(names, vec![("usbctrl", 4), ("serial", 5), ("uuid", 6)]);
    }

    #[test]
    fn a_later_setting_wins() {
        let c = parse("memory = 8\nmemory = 24\nname = 'd9'").unwrap();
        assert_eq!((c.memory_mib, c.name.as_str()), (24, "d9"));
    }

    #[test]
    fn missing_required_keys_are_whole_file_errors() {
        let e = DomainConfig::parse(b"name = 'd1'\n").unwrap_err();
        assert_eq!(e, ConfigError::new(0, "missing required key \"kernel\""));
        assert_eq!(
            e.in_file("/etc/xen/d1.cfg").to_string(),
            "/etc/xen/d1.cfg: missing required key \"kernel\""
        );
        let e = DomainConfig::parse(b"").unwrap_err();
        assert_eq!(e.message, "missing required key \"name\"");
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let e = parse("\nmemory = 'lots'").unwrap_err();
        assert_eq!(
            e.in_file("/etc/xen/d1.cfg").to_string(),
            "/etc/xen/d1.cfg:4: memory: expected a number, got \"lots\""
        );
        assert_eq!(
            message("memory = 99999999999999999999999"),
            (
                3,
                "memory: number out of range: \"99999999999999999999999\"".into()
            )
        );
        assert_eq!(
            message("memory = 0"),
            (
                3,
                format!("memory: 0 is out of range (1 to {MAX_MEMORY_MIB})")
            )
        );
        assert_eq!(
            message("memory = 9007199254740992"),
            (
                3,
                format!("memory: 9007199254740992 is out of range (1 to {MAX_MEMORY_MIB})")
            )
        );
        assert_eq!(
            message("memory = 16\nmaxmem = 8"),
            (4, "maxmem: 8 is less than memory (16)".into())
        );
        assert_eq!(
            message("memory = 1\nmemory += 6").1,
            "memory: can't use += with numbers"
        );
        assert_eq!(
            message("vcpus = '-1'").1,
            "vcpus: -1 is out of range (1 to 128)"
        );
        assert!(
            message("vcpus = -1")
                .1
                .starts_with("unexpected character '-'")
        );
        assert_eq!(
            message("cpu_weight = 0").1,
            "cpu_weight: 0 is out of range (1 to 65535)"
        );
        assert_eq!(
            message("cpu_weight = 65536").1,
            "cpu_weight: 65536 is out of range (1 to 65535)"
        );
        assert_eq!(
            message("cap = 65536").1,
            "cap: 65536 is out of range (0 to 65535)"
        );
        assert_eq!(
            message("memory = [16]").1,
            "memory: expected a single value, got a list"
        );
        assert_eq!(
            message("on_crash = 'explode'"),
            (3, "Unknown on_crash action \"explode\" specified".into())
        );
        assert_eq!(
            message("on_reboot = 'soft-reset'").1,
            "Unknown on_reboot action \"soft-reset\" specified"
        );
        assert_eq!(message("kernel = ''").1, "kernel: empty path");
        assert_eq!(
            message("type = 'hvm'").1,
            "type: \"hvm\" is not supported, only \"pv\" (PV guests)"
        );
        assert_eq!(
            message("disk = 'xvda'").1,
            "disk: expected a list, got a single value"
        );
        assert_eq!(
            message("vif = [ 5 ]").1,
            "vif: entry 0 is not a quoted string"
        );
        assert_eq!(
            message("disk = [ '/a,,xvda', '/b' ]"),
            (3, "disk: entry 1 \"/b\": missing vdev".into())
        );
        assert_eq!(
            message("vif = [ 'mac=nope' ]").1,
            "vif: entry 0 \"mac=nope\": invalid mac address \"nope\""
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(message("name = ''").1, "name: \"\" is empty");
        assert_eq!(
            message("name = 42").1,
            "name: \"42\" is all digits (it would read as a domain id)"
        );
        assert!(message("name = 'a b'").1.contains("white space"));
        assert!(message("name = 'a/b'").1.contains("\"/\""));
        assert!(message("name = 'a\\tb'").1.contains("control"));
        assert!(
            message(&format!("name = '{}'", "n".repeat(65)))
                .1
                .contains("longer")
        );
        assert_eq!(
            parse("name = 'web-1.example_2'").unwrap().name,
            "web-1.example_2"
        );
    }

    #[test]
    fn action_names_round_trip() {
        for a in [
            Action::Destroy,
            Action::Restart,
            Action::RenameRestart,
            Action::Preserve,
            Action::CoredumpDestroy,
            Action::CoredumpRestart,
        ] {
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
        assert_eq!(Action::CoredumpDestroy.without_coredump(), Action::Destroy);
        assert_eq!(
            Action::RenameRestart.without_coredump(),
            Action::RenameRestart
        );
        assert_eq!(Action::from_name("soft-reset"), None);
    }
}
