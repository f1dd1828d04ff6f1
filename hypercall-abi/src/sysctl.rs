//! sysctl (Xen 4.17, x86_64): the header, the commands and the payloads of its 128-byte union.

use crate::domctl::{UNION_SIZE, UnionPayload, union_payload};
use crate::domid::DomId;
use crate::errno::Errno;
use core::mem::{offset_of, size_of};

/// `interface_version` a sysctl must carry in Xen 4.17; any other value is -EACCES.
pub const XEN_SYSCTL_INTERFACE_VERSION: u32 = 0x15;

/// A sysctl command (`XEN_SYSCTL_*`). Numbers xen-core does not name decode to `Other`; what
/// to answer for them is the handler's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SysctlCmd {
    /// Read the hypervisor's console ring (`XenSysctlReadconsole`).
    Readconsole,
    /// Describe the host (`XenSysctlPhysinfo`).
    Physinfo,
    /// The scheduler in use (`XenSysctlSchedId`).
    SchedId,
    /// Describe several domains (`XenSysctlGetdomaininfolist`).
    Getdomaininfolist,
    /// Any other number.
    Other(u32),
}

impl SysctlCmd {
    /// Every named command, in numeric order.
    pub const NAMED: [SysctlCmd; 4] = [
        SysctlCmd::Readconsole,
        SysctlCmd::Physinfo,
        SysctlCmd::SchedId,
        SysctlCmd::Getdomaininfolist,
    ];

    /// The command's number in `XenSysctl::cmd`.
    pub const fn raw(self) -> u32 {
        match self {
            SysctlCmd::Readconsole => 1,
            SysctlCmd::Physinfo => 3,
            SysctlCmd::SchedId => 4,
            SysctlCmd::Getdomaininfolist => 6,
            SysctlCmd::Other(n) => n,
        }
    }

    /// Decodes `XenSysctl::cmd`; never fails (unknown numbers are `Other`).
    pub const fn from_raw(cmd: u32) -> Self {
        match cmd {
            1 => SysctlCmd::Readconsole,
            3 => SysctlCmd::Physinfo,
            4 => SysctlCmd::SchedId,
            6 => SysctlCmd::Getdomaininfolist,
            n => SysctlCmd::Other(n),
        }
    }
}

/// The sysctl argument (`struct xen_sysctl`): a header, then a union whose meaning depends on
/// `cmd`. Read and write the union with [`XenSysctl::payload`] and [`XenSysctl::set_payload`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenSysctl {
    /// `SysctlCmd` number.
    pub cmd: u32,
    /// Must be [`XEN_SYSCTL_INTERFACE_VERSION`].
    pub interface_version: u32,
    /// The per-command payload.
    pub u: [u8; UNION_SIZE],
}
const _: () = assert!(size_of::<XenSysctl>() == 136);
const _: () = assert!(align_of::<XenSysctl>() == 8);
const _: () = assert!(offset_of!(XenSysctl, cmd) == 0);
const _: () = assert!(offset_of!(XenSysctl, interface_version) == 4);
const _: () = assert!(offset_of!(XenSysctl, u) == 8);

impl Default for XenSysctl {
    fn default() -> Self {
        XenSysctl {
            cmd: 0,
            interface_version: 0,
            u: [0; UNION_SIZE],
        }
    }
}

impl XenSysctl {
    /// A request for `cmd` at the current interface version, with a zeroed union.
    pub fn new(cmd: SysctlCmd) -> Self {
        XenSysctl {
            cmd: cmd.raw(),
            interface_version: XEN_SYSCTL_INTERFACE_VERSION,
            ..XenSysctl::default()
        }
    }

    /// Checks the header as Xen does before anything else: a wrong `interface_version` is
    /// -EACCES. Any `cmd` decodes; the handler answers for the ones it does not know.
    pub fn decode(&self) -> Result<SysctlCmd, Errno> {
        if self.interface_version != XEN_SYSCTL_INTERFACE_VERSION {
            return Err(Errno::Acces);
        }
        Ok(SysctlCmd::from_raw(self.cmd))
    }

    /// Reads the union as payload `P`.
    pub fn payload<P: UnionPayload>(&self) -> P {
        P::read(&self.u)
    }

