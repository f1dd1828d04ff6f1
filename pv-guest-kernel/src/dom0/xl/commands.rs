//! Carrying out the `xl` commands against the hypervisor and the toolstack's state.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hypercall_abi::domctl::{XenDomctlGetdomaininfo, XenDomctlSchedCredit};
use hypercall_abi::domid::DomId;

use dom0_tools::domain_info::DomainState;
use dom0_tools::xl::cmd_table::help_text;
use dom0_tools::xl::command::{NOT_DESTROYING_DOM0, Target, XlCommand};
use dom0_tools::xl::dom_resolve::{DomSpec, domid_not_found, domname_not_found, resolve};
use dom0_tools::xl::domain_name::check_rename;
use dom0_tools::xl::list::{DomainRow, format_list, format_list_long};
use dom0_tools::xl::sched_credit::{CreditPoolParams, CreditRow, format_sched_credit};
use dom0_tools::xl::sched_params::{check_cap, check_weight};
use dom0_tools::xl::state::DomainFlags;
use dom0_tools::xl::uptime::{UptimeRow, format_uptime};

use super::output::{print, xlprint};
use super::toolstack::{MS, Toolstack};
use crate::dom0::control;

/// Dom0's name, as xl shows it.
pub const DOM0_NAME: &str = "Domain-0";
/// How long `destroy` waits for a domain to vanish.
const DESTROY_WAIT_MS: u64 = 20_000;
/// How long `shutdown -w` / `reboot -w` wait.
const SHUTDOWN_WAIT_MS: u64 = 120_000;
/// KiB per page.
const PAGE_KIB: u64 = 4;

/// What the shell does after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Prompt again.
    Prompt,
    /// A console was attached: no prompt until it is left.
    Attached,
    /// Leave the shell.
    Exit,
}

/// Every domain's id and name: Dom0, ours, and any other (nameless) one.
pub fn names(ts: &Toolstack, infos: &[XenDomctlGetdomaininfo]) -> Vec<(u32, String)> {
    infos
        .iter()
        .map(|i| {
            let name = if i.domain == 0 {
                String::from(DOM0_NAME)
            } else {
                ts.domains
                    .iter()
                    .find(|d| d.domid == i.domain)
                    .map_or_else(|| String::from("(null)"), |d| d.name.clone())
            };
            (u32::from(i.domain), name)
        })
        .collect()
}

/// The domain `spec` names, or the message xl prints.
pub fn lookup(ts: &Toolstack, spec: &DomSpec) -> Result<DomId, String> {
    let infos =
        control::domain_list().map_err(|e| format!("libxl: listing domains failed ({e})\n"))?;
    let names = names(ts, &infos);
    let pairs: Vec<(u32, &str)> = names.iter().map(|(id, n)| (*id, n.as_str())).collect();
    let id = resolve(spec, &pairs).map_err(|e| e.to_string())?;
    DomId::try_from(id).map_err(|_| format!("Error: Domain '{id}' does not exist.\n"))
}

fn row(info: &XenDomctlGetdomaininfo, name: String) -> DomainRow {
    DomainRow {
        domid: u32::from(info.domain),
        name,
        mem_kib: info.tot_pages * PAGE_KIB,
        max_mem_kib: info.max_pages * PAGE_KIB,
        vcpus: info.nr_online_vcpus,
        flags: DomainFlags::from(&DomainState::from(info)),
        cpu_time_ns: info.cpu_time,
    }
}

/// Runs one parsed command.
pub fn execute(ts: &mut Toolstack, cmd: XlCommand) -> Flow {
    match run(ts, cmd) {
        Ok(flow) => flow,
        Err(message) => {
            print(&message);
            if !message.ends_with('\n') {
                print("\n");
            }
            Flow::Prompt
        }
    }
}

