//! `xl create FILE [-p] [-c] [KEY=VALUE...]`: read and check the config, build the domain, announce it, start it.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use dom0_tools::xl::domain_name::NameError;
use dom0_tools::xl_cfg::{Action, DomainConfig};

use super::commands::Flow;
use super::create::{CreateRequest, create, start};
use super::files;
use super::output::xlprint;
use super::toolstack::{Toolstack, name_free};

/// Runs `xl create`.
pub fn create_command(
    ts: &mut Toolstack,
    path: &str,
    paused: bool,
    console: bool,
    overrides: &[String],
) -> Result<Flow, String> {
    xlprint!("Parsing config from {path}\n");
    let cfg = load(path, overrides)?;
    let domid = create_from(ts, &cfg, path, paused)?;
    if console {
        return super::commands::attach(ts, domid);
    }
    Ok(Flow::Prompt)
}

/// The config at `path` with `overrides` (each one more line) applied, or what is wrong.
pub fn load(path: &str, overrides: &[String]) -> Result<DomainConfig, String> {
    let text = files::read(path).ok_or_else(|| {
        format!("Failed to read config file: {path}: No such file or directory\n")
    })?;
    let mut all: Vec<u8> = Vec::new();
    all.try_reserve(text.len() + 1 + overrides.iter().map(|o| o.len() + 1).sum::<usize>())
        .map_err(|_| format!("{path}: too large\n"))?;
    all.extend_from_slice(text);
    for o in overrides {
        all.push(b'\n');
        all.extend_from_slice(o.as_bytes());
    }
    all.push(b'\n');
    DomainConfig::parse(&all).map_err(|e| format!("{}\n", e.in_file(path)))
}

/// Builds, announces and (unless `paused`) starts the domain `cfg` describes; its id.
pub fn create_from(
    ts: &mut Toolstack,
    cfg: &DomainConfig,
    path: &str,
    paused: bool,
) -> Result<hypercall_abi::domid::DomId, String> {
    if !name_free(&ts.domains, &cfg.name, None) || cfg.name == super::commands::DOM0_NAME {
        return Err(NameError::Exists(cfg.name.clone()).to_string());
    }
    if cfg.vcpus != 1 {
        return Err(format!(
            "{path}: vcpus = {}: this toolstack builds domains with 1 vCPU\n",
            cfg.vcpus
        ));
    }
    let kernel = files::read(&cfg.kernel).ok_or_else(|| {
        format!(
            "libxl: error: kernel {}: No such file or directory\n",
            cfg.kernel
        )
    })?;
    let ramdisk = match &cfg.ramdisk {
        Some(p) => files::read(p)
            .ok_or_else(|| format!("libxl: error: ramdisk {p}: No such file or directory\n"))?,
        None => &[],
    };
    ts.serial += 1;
    let cmdline = cfg.cmdline.clone().unwrap_or_default();
    let req = CreateRequest {
        name: &cfg.name,
        config_path: path,
        kernel,
        ramdisk,
        cmdline: &cmdline,
        memory_kib: cfg.memory_kib(),
        maxmem_kib: cfg.maxmem_kib(),
        weight: u16::try_from(cfg.cpu_weight).unwrap_or(u16::MAX),
        cap: u16::try_from(cfg.cap).unwrap_or(u16::MAX),
        serial: ts.serial,
    };
    let mut managed = create(&req).map_err(|e| {
        format!(
            "libxl: error: creating domain {} from {path} failed: {e}\n",
            cfg.name
        )
    })?;
    managed.on_poweroff = cfg.on_poweroff.without_coredump();
    managed.on_reboot = cfg.on_reboot.without_coredump();
    managed.on_crash = cfg.on_crash.without_coredump();
    managed.target_kib = cfg.memory_kib();
    managed.max_kib = cfg.maxmem_kib();
    let domid = managed.domid;
    if ts.domains.try_reserve(1).is_err() {
        let _ = crate::dom0::control::destroy(domid);
        return Err(String::from("out of memory for another domain\n"));
    }
    ts.domains.push(managed);
    if let Err(e) = super::store::introduce(ts, domid) {
        let _ = super::commands::destroy(ts, domid);
        return Err(e);
    }
    for disk in &cfg.disks {
        if let Err(e) = crate::dom0::blkback::xl_block::add_disk(ts, domid, disk) {
            let _ = super::commands::destroy(ts, domid);
            return Err(e);
        }
    }
    if let Err(e) = crate::dom0::netback::xl_net::create_vifs(ts, domid, cfg) {
        let _ = super::commands::destroy(ts, domid);
        return Err(e);
    }
    if !paused && let Err(e) = start(domid) {
        let _ = super::commands::destroy(ts, domid);
        return Err(e);
    }
    Ok(domid)
}

/// The action to take for shutdown code `code` of a domain with these settings.
pub fn action_for(
    code: u32,
    on_poweroff: Action,
    on_reboot: Action,
    on_crash: Action,
) -> Option<Action> {
    match code {
        0 => Some(on_poweroff),
        1 => Some(on_reboot),
        3 | 4 => Some(on_crash),
        _ => None,
    }
}