    /// Writes `payload` to the start of the union; bytes past it keep their value.
    pub fn set_payload<P: UnionPayload>(&mut self, payload: &P) {
        payload.write(&mut self.u);
    }
}

/// Payload of `SysctlCmd::Readconsole` (`struct xen_sysctl_readconsole`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenSysctlReadconsole {
    /// In: non-zero empties the ring after reading.
    pub clear: u8,
    /// In: non-zero reads from `index` on instead of the oldest byte kept.
    pub incremental: u8,
    /// Padding.
    pub pad0: u8,
    /// Padding.
    pub pad1: u8,
    /// In: where to start (if `incremental`); out: where the read stopped.
    pub index: u32,
    /// In: guest pointer to the buffer.
    pub buffer: u64,
    /// In: buffer size; out: bytes written.
    pub count: u32,
    /// Padding (C alignment).
    pub pad2: u32,
}
const _: () = assert!(size_of::<XenSysctlReadconsole>() == 24);
const _: () = assert!(offset_of!(XenSysctlReadconsole, clear) == 0);
const _: () = assert!(offset_of!(XenSysctlReadconsole, incremental) == 1);
const _: () = assert!(offset_of!(XenSysctlReadconsole, pad0) == 2);
const _: () = assert!(offset_of!(XenSysctlReadconsole, pad1) == 3);
const _: () = assert!(offset_of!(XenSysctlReadconsole, index) == 4);
const _: () = assert!(offset_of!(XenSysctlReadconsole, buffer) == 8);
const _: () = assert!(offset_of!(XenSysctlReadconsole, count) == 16);
const _: () = assert!(offset_of!(XenSysctlReadconsole, pad2) == 20);
union_payload!(XenSysctlReadconsole {
    clear,
    incremental,
    pad0,
    pad1,
    index,
    buffer,
    count,
    pad2,
});

/// Payload of `SysctlCmd::Getdomaininfolist` (`struct xen_sysctl_getdomaininfolist`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenSysctlGetdomaininfolist {
    /// In: the lowest domain id to report.
    pub first_domain: DomId,
    /// Padding (C alignment).
    pub pad0: u16,
    /// In: entries that fit in `buffer`.
    pub max_domains: u32,
    /// In: guest pointer to an array of `XenDomctlGetdomaininfo` (112 bytes each).
    pub buffer: u64,
    /// Out: entries written.
    pub num_domains: u32,
    /// Padding (C alignment).
    pub pad1: u32,
}
const _: () = assert!(size_of::<XenSysctlGetdomaininfolist>() == 24);
const _: () = assert!(offset_of!(XenSysctlGetdomaininfolist, first_domain) == 0);
const _: () = assert!(offset_of!(XenSysctlGetdomaininfolist, pad0) == 2);
const _: () = assert!(offset_of!(XenSysctlGetdomaininfolist, max_domains) == 4);
const _: () = assert!(offset_of!(XenSysctlGetdomaininfolist, buffer) == 8);
const _: () = assert!(offset_of!(XenSysctlGetdomaininfolist, num_domains) == 16);
const _: () = assert!(offset_of!(XenSysctlGetdomaininfolist, pad1) == 20);
union_payload!(XenSysctlGetdomaininfolist {
    first_domain,
    pad0,
    max_domains,
    buffer,
    num_domains,
    pad1,
});

