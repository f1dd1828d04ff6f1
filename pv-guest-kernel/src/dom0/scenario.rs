//! The domain scenarios Dom0 runs (`domains=lifecycle|crash|churn|weights|cap|pingpong|shell`) and the steps they share.

use hypercall_abi::start_info::StartInfo;

use alloc::format;

use super::builder::{self, Domu, DomuSpec};
use super::session::Session;
use crate::arch::x86_64::boot;
use crate::conform_mm::guest;
use crate::selftest::report::{Detail, Outcome, Report};

/// Pages of a DomU that runs (8 MiB).
pub const DOMU_PAGES: u64 = 2048;
/// Generous bound for a DomU to boot, print and shut down under software emulation.
pub const RUN_TIMEOUT_MS: u64 = 120_000;
/// Bound for a destroyed domain to vanish.
pub const DESTROY_TIMEOUT_MS: u64 = 20_000;

/// A domain scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Build a DomU, see its output, wait for its poweroff, destroy it.
    Lifecycle,
    /// A DomU crashes while another runs: Dom0 is told, destroys it, the other keeps running.
    Crash,
    /// Create and destroy 100 domains; the free page count comes back.
    Churn,
    /// Two spinning DomUs with weights 512 and 256 get CPU time 2:1.
    Weights,
    /// A spinning DomU capped at 25% gets 25% of the CPU.
    Cap,
    /// Two DomUs ping-pong over an event channel and share a page by grant map and copy.
    Pingpong,
    /// A `domu=shell` DomU: ready line, commands typed on its console, poweroff by command.
    Shell,
}

impl Scenario {
    /// The scenario a command-line word names (`domains=...`).
    pub fn from_word(word: &[u8]) -> Option<Scenario> {
        match word {
            b"domains=lifecycle" => Some(Scenario::Lifecycle),
            b"domains=crash" => Some(Scenario::Crash),
            b"domains=churn" => Some(Scenario::Churn),
            b"domains=weights" => Some(Scenario::Weights),
            b"domains=cap" => Some(Scenario::Cap),
            b"domains=pingpong" => Some(Scenario::Pingpong),
            b"domains=shell" => Some(Scenario::Shell),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Lifecycle => "domains=lifecycle",
            Scenario::Crash => "domains=crash",
            Scenario::Churn => "domains=churn",
            Scenario::Weights => "domains=weights",
            Scenario::Cap => "domains=cap",
            Scenario::Pingpong => "domains=pingpong",
            Scenario::Shell => "domains=shell",
        }
    }
}

/// Runs `scenario` as Dom0, prints the verdict and powers off.
pub fn run(scenario: Scenario, start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run(
        scenario.name(),
        start_info,
        p2m,
        |_, report| match scenario {
            Scenario::Lifecycle => super::lifecycle::checks(report),
            Scenario::Crash => super::crash::checks(report),
            Scenario::Churn => super::churn::checks(report),
            Scenario::Weights => super::weights::checks(report),
            Scenario::Cap => super::cap::checks(report),
            Scenario::Pingpong => super::pingpong::checks(report),
            Scenario::Shell => super::domu_shell::checks(report),
        },
    )
}

/// Reports `name` with the outcome of `result`; the value if it passed.
pub fn step<T>(report: &mut Report, name: &str, result: Result<T, Detail>) -> Option<T> {
    match result {
        Ok(value) => {
            report.check(name, Ok(()));
            Some(value)
        }
        Err(detail) => {
            report.check(name, Err(detail));
            None
        }
    }
}

/// The first steps of a one-DomU scenario: a session, the DomU image, and a DomU with
/// `cmdline` built and left paused (checks `NAME.session`, `NAME.image`, `NAME.build`).
pub fn session_with_domu(
    report: &mut Report,
    name: &str,
    cmdline: &str,
) -> Option<(Session, Domu)> {
    let session = step(report, &format!("{name}.session"), Session::start())?;
    let image = step(report, &format!("{name}.image"), domu_image())?;
    let spec = DomuSpec {
        nr_pages: DOMU_PAGES,
        cmdline,
        ramdisk: &[],
        max_memkb: 0,
        xenstore: false,
        serial: 1,
    };
    let built = builder::build(image, &spec).map_err(|e| Detail::new(format_args!("{e}")));
    let domu = step(report, &format!("{name}.build"), built)?;
    Some((session, domu))
}

/// The DomU kernel image: our initial ramdisk.
pub fn domu_image() -> Result<&'static [u8], Detail> {
    boot::initrd().ok_or_else(|| {
        Detail::new(format_args!(
            "no initial ramdisk (boot the DomU kernel as Dom0's second module)"
        ))
    })
}

/// `Ok` if `cond`, else `Err` with the formatted detail.
pub fn ensure(cond: bool, detail: core::fmt::Arguments<'_>) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(Detail::new(detail))
    }
}
