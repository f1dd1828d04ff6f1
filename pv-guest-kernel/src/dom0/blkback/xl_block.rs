//! The toolstack's side of virtual disks: `disk = [...]` at `xl create`, `xl block-attach`, `block-detach`, `block-list`, and the backend's round in the shell's loop.
// Attach writes the libxl nodes (both directories, libxl's permissions) and hands the disk to
// the backend, which goes to InitWait at once; the frontend finds it through its watch on
// device/vbd. Detach (as libxl's safe remove) writes `online` 0 and Closing in the backend
// directory, waits for the backend to reach Closed, then removes both directories; `-f` tears
// the device down and removes the nodes at once. Log lines of the backend's own transitions
// (outside a command) come on a fresh line, followed by the prompt again.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::xenbus::XenbusState;

use dom0_tools::blkback::request::VbdRegion;
use dom0_tools::vbd::{self, DiskNodes, Side};
use dom0_tools::xl::block_list::{self, BlockRow};
use dom0_tools::xl::dom_resolve::DomSpec;
use dom0_tools::xl_cfg::disk::{DiskAccess, DiskFormat, DiskSpec, parse_disk_spec};

use super::backend::{NewVbd, Round};
use crate::dom0::xl::commands::{Flow, lookup};
use crate::dom0::xl::output::print;
use crate::dom0::xl::shell::{PROMPT, wait_until};
use crate::dom0::xl::toolstack::Toolstack;

/// How long a detach waits for the backend to close (libxl's LIBXL_DESTROY_TIMEOUT).
const DETACH_WAIT_MS: u64 = 10_000;

/// Applies a round's port changes and prints its log lines.
fn finish(ts: &mut Toolstack, round: Round) {
    let _ = ts.extra_ports.try_reserve(round.bound.len());
    ts.extra_ports.extend(round.bound);
    ts.extra_ports.retain(|p| !round.closed.contains(p));
    if round.log.is_empty() {
        return;
    }
    let idle = !ts.in_command && ts.attached.is_none();
    if idle {
        print("\n");
    }
    for line in &round.log {
        print(line);
    }
    if idle {
        print(PROMPT);
    }
}

/// The backend's round: handshakes moved on, rings served.
pub fn pump(ts: &mut Toolstack) {
    let mut round = Round::default();
    {
        let Toolstack { blk, xs, .. } = ts;
        blk.pump(xs, &mut round);
    }
    finish(ts, round);
}

/// Lets go of every disk of `domid` (before it is destroyed, or once it is gone).
pub fn release_domain(ts: &mut Toolstack, domid: DomId) {
    let mut round = Round::default();
    {
        let Toolstack { blk, xs, .. } = ts;
        blk.release_domain(xs, domid, &mut round);
    }
    finish(ts, round);
}

/// Gives `domid` the disk `spec` describes: nodes written, backend started. Its device
/// number, or the error to print.
pub fn add_disk(ts: &mut Toolstack, domid: DomId, spec: &DiskSpec) -> Result<u32, String> {
    if let Some(b) = spec.backend.as_deref()
        && b != "0"
        && b != "Domain-0"
    {
        return Err(format!(
            "libxl: error: disk {}: backend domain {b}: only Domain-0 serves disks here\n",
            spec.vdev
        ));
    }
    if spec.format != DiskFormat::Raw {
        return Err(format!(
            "libxl: error: disk {}: only raw disks are supported\n",
            spec.vdev
        ));
    }
    let Some(target) = spec.target.as_deref().filter(|t| !t.is_empty()) else {
        return Err(format!(
            "libxl: error: disk {}: an empty drive is not supported\n",
            spec.vdev
        ));
    };
    let devid = vbd::parse_vdev(&spec.vdev).map_err(|e| format!("libxl: error: {e}\n"))?;
    if ts.blk.has(domid, devid) {
        return Err(format!(
            "libxl: error: domain {domid} already has a disk {} ({devid})\n",
            spec.vdev
        ));
    }
    let Some((key, first, sectors)) = ts.blk.resolve(target) else {
        return Err(format!(
            "libxl: error: disk {}: {target}: No such block device\n",
            spec.vdev
        ));
    };
    let readonly = spec.access == DiskAccess::ReadOnly || spec.cdrom;
    let nodes = vbd::toolstack_nodes(&DiskNodes {
        domid,
        devid,
        vdev: &spec.vdev,
        params: target,
        readonly,
        cdrom: spec.cdrom,
    });
    {
        let mut c = ts.xs.dom0();
        let list = format!("/local/domain/{domid}/device/vbd");
        let mut ok = c.mkdir(&list).is_ok()
            && c.set_perms(&list, vbd::perms(Side::Frontend, domid))
                .is_ok();
        for n in &nodes {
            ok = ok
                && c.write(&n.path, n.value.as_bytes()).is_ok()
                && c.set_perms(&n.path, vbd::perms(n.side, domid)).is_ok();
        }
        if !ok {
            let _ = c.rm(&vbd::backend_path(domid, devid));
            let _ = c.rm(&vbd::frontend_path(domid, devid));
            return Err(format!(
                "libxl: error: writing the nodes of disk {} failed\n",
                spec.vdev
            ));
        }
    }
    let region = VbdRegion {
        first,
        sectors,
        readonly,
    };
    let mut round = Round::default();
    let added = {
        let Toolstack { blk, xs, .. } = ts;
        let disk = NewVbd {
            domid,
            devid,
            key,
            region,
            cdrom: spec.cdrom,
        };
        blk.add(xs, disk, &mut round)
    };
    finish(ts, round);
    added.map(|()| devid)
}