fn run(ts: &mut Toolstack, cmd: XlCommand) -> Result<Flow, String> {
    match cmd {
        XlCommand::Create {
            config,
            paused,
            console,
            overrides,
        } => super::create_cmd::create_command(ts, &config, paused, console, &overrides),
        XlCommand::List { long, domains } => list(ts, long, &domains),
        XlCommand::Destroy { domain, force } => {
            let domid = lookup(ts, &domain)?;
            if domid == 0 && !force {
                return Err(String::from(NOT_DESTROYING_DOM0));
            }
            destroy(ts, domid)?;
            Ok(Flow::Prompt)
        }
        XlCommand::Shutdown { target, wait } => shutdown(ts, &target, wait, false),
        XlCommand::Reboot { target, wait } => shutdown(ts, &target, wait, true),
        XlCommand::Pause(spec) => {
            let domid = lookup(ts, &spec)?;
            check(control::pause(domid), "pausing domain", domid)
        }
        XlCommand::Unpause(spec) => {
            let domid = lookup(ts, &spec)?;
            check(control::unpause(domid), "unpausing domain", domid)
        }
        XlCommand::Console(spec) => {
            let domid = lookup(ts, &spec)?;
            attach(ts, domid)
        }
        XlCommand::MemMax { domain, mem_kib } => {
            let domid = lookup(ts, &domain)?;
            check(
                control::max_mem(domid, mem_kib),
                "setting the maximum memory of domain",
                domid,
            )
        }
        XlCommand::MemSet { domain, mem_kib } => {
            let domid = lookup(ts, &domain)?;
            super::store::set_target(ts, domid, mem_kib)?;
            Ok(Flow::Prompt)
        }
        XlCommand::VcpuList(domains) => super::host_cmds::vcpu_list(ts, &domains),
        XlCommand::Info(only) => super::host_cmds::info(only.as_deref()),
        XlCommand::SchedCredit {
            domain,
            weight,
            cap,
        } => sched_credit(ts, domain.as_ref(), weight, cap),
        XlCommand::Domid(name) => {
            let domid =
                lookup(ts, &DomSpec::Name(name.clone())).map_err(|_| domid_not_found(&name))?;
            xlprint!("{domid}\n");
            Ok(Flow::Prompt)
        }
        XlCommand::Domname(id) => {
            let infos =
                control::domain_list().map_err(|e| format!("listing domains failed ({e})\n"))?;
            let names = names(ts, &infos);
            match names.iter().find(|(d, _)| *d == id) {
                Some((_, name)) => xlprint!("{name}\n"),
                None => return Err(domname_not_found(id)),
            }
            Ok(Flow::Prompt)
        }
        XlCommand::Rename { domain, new_name } => rename(ts, &domain, &new_name),
        XlCommand::Dmesg { clear } => super::host_cmds::dmesg(clear),
        XlCommand::Uptime { short: _, domains } => uptime(ts, &domains),
        XlCommand::Top => super::host_cmds::top(ts),
        XlCommand::Help(name) => {
            print(&help_text(name.as_deref()));
            Ok(Flow::Prompt)
        }
        XlCommand::Sleep { millis } => {
            let end = Toolstack::now_ns().saturating_add(millis.saturating_mul(MS));
            super::shell::wait_until(ts, millis, |_| Toolstack::now_ns() >= end);
            Ok(Flow::Prompt)
        }
        XlCommand::Exit => Ok(Flow::Exit),
        XlCommand::BlockAttach { domain, spec } => {
            crate::dom0::blkback::xl_block::block_attach(ts, &domain, &spec)
        }
        XlCommand::BlockDetach {
            domain,
            device,
            force,
        } => crate::dom0::blkback::xl_block::block_detach(ts, &domain, &device, force),
        XlCommand::BlockList(domains) => crate::dom0::blkback::xl_block::block_list(ts, &domains),
        XlCommand::Network(c) => crate::dom0::netback::xl_net::run(ts, c),
    }
}

fn check(ret: i64, what: &str, domid: DomId) -> Result<Flow, String> {
    if ret == 0 {
        Ok(Flow::Prompt)
    } else {
        Err(format!("libxl: error: {what} {domid} failed ({ret})\n"))
    }
}

fn list(ts: &mut Toolstack, long: bool, domains: &[DomSpec]) -> Result<Flow, String> {
    let infos =
        control::domain_list().map_err(|e| format!("libxl: listing domains failed ({e})\n"))?;
    let names = names(ts, &infos);
    let mut wanted: Vec<DomId> = Vec::new();
    for spec in domains {
        wanted.push(lookup(ts, spec)?);
    }
    let rows: Vec<DomainRow> = infos
        .iter()
        .zip(names)
        .filter(|(i, _)| wanted.is_empty() || wanted.contains(&i.domain))
        .map(|(i, (_, name))| row(i, name))
        .collect();
    print(&if long {
        format_list_long(&rows)
    } else {
        format_list(&rows)
    });
    Ok(Flow::Prompt)
}

/// Lets go of the domain as libxl does (its xenstore nodes and ring, our console mapping:
/// nothing of it stays mapped here), destroydomain, then waits for it to vanish.
pub fn destroy(ts: &mut Toolstack, domid: DomId) -> Result<(), String> {
    super::store::release(ts, domid);
    ts.forget(domid);
    let ret = control::destroy(domid);
    if ret != 0 {
        return Err(format!(
            "libxl: error: destroying domain {domid} failed ({ret})\n"
        ));
    }
    let gone = super::shell::wait_until(ts, DESTROY_WAIT_MS, |_| {
        control::getdomaininfo(domid).is_err()
    });
    if gone {
        Ok(())
    } else {
        Err(format!(
            "libxl: error: domain {domid} is still dying after {} s\n",
            DESTROY_WAIT_MS / 1000
        ))
    }
}