/// `XenSysctlPhysinfo::capabilities`: HVM guests are possible.
pub const XEN_SYSCTL_PHYSCAP_HVM: u32 = 1 << 0;
/// `XenSysctlPhysinfo::capabilities`: PV guests are possible.
pub const XEN_SYSCTL_PHYSCAP_PV: u32 = 1 << 1;
/// `XenSysctlPhysinfo::capabilities`: devices can be passed through.
pub const XEN_SYSCTL_PHYSCAP_DIRECTIO: u32 = 1 << 2;
/// `XenSysctlPhysinfo::capabilities`: hardware-assisted paging is available.
pub const XEN_SYSCTL_PHYSCAP_HAP: u32 = 1 << 3;
/// `XenSysctlPhysinfo::capabilities`: shadow paging is available.
pub const XEN_SYSCTL_PHYSCAP_SHADOW: u32 = 1 << 4;
/// `XenSysctlPhysinfo::capabilities`: the IOMMU can share HAP page tables.
pub const XEN_SYSCTL_PHYSCAP_IOMMU_HAP_PT_SHARE: u32 = 1 << 5;
/// `XenSysctlPhysinfo::capabilities`: processor tracing is available.
pub const XEN_SYSCTL_PHYSCAP_VMTRACE: u32 = 1 << 6;
/// `XenSysctlPhysinfo::capabilities`: a vPMU can be given to guests.
pub const XEN_SYSCTL_PHYSCAP_VPMU: u32 = 1 << 7;
/// `XenSysctlPhysinfo::capabilities`: grant tables v1 are available.
pub const XEN_SYSCTL_PHYSCAP_GNTTAB_V1: u32 = 1 << 8;
/// `XenSysctlPhysinfo::capabilities`: grant tables v2 are available.
pub const XEN_SYSCTL_PHYSCAP_GNTTAB_V2: u32 = 1 << 9;
/// The highest `XEN_SYSCTL_PHYSCAP_*` bit Xen 4.17 knows.
pub const XEN_SYSCTL_PHYSCAP_MAX: u32 = XEN_SYSCTL_PHYSCAP_GNTTAB_V2;

/// Payload of `SysctlCmd::Physinfo` (`struct xen_sysctl_physinfo`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenSysctlPhysinfo {
    /// Hardware threads per core.
    pub threads_per_core: u32,
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// CPUs online.
    pub nr_cpus: u32,
    /// Highest possible CPU id.
    pub max_cpu_id: u32,
    /// NUMA nodes online.
    pub nr_nodes: u32,
    /// Highest possible node id.
    pub max_node_id: u32,
    /// CPU frequency in kHz.
    pub cpu_khz: u32,
    /// `XEN_SYSCTL_PHYSCAP_*`.
    pub capabilities: u32,
    /// Architecture-specific capability bits (none defined for x86 in 4.17).
    pub arch_capabilities: u32,
    /// Padding.
    pub pad: u32,
    /// Pages of RAM.
    pub total_pages: u64,
    /// Pages free.
    pub free_pages: u64,
    /// Free pages not yet scrubbed.
    pub scrub_pages: u64,
    /// Pages claimed but not yet allocated.
    pub outstanding_pages: u64,
    /// Highest possible machine frame.
    pub max_mfn: u64,
    /// CPU feature words of the boot CPU.
    pub hw_cap: [u32; 8],
}
const _: () = assert!(size_of::<XenSysctlPhysinfo>() == 112);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, threads_per_core) == 0);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, cores_per_socket) == 4);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, nr_cpus) == 8);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, max_cpu_id) == 12);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, nr_nodes) == 16);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, max_node_id) == 20);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, cpu_khz) == 24);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, capabilities) == 28);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, arch_capabilities) == 32);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, pad) == 36);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, total_pages) == 40);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, free_pages) == 48);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, scrub_pages) == 56);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, outstanding_pages) == 64);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, max_mfn) == 72);
const _: () = assert!(offset_of!(XenSysctlPhysinfo, hw_cap) == 80);
union_payload!(XenSysctlPhysinfo {
    threads_per_core,
    cores_per_socket,
    nr_cpus,
    max_cpu_id,
    nr_nodes,
    max_node_id,
    cpu_khz,
    capabilities,
    arch_capabilities,
    pad,
    total_pages,
    free_pages,
    scrub_pages,
    outstanding_pages,
    max_mfn,
    hw_cap,
});

