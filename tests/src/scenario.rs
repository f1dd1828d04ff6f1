//! Booting one scenario (hypervisor, guest arguments, stop condition, timeout) and returning its run.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use xtask::boot::{Boot, Hypervisor};
use xtask::qemu::{self, Run, RunOptions};
use xtask::script::Script;

use crate::images::images;

/// One boot of the guest kernel under a hypervisor.
pub struct Scenario {
    boot: Boot,
    options: RunOptions,
}

impl Scenario {
    /// Our guest with `guest_args` on xen-core; runs until QEMU exits or 180 s pass.
    pub fn xen_core(guest_args: &str) -> Self {
        let images = images();
        Self::new(Hypervisor::XenCore, images.xen_core.clone(), guest_args)
    }

    /// Our guest with `guest_args` on Xen 4.17 loaded from `image`; runs until QEMU exits or 300 s pass.
    pub fn xen_417(image: PathBuf, guest_args: &str) -> Self {
        let mut scenario = Self::new(Hypervisor::Xen417, image, guest_args);
        scenario.options.timeout = Duration::from_secs(300);
        scenario
    }

    /// A scenario with a ready-made boot (the benchmark boot, say) and run options.
    pub fn from_parts(boot: Boot, options: RunOptions) -> Self {
        Scenario { boot, options }
    }

    fn new(hypervisor: Hypervisor, image: PathBuf, guest_args: &str) -> Self {
        let mut boot = Boot::new(hypervisor, image, images().guest.clone());
        boot.dom0_args = guest_args.to_string();
        Scenario {
            boot,
            options: RunOptions::until_exit(Duration::from_secs(180)),
        }
    }

    /// Give Dom0 `ramdisk` as its initial ramdisk (the second boot module).
    pub fn ramdisk(mut self, ramdisk: PathBuf) -> Self {
        self.boot.ramdisk = Some(ramdisk);
        self
    }

    /// Give Dom0 our guest kernel as its initial ramdisk: the DomU image Dom0's domain builder
    /// loads (one PV kernel that is Dom0 or DomU).
    pub fn guest_ramdisk(self) -> Self {
        let guest = images().guest.clone();
        self.ramdisk(guest)
    }

    /// Stop once the output contains `text` (QEMU is killed unless [`Scenario::linger`] lets it exit).
    pub fn stop_at(mut self, text: &str) -> Self {
        self.options = self.options.stop_at(text);
        self
    }

    /// Stop once `predicate` holds for the output so far.
    pub fn stop_when(mut self, predicate: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.options = self.options.stop_when(predicate);
        self
    }

    /// After the stop text, wait up to `linger` for QEMU to exit by itself.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.options = self.options.linger(linger);
        self
    }

    /// Type `script` into the serial console (Dom0's console input) as the output asks for it:
    /// each line once the output since the previous one ends with a prompt (`# `), `@send`
    /// lines at once, `@wait TEXT` for TEXT (see `xtask::script`). Panics on a malformed script.
    pub fn input(mut self, script: &str) -> Self {
        match Script::parse(script) {
            Ok(script) => self.options = self.options.input(script),
            Err(why) => panic!("bad input script: {why}"),
        }
        self
    }

    /// Attach the raw image `path` as the primary IDE disk.
    pub fn disk(mut self, path: PathBuf) -> Self {
        self.options = self.options.disk(path);
        self
    }

    /// Give up after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Boots and collects the run. One QEMU at a time per test binary, so that timeouts measure the
    /// boot and not the wait for a CPU; panics if QEMU cannot be started.
    pub fn boot(self) -> Run {
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        // A test that panicked while holding the lock leaves nothing to repair.
        let _turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match qemu::run_captured(&self.boot, &self.options) {
            Ok(run) => run,
            Err(why) => panic!("cannot boot {}: {why}", self.boot.hypervisor.name()),
        }
    }
}
