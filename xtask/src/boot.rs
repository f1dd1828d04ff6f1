//! What to boot and how: the hypervisor, Dom0 and their command lines, rendered as QEMU arguments.

use std::ffi::OsString;
use std::path::PathBuf;

/// xen-core's command line (the hypervisor's `-append`).
pub const XEN_CORE_CMDLINE: &str = "console=com1 dom0_mem=64M";
/// Xen 4.17's command line, as in /tmp/common.md: a serial console, all log levels, one Dom0 vCPU.
pub const XEN_417_CMDLINE: &str = "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=64M noreboot dom0_max_vcpus=1 sched=credit";
/// Extra Xen 4.17 options for side-by-side benchmarks: speculation mitigations off.
pub const XEN_417_NO_MITIGATIONS: &str = "spec-ctrl=no xpti=false";
/// The arguments our pv-guest-kernel runs its self-test with.
pub const SELFTEST_ARGS: &str = "selftest";
/// The default Dom0 arguments of `cargo xtask run`: the `xl` toolstack shell.
pub const XL_ARGS: &str = "xl";

/// Which hypervisor QEMU loads with `-kernel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hypervisor {
    /// Ours, from `target/images/xen-core.elf32`.
    XenCore,
    /// The reference Xen 4.17 from Debian (see `xen417`).
    Xen417,
}

impl Hypervisor {
    /// The name used on the command line: `xen-core` or `xen-4.17`.
    pub fn name(self) -> &'static str {
        match self {
            Hypervisor::XenCore => "xen-core",
            Hypervisor::Xen417 => "xen-4.17",
        }
    }

    /// Parses a name as printed by [`Hypervisor::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "xen-core" => Some(Hypervisor::XenCore),
            "xen-4.17" => Some(Hypervisor::Xen417),
            _ => None,
        }
    }

    /// The command line this hypervisor always gets.
    pub fn base_cmdline(self) -> &'static str {
        match self {
            Hypervisor::XenCore => XEN_CORE_CMDLINE,
            Hypervisor::Xen417 => XEN_417_CMDLINE,
        }
    }

    /// Guest memory in MiB: Xen 4.17 wants more room for itself than xen-core.
    pub fn memory_mib(self) -> u32 {
        match self {
            Hypervisor::XenCore => 512,
            Hypervisor::Xen417 => 1024,
        }
    }
}

/// Where the serial console goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// `-serial mon:stdio`: the user's terminal, with QEMU's monitor behind Ctrl-A C.
    Terminal,
    /// `-serial stdio`: a pipe read by the runner.
    Pipe,
}

/// One boot: hypervisor image, Dom0 kernel, their arguments and QEMU modes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    /// Which hypervisor `image` is.
    pub hypervisor: Hypervisor,
    /// The hypervisor image given to `-kernel` (a Multiboot ELF32 or Xen's image).
    pub image: PathBuf,
    /// The Dom0 kernel: the first Multiboot module.
    pub dom0: PathBuf,
    /// Dom0's command line (the rest of the module string).
    pub dom0_args: String,
    /// Dom0's initial ramdisk: the second Multiboot module, which the hypervisor maps into
    /// Dom0's initial mapping and names in start_info (`mod_start`, `mod_len`). Our Dom0
    /// takes the DomU kernel image from it.
    pub ramdisk: Option<PathBuf>,
    /// Appended to the hypervisor's base command line.
    pub extra_cmdline: String,
    /// Run with `-icount shift=0,sleep=off` (one TSC tick per instruction).
    pub icount: bool,
    /// Add `-s -S`: wait for a debugger on TCP port 1234.
    pub gdb: bool,
}

impl Boot {
    /// A boot of `dom0` (no arguments) under `hypervisor` loaded from `image`.
    pub fn new(hypervisor: Hypervisor, image: PathBuf, dom0: PathBuf) -> Self {
        Boot {
            hypervisor,
            image,
            dom0,
            dom0_args: String::new(),
            ramdisk: None,
            extra_cmdline: String::new(),
            icount: false,
            gdb: false,
        }
    }

    /// The hypervisor's full command line: the base line plus any extra options.
    pub fn hypervisor_cmdline(&self) -> String {
        join_words(self.hypervisor.base_cmdline(), &self.extra_cmdline)
    }

    /// The `-initrd` value: Dom0's path and arguments, then the ramdisk's path if there is
    /// one, separated by a comma (QEMU splits modules on `,`; commas inside a module are
    /// doubled).
    pub fn initrd(&self) -> OsString {
        let mut module = self.dom0.clone().into_os_string();
        let args = self.dom0_args.trim();
        if !args.is_empty() {
            module.push(" ");
            module.push(args);
        }
        let mut value = module.to_string_lossy().replace(',', ",,");
        if let Some(ramdisk) = &self.ramdisk {
            value.push(',');
            value.push_str(&ramdisk.to_string_lossy().replace(',', ",,"));
        }
        OsString::from(value)
    }

