//! The `cargo xtask` commands: build, run, test, bench; each returns the process exit status.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use crate::boot::{Boot, Hypervisor, XL_ARGS};
use crate::cli::{Command, RunArgs, USAGE};
use crate::images::{self, Images};
use crate::script::Script;
use crate::test_summary::Totals;
use crate::{bench, bench_io, disk_image, exit_code, paths, process, qemu, toolchain, xen417};

/// How long a scripted `run` may take before QEMU is stopped.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

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

/// The script `run` types: from `--script FILE` (`-`: stdin), or from stdin when it is not a
/// terminal and holds one. None: the interactive terminal.
fn run_script(args: &RunArgs) -> Result<Option<Script>, String> {
    let text = match args.script.as_deref() {
        Some(path) if path == Path::new("-") => read_stdin()?,
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("--script {}: {e}", path.display()))?,
        None if !std::io::stdin().is_terminal() => read_stdin()?,
        None => return Ok(None),
    };
    let script = Script::parse(&text)?;
    // An empty stdin (`< /dev/null`, a detached job) leaves `run` as it always was.
    if args.script.is_none() && script.steps.is_empty() {
        return Ok(None);
    }
    Ok(Some(script))
}

fn read_stdin() -> Result<String, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("reading the script from stdin: {e}"))?;
    Ok(text)
}

fn run(args: RunArgs) -> Result<i32, String> {
    let script = run_script(&args)?;
    let images = setup_and_build()?;
    let image = hypervisor_image(args.hypervisor, &images)?;
    let (dom0, default_args) = match &args.dom0 {
        Some(path) => {
            let path = path
                .canonicalize()
                .map_err(|e| format!("--dom0 {}: {e}", path.display()))?;
            (path, "")
        }
        None => (images.guest.clone(), XL_ARGS),
    };
    let mut boot = Boot::new(args.hypervisor, image, dom0);
    boot.dom0_args = args.cmdline.unwrap_or_else(|| default_args.to_string());
    boot.ramdisk = match &args.ramdisk {
        Some(path) => Some(
            path.canonicalize()
                .map_err(|e| format!("--ramdisk {}: {e}", path.display()))?,
        ),
        // The default Dom0 in `xl` mode gets the ramdisk of DomU images and configs; with
        // another command line it gets its own kernel as the DomU image, so `--cmdline
        // domains=...` scenarios work as they are.
        None if args.dom0.is_none() && boot.dom0_args.split_whitespace().next() == Some("xl") => {
            Some(images.dom0_ramdisk.clone())
        }
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
    let disk = run_disk(args.disk.as_deref())?;
    if let Some(script) = script {
        return run_scripted(&boot, args.hypervisor, script, &disk);
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
    match qemu::run_interactive(&boot, Some(&disk))? {
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

/// `run` with a script: the serial console on pipes, echoed here, the script typed into it;
/// QEMU stops once the last line was answered by a prompt.
/// The disk image `run` attaches: `chosen`, or the default one, made (partitioned, hda2 filled)
/// if it does not exist yet; Dom0 keeps what guests write to it from one run to the next.
fn run_disk(chosen: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = chosen {
        if !path.is_file() {
            return Err(format!("--disk {}: no such file", path.display()));
        }
        return Ok(path.to_path_buf());
    }
    let path = disk_image::default_path()?;
    if !path.is_file() {
        disk_image::create(&path, &disk_image::DEFAULT_PARTITIONS)?;
        println!(
            "xtask: made the disk image {} (hda1, hda2, hda3 of 16 MiB)",
            path.display()
        );
    }
    Ok(path)
}

fn run_scripted(
    boot: &Boot,
    hypervisor: Hypervisor,
    script: Script,
    disk: &Path,
) -> Result<i32, String> {
    println!(
        "xtask: booting {} and typing a script of {} steps",
        hypervisor.name(),
        script.steps.len()
    );
    let options = qemu::RunOptions::until_exit(SCRIPT_TIMEOUT)
        .echo(true)
        .input(script)
        .stop_after_input(true)
        .disk(disk.to_path_buf());
    let run = qemu::run_captured(boot, &options)?;
    println!();
    if run.input_done {
        println!("xtask: script done");
        return Ok(0);
    }
    if run.timed_out {
        println!(
            "xtask: the script did not finish within {} s",
            SCRIPT_TIMEOUT.as_secs()
        );
        return Ok(1);
    }
    match run.status {
        Some(code) => {
            println!(
                "xtask: QEMU exited before the script was done: {}",
                exit_code::describe(code)
            );
            Ok(code)
        }
        None => {
            println!("xtask: QEMU was killed by a signal before the script was done");
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
    let boot = bench::boot(hypervisor, image.clone(), images.guest.clone());
    println!(
        "xtask: benchmarking on {} under -icount shift=0,sleep=off",
        hypervisor.name()
    );
    let run = qemu::run_captured(&boot, &bench::run_options(hypervisor).echo(true))?;
    let mut figures = bench::parse(&run.output);
    println!("\nxtask: timing `xl create` on {}", hypervisor.name());
    let create = bench::create_boot(hypervisor, image.clone(), images.guest.clone());
    let created = qemu::run_captured(&create, &bench::run_options(hypervisor).echo(true))?;
    figures.extend(bench::parse(&created.output));
    if let Some(line) = created
        .output
        .lines()
        .find(|l| l.contains("hypervisor memory per domain"))
    {
        println!("xtask: {}", line.trim());
    }
    if let Some(line) = created
        .output
        .lines()
        .rev()
        .find(|l| l.contains("created (xen-core heap"))
    {
        println!("xtask: {}", line.trim());
    }
    println!(
        "\nxtask: the split drivers on {} ({} MiB per block figure, {} bytes over TCP)",
        hypervisor.name(),
        bench_io::FULL.blk_mib,
        bench_io::FULL.tcp_bytes
    );
    let disk = bench_io::disk_path(hypervisor)?;
    let io = bench_io::run(hypervisor, image, &images, bench_io::FULL, &disk, true)?;
    figures.extend(bench::parse(&io.output));
    let figures = bench::latest(&figures);
    let io_figures = bench_io::parse(&io.output);
    println!();
    if figures.is_empty() {
        eprintln!("xtask: no BENCH lines in the output\n{}", run.report(60));
        return Ok(1);
    }
    print!("{}", bench::table(&figures));
    println!();
    print!("{}", bench_io::table(&io_figures));
    if run.timed_out || created.timed_out {
        eprintln!("xtask: the benchmark run timed out; the figures above may be incomplete");
        return Ok(1);
    }
    if !io.input_done
        || io_figures.len() < (bench_io::BLK_RAM.len() + bench_io::BLK_IDE.len()) * 2 + 2
    {
        eprintln!(
            "xtask: the split-driver script did not finish; its figures are incomplete\n{}",
            io.report(60)
        );
        return Ok(1);
    }
    Ok(0)
}
