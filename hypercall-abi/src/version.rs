//! xen_version: sub-commands and the structs they return.

use crate::errno::Errno;
use core::mem::{offset_of, size_of};

/// xen_version sub-command (`XENVER_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XenVersionCmd {
    /// Returns `major << 16 | minor`.
    Version = 0,
    /// Fills a 16-byte extra-version string.
    Extraversion = 1,
    /// Fills an `XenCompileInfo`.
    CompileInfo = 2,
    /// Fills a 1024-byte capabilities string.
    Capabilities = 3,
    /// Fills a 64-byte changeset string.
    Changeset = 4,
    /// Fills an `XenPlatformParameters`.
    PlatformParameters = 5,
    /// Fills an `XenFeatureInfo` for the requested submap.
    GetFeatures = 6,
    /// Returns the page size.
    Pagesize = 7,
    /// Fills the 16-byte domain handle.
    GuestHandle = 8,
    /// Fills the 1024-byte hypervisor command line.
    Commandline = 9,
    /// Fills the build id.
    BuildId = 10,
}

impl TryFrom<u64> for XenVersionCmd {
    type Error = Errno;

    /// Xen takes `cmd` as a C `int`: the upper 32 bits are ignored; unknown is -ENOSYS.
    fn try_from(cmd: u64) -> Result<Self, Errno> {
        match cmd as u32 {
            0 => Ok(XenVersionCmd::Version),
            1 => Ok(XenVersionCmd::Extraversion),
            2 => Ok(XenVersionCmd::CompileInfo),
            3 => Ok(XenVersionCmd::Capabilities),
            4 => Ok(XenVersionCmd::Changeset),
            5 => Ok(XenVersionCmd::PlatformParameters),
            6 => Ok(XenVersionCmd::GetFeatures),
            7 => Ok(XenVersionCmd::Pagesize),
            8 => Ok(XenVersionCmd::GuestHandle),
            9 => Ok(XenVersionCmd::Commandline),
            10 => Ok(XenVersionCmd::BuildId),
            _ => Err(Errno::NoSys),
        }
    }
}

/// Bytes of the `XENVER_extraversion` string.
pub const XEN_EXTRAVERSION_LEN: usize = 16;
/// Bytes of the `XENVER_capabilities` string.
pub const XEN_CAPABILITIES_INFO_LEN: usize = 1024;
/// Bytes of the `XENVER_changeset` string.
pub const XEN_CHANGESET_INFO_LEN: usize = 64;
/// Bytes of the `XENVER_commandline` string.
pub const XEN_COMMANDLINE_LEN: usize = 1024;
/// Bytes of the `XENVER_guest_handle` domain handle.
pub const XEN_DOMAIN_HANDLE_LEN: usize = 16;

/// Result of `XENVER_compile_info` (`struct xen_compile_info`), NUL-padded strings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenCompileInfo {
    /// Compiler name and version.
    pub compiler: [u8; 64],
    /// User who built the hypervisor.
    pub compile_by: [u8; 16],
    /// Domain of the build host.
    pub compile_domain: [u8; 32],
    /// Build date.
    pub compile_date: [u8; 32],
}
const _: () = assert!(size_of::<XenCompileInfo>() == 144);
const _: () = assert!(offset_of!(XenCompileInfo, compiler) == 0);
const _: () = assert!(offset_of!(XenCompileInfo, compile_by) == 64);
const _: () = assert!(offset_of!(XenCompileInfo, compile_domain) == 80);
const _: () = assert!(offset_of!(XenCompileInfo, compile_date) == 112);

impl Default for XenCompileInfo {
    fn default() -> Self {
        XenCompileInfo {
            compiler: [0; 64],
            compile_by: [0; 16],
            compile_domain: [0; 32],
            compile_date: [0; 32],
        }
    }
}

/// Result of `XENVER_platform_parameters`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenPlatformParameters {
    /// Start of the hypervisor's reserved virtual range.
    pub virt_start: u64,
}
const _: () = assert!(size_of::<XenPlatformParameters>() == 8);
const _: () = assert!(offset_of!(XenPlatformParameters, virt_start) == 0);

/// In/out argument of `XENVER_get_features`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenFeatureInfo {
    /// In: which 32-bit submap of `XENFEAT_*` bits.
    pub submap_idx: u32,
    /// Out: the submap.
    pub submap: u32,
}
const _: () = assert!(size_of::<XenFeatureInfo>() == 8);
const _: () = assert!(offset_of!(XenFeatureInfo, submap_idx) == 0);
const _: () = assert!(offset_of!(XenFeatureInfo, submap) == 4);

#[cfg(test)]
mod tests {
    use super::*;

    const CMDS: [(XenVersionCmd, u64); 11] = [
        (XenVersionCmd::Version, 0),
        (XenVersionCmd::Extraversion, 1),
        (XenVersionCmd::CompileInfo, 2),
        (XenVersionCmd::Capabilities, 3),
        (XenVersionCmd::Changeset, 4),
        (XenVersionCmd::PlatformParameters, 5),
        (XenVersionCmd::GetFeatures, 6),
        (XenVersionCmd::Pagesize, 7),
        (XenVersionCmd::GuestHandle, 8),
        (XenVersionCmd::Commandline, 9),
        (XenVersionCmd::BuildId, 10),
    ];

    #[test]
    fn cmds_match_version_h_and_decode() {
        for (c, v) in CMDS {
            assert_eq!(c as u64, v);
            assert_eq!(XenVersionCmd::try_from(v), Ok(c));
        }
        for v in [11, 12, 13, 100, u64::from(u32::MAX)] {
            assert_eq!(XenVersionCmd::try_from(v), Err(Errno::NoSys), "{v}");
        }
        assert_eq!(
            XenVersionCmd::try_from(0x1_0000_0007),
            Ok(XenVersionCmd::Pagesize)
        );
    }

    #[test]
    fn lengths_match_version_h() {
        assert_eq!(XEN_EXTRAVERSION_LEN, 16);
        assert_eq!(XEN_CAPABILITIES_INFO_LEN, 1024);
        assert_eq!(XEN_CHANGESET_INFO_LEN, 64);
        assert_eq!(XEN_COMMANDLINE_LEN, 1024);
        assert_eq!(XEN_DOMAIN_HANDLE_LEN, 16);
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(size_of::<XenCompileInfo>(), 144);
        assert_eq!(offset_of!(XenCompileInfo, compiler), 0);
        assert_eq!(offset_of!(XenCompileInfo, compile_by), 64);
        assert_eq!(offset_of!(XenCompileInfo, compile_domain), 80);
        assert_eq!(offset_of!(XenCompileInfo, compile_date), 112);
        assert_eq!(size_of::<XenPlatformParameters>(), 8);
        assert_eq!(offset_of!(XenPlatformParameters, virt_start), 0);
        assert_eq!(size_of::<XenFeatureInfo>(), 8);
        assert_eq!(offset_of!(XenFeatureInfo, submap_idx), 0);
        assert_eq!(offset_of!(XenFeatureInfo, submap), 4);
    }

    #[test]
    fn compile_info_default_is_zeroed() {
        let c = XenCompileInfo::default();
        assert!(c.compiler.iter().chain(&c.compile_date).all(|&b| b == 0));
    }
}