/// Payload of `SysctlCmd::SchedId` (`struct xen_sysctl_sched_id`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenSysctlSchedId {
    /// Out: `XEN_SCHEDULER_*` (see `crate::domctl`).
    pub sched_id: u32,
}
const _: () = assert!(size_of::<XenSysctlSchedId>() == 4);
const _: () = assert!(offset_of!(XenSysctlSchedId, sched_id) == 0);
union_payload!(XenSysctlSchedId { sched_id });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domctl::{XEN_SCHEDULER_CREDIT, XenDomctlGetdomaininfo};

    /// `XEN_SYSCTL_*` command numbers from Xen 4.17's public/sysctl.h.
    const CMDS: [(SysctlCmd, u32); 4] = [
        (SysctlCmd::Readconsole, 1),
        (SysctlCmd::Physinfo, 3),
        (SysctlCmd::SchedId, 4),
        (SysctlCmd::Getdomaininfolist, 6),
    ];

    #[test]
    fn interface_version_is_4_17s() {
        assert_eq!(XEN_SYSCTL_INTERFACE_VERSION, 0x0000_0015);
    }

    #[test]
    fn commands_match_sysctl_h() {
        for (cmd, n) in CMDS {
            assert_eq!(cmd.raw(), n, "{cmd:?}");
            assert_eq!(SysctlCmd::from_raw(n), cmd);
        }
        assert_eq!(SysctlCmd::NAMED, CMDS.map(|(c, _)| c));
        for n in [0, 2, 5, 7, 29, u32::MAX] {
            assert_eq!(SysctlCmd::from_raw(n), SysctlCmd::Other(n));
            assert_eq!(SysctlCmd::Other(n).raw(), n);
        }
    }

    #[test]
    fn physcap_values_match_sysctl_h() {
        let caps = [
            XEN_SYSCTL_PHYSCAP_HVM,
            XEN_SYSCTL_PHYSCAP_PV,
            XEN_SYSCTL_PHYSCAP_DIRECTIO,
            XEN_SYSCTL_PHYSCAP_HAP,
            XEN_SYSCTL_PHYSCAP_SHADOW,
            XEN_SYSCTL_PHYSCAP_IOMMU_HAP_PT_SHARE,
            XEN_SYSCTL_PHYSCAP_VMTRACE,
            XEN_SYSCTL_PHYSCAP_VPMU,
            XEN_SYSCTL_PHYSCAP_GNTTAB_V1,
            XEN_SYSCTL_PHYSCAP_GNTTAB_V2,
        ];
        for (bit, cap) in caps.iter().enumerate() {
            assert_eq!(*cap, 1 << bit);
        }
        assert_eq!(XEN_SYSCTL_PHYSCAP_MAX, 0x200);
    }

    #[test]
    fn layouts_match_gcc_on_the_4_17_headers() {
        assert_eq!(size_of::<XenSysctl>(), 136);
        assert_eq!(align_of::<XenSysctl>(), 8);
        assert_eq!(offset_of!(XenSysctl, interface_version), 4);
        assert_eq!(offset_of!(XenSysctl, u), 8);
        assert_eq!(size_of::<XenSysctlReadconsole>(), 24);
        assert_eq!(offset_of!(XenSysctlReadconsole, index), 4);
        assert_eq!(offset_of!(XenSysctlReadconsole, buffer), 8);
        assert_eq!(offset_of!(XenSysctlReadconsole, count), 16);
        assert_eq!(size_of::<XenSysctlGetdomaininfolist>(), 24);
        assert_eq!(offset_of!(XenSysctlGetdomaininfolist, max_domains), 4);
        assert_eq!(offset_of!(XenSysctlGetdomaininfolist, buffer), 8);
        assert_eq!(offset_of!(XenSysctlGetdomaininfolist, num_domains), 16);
        assert_eq!(size_of::<XenSysctlPhysinfo>(), 112);
        assert_eq!(offset_of!(XenSysctlPhysinfo, total_pages), 40);
        assert_eq!(offset_of!(XenSysctlPhysinfo, max_mfn), 72);
        assert_eq!(offset_of!(XenSysctlPhysinfo, hw_cap), 80);
        assert_eq!(size_of::<XenSysctlSchedId>(), 4);
        // getdomaininfolist's buffer holds domctl getdomaininfo entries.
        assert_eq!(size_of::<XenDomctlGetdomaininfo>(), 112);
    }

    #[test]
    fn decode_checks_the_interface_version_first() {
        let mut s = XenSysctl::new(SysctlCmd::Physinfo);
        assert_eq!(s.decode(), Ok(SysctlCmd::Physinfo));
        for v in [0, 0x14, 0x16, u32::MAX] {
            s.interface_version = v;
            assert_eq!(s.decode(), Err(Errno::Acces), "{v:#x}");
        }
        let s = XenSysctl {
            cmd: 12,
            ..XenSysctl::new(SysctlCmd::Readconsole)
        };
        assert_eq!(s.decode(), Ok(SysctlCmd::Other(12)));
    }

    #[test]
    fn readconsole_round_trips_at_c_offsets() {
        let r = XenSysctlReadconsole {
            clear: 1,
            incremental: 1,
            pad0: 0,
            pad1: 0,
            index: 0x1234,
            buffer: 0x0000_7FFF_0000_1000,
            count: 4096,
            pad2: 0,
        };
        let mut s = XenSysctl::new(SysctlCmd::Readconsole);
        s.set_payload(&r);
        assert_eq!(s.payload::<XenSysctlReadconsole>(), r);
        assert_eq!(s.u[..4], [1, 1, 0, 0]);
        assert_eq!(s.u[4..8], 0x1234u32.to_le_bytes());
        assert_eq!(s.u[8..16], 0x0000_7FFF_0000_1000u64.to_le_bytes());
        assert_eq!(s.u[16..20], 4096u32.to_le_bytes());
        assert!(s.u[20..].iter().all(|&b| b == 0));
    }

    #[test]
    fn getdomaininfolist_round_trips_at_c_offsets() {
        let g = XenSysctlGetdomaininfolist {
            first_domain: 1,
            pad0: 0,
            max_domains: 64,
            buffer: 0xDEAD_B000,
            num_domains: 3,
            pad1: 0,
        };
        let mut u = [0xFFu8; UNION_SIZE];
        g.write(&mut u);
        assert_eq!(XenSysctlGetdomaininfolist::read(&u), g);
        assert_eq!(u[..4], [1, 0, 0, 0]);
        assert_eq!(u[4..8], 64u32.to_le_bytes());
        assert_eq!(u[8..16], 0xDEAD_B000u64.to_le_bytes());
        assert_eq!(u[16..20], 3u32.to_le_bytes());
        assert!(u[24..].iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn physinfo_round_trips_at_c_offsets() {
        let p = XenSysctlPhysinfo {
            threads_per_core: 1,
            cores_per_socket: 2,
            nr_cpus: 2,
            max_cpu_id: 1,
            nr_nodes: 1,
            max_node_id: 0,
            cpu_khz: 2_000_000,
            capabilities: XEN_SYSCTL_PHYSCAP_PV | XEN_SYSCTL_PHYSCAP_GNTTAB_V1,
            arch_capabilities: 0,
            pad: 0,
            total_pages: 0x4_0000,
            free_pages: 0x3_0000,
            scrub_pages: 0,
            outstanding_pages: 0,
            max_mfn: 0x3_FFFF,
            hw_cap: [1, 2, 3, 4, 5, 6, 7, 0x8000_0000],
        };
        let mut s = XenSysctl::new(SysctlCmd::Physinfo);
        s.set_payload(&p);
        assert_eq!(s.payload::<XenSysctlPhysinfo>(), p);
        assert_eq!(s.u[24..28], 2_000_000u32.to_le_bytes());
        assert_eq!(s.u[28..32], 0x102u32.to_le_bytes());
        assert_eq!(s.u[40..48], 0x4_0000u64.to_le_bytes());
        assert_eq!(s.u[72..80], 0x3_FFFFu64.to_le_bytes());
        assert_eq!(s.u[80..84], 1u32.to_le_bytes());
        assert_eq!(s.u[108..112], 0x8000_0000u32.to_le_bytes());
        assert!(s.u[112..].iter().all(|&b| b == 0));
    }

    #[test]
    fn sched_id_round_trips() {
        let mut s = XenSysctl::new(SysctlCmd::SchedId);
        s.set_payload(&XenSysctlSchedId {
            sched_id: XEN_SCHEDULER_CREDIT,
        });
        assert_eq!(s.u[..4], 5u32.to_le_bytes());
        assert_eq!(s.payload::<XenSysctlSchedId>().sched_id, 5);
    }
}
