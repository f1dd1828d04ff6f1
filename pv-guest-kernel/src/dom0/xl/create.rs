//! `xl create`: a DomU built from a config's settings, announced in xenstore, started.

use alloc::format;
use alloc::string::String;

use hypercall_abi::domctl::XenDomctlSchedCredit;
use hypercall_abi::domid::DomId;

use dom0_tools::console_history::ConsoleHistory;

use super::managed::Managed;
use crate::arch::x86_64::shared_events;
use crate::dom0::builder::{self, DomuSpec};
use crate::dom0::control;

/// KiB in a page.
const PAGE_KIB: u64 = 4;

/// What `xl create` builds, taken from a config file and the ramdisk's files.
pub struct CreateRequest<'a> {
    /// The domain's name.
    pub name: &'a str,
    /// The config file's path (kept for restarts).
    pub config_path: &'a str,
    /// The kernel image.
    pub kernel: &'a [u8],
    /// The initial ramdisk (empty: none).
    pub ramdisk: &'a [u8],
    /// The kernel command line.
    pub cmdline: &'a str,
    /// Initial memory in KiB.
    pub memory_kib: u64,
    /// Most memory in KiB.
    pub maxmem_kib: u64,
    /// Credit scheduler weight.
    pub weight: u16,
    /// Credit scheduler cap (percent of a CPU, 0: none).
    pub cap: u16,
    /// A number that makes the domain's handle unique.
    pub serial: u32,
}

/// Builds the domain, left paused; on failure nothing is left behind and the error says which
/// step failed.
pub fn create(req: &CreateRequest<'_>) -> Result<Managed, String> {
    let spec = DomuSpec {
        nr_pages: req.memory_kib / PAGE_KIB,
        cmdline: req.cmdline,
        ramdisk: req.ramdisk,
        max_memkb: req.maxmem_kib,
        xenstore: true,
        serial: req.serial,
    };
    let domu = builder::build(req.kernel, &spec).map_err(|e| format!("{e}"))?;
    let domid = domu.domid;
    let fail = |what: String| {
        let _ = control::destroy(domid);
        what
    };
    let ret = control::sched_credit_put(
        domid,
        XenDomctlSchedCredit {
            weight: req.weight,
            cap: req.cap,
        },
    );
    if ret != 0 {
        return Err(fail(format!(
            "setting weight {} and cap {} failed ({ret})",
            req.weight, req.cap
        )));
    }
    let managed = Managed {
        domid,
        name: String::from(req.name),
        config_path: String::from(req.config_path),
        store_mfn: domu.store_mfn,
        store_port: domu.store_port,
        console: domu.console,
        history: ConsoleHistory::new(),
        created_ns: shared_events::system_time_ns().unwrap_or(0),
        on_poweroff: dom0_tools::xl_cfg::Action::Destroy,
        on_reboot: dom0_tools::xl_cfg::Action::Restart,
        on_crash: dom0_tools::xl_cfg::Action::Destroy,
        target_kib: req.memory_kib,
        max_kib: req.maxmem_kib,
        store: None,
        shutdown_handled: false,
    };
    Ok(managed)
}

/// Starts a domain left paused by [`create`].
pub fn start(domid: DomId) -> Result<(), String> {
    match control::unpause(domid) {
        0 => Ok(()),
        e => Err(format!("unpausing domain {domid} failed ({e})")),
    }
}