/// `xl block-attach DOM SPEC`.
pub fn block_attach(ts: &mut Toolstack, domain: &DomSpec, spec: &str) -> Result<Flow, String> {
    let domid =
        lookup(ts, domain).map_err(|_| format!("{domain} is an invalid domain identifier\n"))?;
    if ts.domain(domid).is_none() {
        return Err(String::from("libxl_device_disk_add failed.\n"));
    }
    let disk = parse_disk_spec(spec).map_err(|e| format!("{e}\n"))?;
    add_disk(ts, domid, &disk).map_err(|e| format!("{e}libxl_device_disk_add failed.\n"))?;
    Ok(Flow::Prompt)
}

/// `xl block-detach [-f] DOM DEVID|VDEV`.
pub fn block_detach(
    ts: &mut Toolstack,
    domain: &DomSpec,
    device: &str,
    force: bool,
) -> Result<Flow, String> {
    let domid = lookup(ts, domain)?;
    let not_connected = || format!("Error: Device {device} not connected.\n");
    let devid = vbd::parse_vdev(device).map_err(|_| not_connected())?;
    if !ts.blk.has(domid, devid) {
        return Err(not_connected());
    }
    let be = vbd::backend_path(domid, devid);
    let fe = vbd::frontend_path(domid, devid);
    if !force {
        {
            let mut c = ts.xs.dom0();
            let _ = c.write(&format!("{be}/online"), b"0");
            let _ = c.write(
                &format!("{be}/state"),
                XenbusState::Closing.as_str().as_bytes(),
            );
        }
        let state = format!("{be}/state");
        let closed = wait_until(ts, DETACH_WAIT_MS, |ts| {
            matches!(
                ts.xs.dom0().read_string(&state).as_deref(),
                Ok("6") | Err(_)
            )
        });
        if !closed {
            return Err(String::from(
                "libxl: error: the backend did not close the device in time\n\
                 libxl_device_disk_safe_remove failed.\n",
            ));
        }
    }
    let mut round = Round::default();
    ts.blk.force_remove(domid, devid, &mut round);
    finish(ts, round);
    let mut c = ts.xs.dom0();
    let _ = c.rm(&be);
    let _ = c.rm(&fe);
    Ok(Flow::Prompt)
}

/// `xl block-list DOM...`.
pub fn block_list(ts: &mut Toolstack, domains: &[DomSpec]) -> Result<Flow, String> {
    print(&block_list::header());
    for spec in domains {
        let Ok(domid) = lookup(ts, spec) else {
            print(&format!("{spec} is an invalid domain identifier\n"));
            continue;
        };
        let dir = format!("/local/domain/{domid}/device/vbd");
        let mut c = ts.xs.dom0();
        let mut ids: Vec<u32> = c
            .directory(&dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        ids.sort_unstable();
        for devid in ids {
            let fe = format!("{dir}/{devid}");
            let mut get = |k: &str| c.read_string(&format!("{fe}/{k}")).ok();
            let row = BlockRow {
                devid: i64::from(devid),
                backend_id: block_list::number(get("backend-id").as_deref()),
                frontend_id: i64::from(domid),
                state: block_list::number(get("state").as_deref()),
                evtch: block_list::number(get("event-channel").as_deref()),
                rref: block_list::number(get("ring-ref").as_deref()),
                backend: get("backend").unwrap_or_else(|| "-1".to_string()),
            };
            print(&block_list::row(&row));
        }
    }
    Ok(Flow::Prompt)
}