    /// The full QEMU argument list (without the program name).
    pub fn qemu_args(&self, console: Console) -> Vec<OsString> {
        let serial = match console {
            Console::Terminal => "mon:stdio",
            Console::Pipe => "stdio",
        };
        let memory = self.hypervisor.memory_mib().to_string();
        let mut args: Vec<OsString> = [
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-m",
            &memory,
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            serial,
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        args.push(self.image.clone().into_os_string());
        args.push("-append".into());
        args.push(self.hypervisor_cmdline().into());
        args.push("-initrd".into());
        args.push(self.initrd());
        if self.icount {
            args.push("-icount".into());
            args.push("shift=0,sleep=off".into());
        }
        if self.gdb {
            args.push("-s".into());
            args.push("-S".into());
        }
        args
    }
}

/// `a` and `b` joined by one space, either may be empty.
fn join_words(a: &str, b: &str) -> String {
    match (a.trim(), b.trim()) {
        ("", b) => b.to_string(),
        (a, "") => a.to_string(),
        (a, b) => format!("{a} {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn xen_core_boot() -> Boot {
        let mut boot = Boot::new(
            Hypervisor::XenCore,
            "/t/images/xen-core.elf32".into(),
            "/t/images/pv-guest-kernel".into(),
        );
        boot.dom0_args = SELFTEST_ARGS.into();
        boot
    }

    #[test]
    fn xen_core_command_line_matches_the_documented_one() {
        let args = strings(&xen_core_boot().qemu_args(Console::Terminal));
        let expected = [
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-m",
            "512",
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "mon:stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel",
            "/t/images/xen-core.elf32",
            "-append",
            "console=com1 dom0_mem=64M",
            "-initrd",
            "/t/images/pv-guest-kernel selftest",
        ];
        assert_eq!(args, expected);
    }

    #[test]
    fn xen_417_gets_more_memory_and_its_own_command_line() {
        let mut boot = xen_core_boot();
        boot.hypervisor = Hypervisor::Xen417;
        boot.extra_cmdline = XEN_417_NO_MITIGATIONS.into();
        let args = strings(&boot.qemu_args(Console::Pipe));
        assert_eq!(args[5], "1024");
        assert_eq!(args[10], "stdio");
        assert_eq!(
            boot.hypervisor_cmdline(),
            "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=64M noreboot \
             dom0_max_vcpus=1 sched=credit spec-ctrl=no xpti=false"
        );
    }

    #[test]
    fn commas_in_the_module_string_are_doubled() {
        let mut boot = xen_core_boot();
        boot.dom0_args = "a=1,2 b".into();
        assert_eq!(
            boot.initrd(),
            OsString::from("/t/images/pv-guest-kernel a=1,,2 b")
        );
        boot.dom0_args = "  ".into();
        assert_eq!(boot.initrd(), OsString::from("/t/images/pv-guest-kernel"));
    }

    #[test]
    fn a_ramdisk_is_the_second_module() {
        let mut boot = xen_core_boot();
        boot.ramdisk = Some("/t/images/pv-guest-kernel".into());
        assert_eq!(
            boot.initrd(),
            OsString::from("/t/images/pv-guest-kernel selftest,/t/images/pv-guest-kernel")
        );
        boot.dom0_args = "domains=a,b".into();
        boot.ramdisk = Some("/t/odd,name".into());
        assert_eq!(
            boot.initrd(),
            OsString::from("/t/images/pv-guest-kernel domains=a,,b,/t/odd,,name")
        );
        let args = strings(&boot.qemu_args(Console::Pipe));
        let at = args.iter().position(|a| a == "-initrd").unwrap();
        assert_eq!(
            args[at + 1],
            "/t/images/pv-guest-kernel domains=a,,b,/t/odd,,name"
        );
    }

    #[test]
    fn icount_and_gdb_come_last() {
        let mut boot = xen_core_boot();
        boot.icount = true;
        boot.gdb = true;
        boot.extra_cmdline = "bench".into();
        let args = strings(&boot.qemu_args(Console::Pipe));
        assert_eq!(
            &args[args.len() - 4..],
            ["-icount", "shift=0,sleep=off", "-s", "-S"]
        );
        assert!(args.contains(&"console=com1 dom0_mem=64M bench".to_string()));
    }

    #[test]
    fn hypervisor_names_round_trip() {
        for hv in [Hypervisor::XenCore, Hypervisor::Xen417] {
            assert_eq!(Hypervisor::from_name(hv.name()), Some(hv));
        }
        assert_eq!(Hypervisor::from_name("xen"), None);
    }
}
