//! Check group 1: xen_version.

use hypercall_abi::Errno;
use hypercall_abi::features::XENFEAT_DOM0;
use hypercall_abi::layout::{HYPERVISOR_VIRT_START, PAGE_SIZE};
use hypercall_abi::version::XenVersionCmd;

use super::context::Context;
use super::report::{Outcome, Report, Ret, expect_eq, expect_errno, expect_ret, fail};
use crate::arch::x86_64::xen;
use crate::console::{Escaped, until_nul};

/// A command number no Xen version defines (4.17 stops at XENVER_build_id = 10).
const UNKNOWN_CMD: u64 = 64;

/// Runs the xen_version checks.
pub fn run(ctx: &Context, report: &mut Report) {
    report.check("xen_version.version", version());
    report.check("xen_version.extraversion", extraversion());
    report.check("xen_version.capabilities", capabilities());
    report.check("xen_version.pagesize", pagesize());
    report.check("xen_version.get_features", get_features(ctx));
    report.check("xen_version.platform_parameters", platform_parameters());
    report.check("xen_version.unknown_command", unknown_command());
}

fn version() -> Outcome {
    let ret = xen::xen_version_plain(XenVersionCmd::Version as u64);
    if ret < 0 {
        fail!("returned {}", Ret(ret));
    }
    let (major, minor) = (ret >> 16, ret & 0xffff);
    if major < 4 {
        fail!("version {}.{} is below 4.0", major, minor);
    }
    Ok(())
}

fn extraversion() -> Outcome {
    let (ret, buf) = xen::xen_version_extraversion();
    expect_ret("extraversion", ret, 0)?;
    if !buf.contains(&0) {
        fail!("'{}' is not NUL-terminated", Escaped(&buf));
    }
    Ok(())
}

fn capabilities() -> Outcome {
    let (ret, buf) = xen::xen_version_capabilities();
    expect_ret("capabilities", ret, 0)?;
    let caps = until_nul(&buf);
    let wanted = b"xen-3.0-x86_64";
    if !caps.windows(wanted.len()).any(|w| w == wanted) {
        fail!("'{}' lacks xen-3.0-x86_64", Escaped(caps));
    }
    Ok(())
}

fn pagesize() -> Outcome {
    let ret = xen::xen_version_plain(XenVersionCmd::Pagesize as u64);
    expect_ret("pagesize", ret, PAGE_SIZE as i64)
}

fn get_features(ctx: &Context) -> Outcome {
    let (ret, info) = xen::xen_version_get_features(0);
    expect_ret("get_features", ret, 0)?;
    expect_eq("submap_idx", u64::from(info.submap_idx), 0)?;
    let dom0 = info.submap & (1 << XENFEAT_DOM0) != 0;
    if ctx.is_dom0() && !dom0 {
        fail!("submap 0 = {:#x} lacks XENFEAT_dom0", info.submap);
    }
    if !ctx.is_dom0() && dom0 {
        fail!("submap 0 = {:#x} has XENFEAT_dom0 in a DomU", info.submap);
    }
    Ok(())
}

fn platform_parameters() -> Outcome {
    let (ret, params) = xen::xen_version_platform_parameters();
    expect_ret("platform_parameters", ret, 0)?;
    expect_eq("virt_start", params.virt_start, HYPERVISOR_VIRT_START)
}

fn unknown_command() -> Outcome {
    expect_errno(
        "xen_version(64)",
        xen::xen_version_plain(UNKNOWN_CMD),
        Errno::NoSys,
    )
}
