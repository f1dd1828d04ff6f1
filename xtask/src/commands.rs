//! The `cargo xtask` commands: build, run, test, bench; each returns the process exit status.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Command as Process;

use crate::boot::{Boot, Hypervisor, SELFTEST_ARGS};
use crate::cli::{Command, RunArgs, USAGE};
use crate::images::{self, Images};
use crate::test_summary::Totals;
use crate::{bench, exit_code, paths, process, qemu, toolchain, xen417};

/// Carries out `command`; Ok holds the exit status to leave with.
pub fn execute(command: Command) -> Result<i32, String> {
    match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(0)
        }
        Command::Build => setup_and_build().map(|_| 0),
        Command::Run(args) => run(args),
        Command::Test(cargo_args) => test(&cargo_args),
        Command::Bench(hypervisor) => run_bench(hypervisor),
    }
}

/// Setup, then the images.
fn setup_and_build() -> Result<Images, String> {
    toolchain::setup()?;
    let images = images::build()?;
    println!(
        "xtask: built {} and {}",
        images.xen_core.display(),
        images.guest.display()
    );
    Ok(images)
}

/// The `-kernel` image for `hypervisor`.
fn hypervisor_image(hypervisor: Hypervisor, images: &Images) -> Result<PathBuf, String> {
    match hypervisor {
        Hypervisor::XenCore => Ok(images.xen_core.clone()),
        Hypervisor::Xen417 => {
            xen417::image().map_err(|why| format!("Xen 4.17 not available: {why}"))
        }
    }
}

fn run(args: RunArgs) -> Result<i32, String> {
    let images = setup_and_build()?;
    let image = hypervisor_image(args.hypervisor, &images)?;
    let (dom0, default_args) = match &args.dom0 {
        Some(path) => {
            let path = path
                .canonicalize()
                .map_err(|e| format!("--dom0 {}: {e}", path.display()))?;
            (path, "")
        }
        None => (images.guest.clone(), SELFTEST_ARGS),
    };
    let mut boot = Boot::new(args.hypervisor, image, dom0);
    boot.dom0_args = args.cmdline.unwrap_or_else(|| default_args.to_string());
    boot.ramdisk = match &args.ramdisk {
        Some(path) => Some(
            path.canonicalize()
                .map_err(|e| format!("--ramdisk {}: {e}", path.display()))?,
        ),
        // The default Dom0 gets its own kernel as the DomU image, so `--cmdline domains=...`
        // scenarios work as they are.
        None if args.dom0.is_none() => Some(images.guest.clone()),
        None => None,
    };
    boot.gdb = args.gdb;
    if args.gdb {
        let symbols = match args.hypervisor {
            Hypervisor::XenCore => format!(
                "{} ",
                process::quote(&images::xen_core_elf(&paths::target_dir()?).to_string_lossy())
            ),
            Hypervisor::Xen417 => String::new(),
        };
        println!("xtask: QEMU waits for a debugger; attach with:");
        println!("gdb {symbols}-ex 'target remote :1234'");
    }
    println!(
        "xtask: booting {} (quit QEMU with Ctrl-A X)",
        args.hypervisor.name()
    );
    if args.hypervisor == Hypervisor::Xen417 {
        println!(
            "xtask: Xen 4.17 runs with `noreboot`: it halts when Dom0 stops and QEMU stays up"
        );
    }
    match qemu::run_interactive(&boot)? {
        Some(code) => {
            println!("xtask: {}", exit_code::describe(code));
            Ok(code)
        }
        None => {
            println!("xtask: QEMU was killed by a signal");
            Ok(1)
        }
    }
}

fn test(cargo_args: &[String]) -> Result<i32, String> {
    let images = setup_and_build()?;
    let dir = images
        .xen_core
        .parent()
        .ok_or("the images have no directory")?
        .to_path_buf();
    let mut cargo = Process::new(paths::cargo());
    cargo
        .current_dir(paths::workspace_root())
        .args(["test", "--workspace"])
        .args(cargo_args)
        .env(images::IMAGES_DIR_ENV, &dir)
        .stdout(std::process::Stdio::piped());
    let mut child = cargo
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", process::display(&cargo)))?;
    // Echo cargo's output as it comes, adding up its per-binary results.
    let mut totals = Totals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{}`: {e}", process::display(&cargo)))?;
    println!("{}", totals.line());
    Ok(status.code().unwrap_or(1))
}

fn run_bench(hypervisor: Hypervisor) -> Result<i32, String> {
    let images = setup_and_build()?;
    let image = hypervisor_image(hypervisor, &images)?;
    let boot = bench::boot(hypervisor, image, images.guest.clone());
    println!(
        "xtask: benchmarking on {} under -icount shift=0,sleep=off",
        hypervisor.name()
    );
    let run = qemu::run_captured(&boot, &bench::run_options(hypervisor).echo(true))?;
    let figures = bench::parse(&run.output);
    println!();
    if figures.is_empty() {
        eprintln!("xtask: no BENCH lines in the output\n{}", run.report(60));
        return Ok(1);
    }
    print!("{}", bench::table(&figures));
    if run.timed_out {
        eprintln!("xtask: the benchmark run timed out; the figures above may be incomplete");
        return Ok(1);
    }
    Ok(0)
}