fn shutdown(ts: &mut Toolstack, target: &Target, wait: bool, reboot: bool) -> Result<Flow, String> {
    let ids: Vec<DomId> = match target {
        Target::All => ts.domains.iter().map(|d| d.domid).collect(),
        Target::Domain(spec) => alloc::vec![lookup(ts, spec)?],
    };
    let (verb, request) = if reboot {
        ("Rebooting", "reboot")
    } else {
        ("Shutting down", "poweroff")
    };
    for &domid in &ids {
        xlprint!("{verb} domain {domid}\n");
        super::store::request_shutdown(ts, domid, request)?;
    }
    if wait {
        xlprint!("Waiting for {} domains\n", ids.len());
        for &domid in &ids {
            let done = if reboot {
                super::shell::wait_until(ts, SHUTDOWN_WAIT_MS, |ts| {
                    ts.domain(domid).is_none() || control::getdomaininfo(domid).is_err()
                })
            } else {
                super::shell::wait_until(ts, SHUTDOWN_WAIT_MS, |_| {
                    control::getdomaininfo(domid).is_err()
                })
            };
            if done {
                if reboot {
                    xlprint!("Domain {domid} has been rebooted.\n");
                } else {
                    xlprint!("Domain {domid} has been destroyed.\n");
                }
            } else {
                return Err(format!(
                    "domain {domid} did not shut down within {} s\n",
                    SHUTDOWN_WAIT_MS / 1000
                ));
            }
        }
    }
    Ok(Flow::Prompt)
}

pub fn attach(ts: &mut Toolstack, domid: DomId) -> Result<Flow, String> {
    let Some(d) = ts.domain(domid) else {
        return Err(format!(
            "Unable to attach console: domain {domid} has no console served by this toolstack\n"
        ));
    };
    // What the console said so far, then live output.
    d.pump_console(None);
    let (a, b) = d.history.as_slices();
    super::output::raw(a);
    super::output::raw(b);
    ts.attached = Some(domid);
    Ok(Flow::Attached)
}

fn sched_credit(
    ts: &mut Toolstack,
    domain: Option<&DomSpec>,
    weight: Option<i64>,
    cap: Option<i64>,
) -> Result<Flow, String> {
    let infos = control::domain_list().map_err(|e| format!("listing domains failed ({e})\n"))?;
    let names = names(ts, &infos);
    let target = match domain {
        Some(spec) => Some(lookup(ts, spec)?),
        None => None,
    };
    if let Some(domid) = target
        && (weight.is_some() || cap.is_some())
    {
        let vcpus = infos
            .iter()
            .find(|i| i.domain == domid)
            .map_or(1, |i| i.nr_online_vcpus.max(1));
        let current = control::sched_credit_get(domid).map_err(|e| {
            format!("getting the credit parameters of domain {domid} failed ({e})\n")
        })?;
        let weight = match weight {
            Some(w) => check_weight(w).map_err(|e| e.to_string())?,
            None => current.weight,
        };
        let cap = match cap {
            Some(c) => check_cap(c, vcpus).map_err(|e| e.to_string())?,
            None => current.cap,
        };
        let ret = control::sched_credit_put(domid, XenDomctlSchedCredit { weight, cap });
        return check(ret, "setting the credit parameters of domain", domid);
    }
    let mut rows = Vec::new();
    for (info, (id, name)) in infos.iter().zip(names) {
        if target.is_some_and(|t| t != info.domain) {
            continue;
        }
        if let Ok(c) = control::sched_credit_get(info.domain) {
            rows.push(CreditRow {
                domid: id,
                name,
                weight: u32::from(c.weight),
                cap: u32::from(c.cap),
            });
        }
    }
    let params = CreditPoolParams {
        tslice_ms: 30,
        ratelimit_us: 1000,
        migration_delay_us: 0,
    };
    print(&format_sched_credit("Pool-0", Some(params), &rows));
    Ok(Flow::Prompt)
}

fn rename(ts: &mut Toolstack, spec: &DomSpec, new_name: &str) -> Result<Flow, String> {
    let domid = lookup(ts, spec)?;
    let infos = control::domain_list().map_err(|e| format!("listing domains failed ({e})\n"))?;
    let names = names(ts, &infos);
    let pairs: Vec<(u32, &str)> = names.iter().map(|(id, n)| (*id, n.as_str())).collect();
    check_rename(u32::from(domid), new_name, &pairs).map_err(|e| e.to_string())?;
    let Some(d) = ts.domain(domid) else {
        return Err(dom0_tools::xl::domain_name::rename_failed(
            &spec.to_string(),
        ));
    };
    d.name = String::from(new_name);
    super::store::write_name(ts, domid, new_name);
    Ok(Flow::Prompt)
}

fn uptime(ts: &mut Toolstack, domains: &[DomSpec]) -> Result<Flow, String> {
    let now = Toolstack::now_ns();
    let mut wanted: Vec<DomId> = Vec::new();
    for spec in domains {
        wanted.push(lookup(ts, spec)?);
    }
    let mut rows = Vec::new();
    if wanted.is_empty() || wanted.contains(&0) {
        rows.push(UptimeRow {
            domid: 0,
            name: String::from(DOM0_NAME),
            uptime_secs: now / 1_000_000_000,
        });
    }
    for d in &ts.domains {
        if wanted.is_empty() || wanted.contains(&d.domid) {
            rows.push(UptimeRow {
                domid: u32::from(d.domid),
                name: d.name.clone(),
                uptime_secs: now.saturating_sub(d.created_ns) / 1_000_000_000,
            });
        }
    }
    print(&format_uptime(&rows));
    Ok(Flow::Prompt)
}
