//! xen_version: which hypervisor this is, and what it offers.

use hypercall_abi::Errno;
use hypercall_abi::features::XENFEAT_DOM0;
use hypercall_abi::layout::HYPERVISOR_VIRT_START;
use hypercall_abi::version::*;

use crate::arch::x86_64::uaccess::{copy_to_guest, read_guest, write_guest};
use crate::hypervisor::with_state;

/// The Xen release whose PV ABI xen-core implements.
pub const XEN_MAJOR: u64 = 4;
/// See [`XEN_MAJOR`].
pub const XEN_MINOR: u64 = 17;
/// XENVER_extraversion: says which hypervisor this really is.
pub const EXTRAVERSION: &str = "-xen-core";
/// XENVER_capabilities: 64-bit PV guests only.
pub const CAPABILITIES: &str = "xen-3.0-x86_64";

fn write_str<const N: usize>(dst: u64, text: &str) -> Result<u64, Errno> {
    let mut buf = [0u8; N];
    let len = text.len().min(N - 1);
    buf[..len].copy_from_slice(&text.as_bytes()[..len]);
    copy_to_guest(dst, &buf)?;
    Ok(0)
}

fn features(privileged: bool, index: u32) -> u32 {
    match index {
        0 if privileged => 1 << XENFEAT_DOM0,
        _ => 0,
    }
}

/// Handles xen_version(cmd, arg). The version query is the classic null hypercall, so the
/// commands that answer in a register stay here and the ones that copy buffers are apart.
#[inline]
pub fn xen_version(cmd: u64, arg: u64) -> Result<u64, Errno> {
    match XenVersionCmd::try_from(cmd)? {
        XenVersionCmd::Version => Ok((XEN_MAJOR << 16) | XEN_MINOR),
        XenVersionCmd::Pagesize => Ok(4096),
        XenVersionCmd::BuildId => Err(Errno::NoSys),
        other => copy_out(other, arg),
    }
}

#[inline(never)]
fn copy_out(cmd: XenVersionCmd, arg: u64) -> Result<u64, Errno> {
    match cmd {
        XenVersionCmd::Version | XenVersionCmd::Pagesize | XenVersionCmd::BuildId => {
            Err(Errno::NoSys)
        }
        XenVersionCmd::Extraversion => write_str::<XEN_EXTRAVERSION_LEN>(arg, EXTRAVERSION),
        XenVersionCmd::Capabilities => write_str::<XEN_CAPABILITIES_INFO_LEN>(arg, CAPABILITIES),
        XenVersionCmd::Changeset => {
            write_str::<XEN_CHANGESET_INFO_LEN>(arg, env!("CARGO_PKG_VERSION"))
        }
        XenVersionCmd::CompileInfo => {
            let mut info = XenCompileInfo::default();
            let fill = |dst: &mut [u8], text: &str| {
                let n = text.len().min(dst.len() - 1);
                dst[..n].copy_from_slice(&text.as_bytes()[..n]);
            };
            fill(&mut info.compiler, "rustc (stable)");
            fill(&mut info.compile_by, "xen-core");
            fill(&mut info.compile_domain, "");
            fill(&mut info.compile_date, "");
            write_guest(arg, &info)?;
            Ok(0)
        }
        XenVersionCmd::PlatformParameters => {
            write_guest(
                arg,
                &XenPlatformParameters {
                    virt_start: HYPERVISOR_VIRT_START,
                },
            )?;
            Ok(0)
        }
        XenVersionCmd::GetFeatures => {
            let mut fi: XenFeatureInfo = read_guest(arg)?;
            fi.submap = features(with_state(|st| st.dom.is_hardware()), fi.submap_idx);
            write_guest(arg, &fi)?;
            Ok(0)
        }
        XenVersionCmd::GuestHandle => {
            copy_to_guest(arg, &[0u8; XEN_DOMAIN_HANDLE_LEN])?;
            Ok(0)
        }
        XenVersionCmd::Commandline => {
            let mut line = [0u8; XEN_COMMANDLINE_LEN];
            let privileged = with_state(|st| {
                let n = st.cmdline.len().min(XEN_COMMANDLINE_LEN - 1);
                line[..n].copy_from_slice(&st.cmdline.as_bytes()[..n]);
                st.dom.is_control()
            });
            if !privileged {
                return Err(Errno::Perm);
            }
            copy_to_guest(arg, &line)?;
            Ok(0)
        }
    }
}
