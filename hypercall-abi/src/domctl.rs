//! domctl (Xen 4.17, x86_64): the header, its 128-byte union, the commands and their payloads.

use crate::domid::DomId;
use crate::errno::Errno;
use crate::version::XEN_DOMAIN_HANDLE_LEN;
use core::mem::{offset_of, size_of};

/// `interface_version` a domctl must carry in Xen 4.17; any other value is -EACCES.
pub const XEN_DOMCTL_INTERFACE_VERSION: u32 = 0x15;

/// Bytes of the union that follows the domctl and sysctl headers.
pub const UNION_SIZE: usize = 128;

/// A domain's 16-byte handle (`xen_domain_handle_t`, a UUID chosen by the toolstack).
pub type XenDomainHandle = [u8; XEN_DOMAIN_HANDLE_LEN];

/// A domctl command (`XEN_DOMCTL_*`). Numbers Xen defines but xen-core does not name decode to
/// `Other`; what to answer for them is the handler's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomctlCmd {
    /// Create a domain (`XenDomctlCreatedomain`); `domain` is in/out.
    Createdomain,
    /// Destroy a domain and return its memory.
    Destroydomain,
    /// Pause every vCPU of a domain.
    Pausedomain,
    /// Undo one `Pausedomain` (and start a new domain).
    Unpausedomain,
    /// Report a domain's state (`XenDomctlGetdomaininfo`).
    Getdomaininfo,
    /// Set a domain's memory limit (`XenDomctlMaxMem`).
    MaxMem,
    /// Load a vCPU's register state (`XenDomctlVcpucontext`).
    Setvcpucontext,
    /// Read a vCPU's register state (`XenDomctlVcpucontext`).
    Getvcpucontext,
    /// Report one vCPU's state.
    Getvcpuinfo,
    /// Set the number of vCPUs (`XenDomctlMaxVcpus`).
    MaxVcpus,
    /// Get or set scheduler parameters (`XenDomctlSchedulerOp`).
    SchedulerOp,
    /// Set the domain handle.
    Setdomainhandle,
    /// Write a hypercall page into a guest frame.
    HypercallInit,
    /// Resume a suspended domain.
    Resumedomain,
    /// Set a PV guest's address size (32 or 64).
    SetAddressSize,
    /// Get a PV guest's address size.
    GetAddressSize,
    /// Any other number.
    Other(u32),
}

impl DomctlCmd {
    /// Every named command, in numeric order.
    pub const NAMED: [DomctlCmd; 16] = [
        DomctlCmd::Createdomain,
        DomctlCmd::Destroydomain,
        DomctlCmd::Pausedomain,
        DomctlCmd::Unpausedomain,
        DomctlCmd::Getdomaininfo,
        DomctlCmd::MaxMem,
        DomctlCmd::Setvcpucontext,
        DomctlCmd::Getvcpucontext,
        DomctlCmd::Getvcpuinfo,
        DomctlCmd::MaxVcpus,
        DomctlCmd::SchedulerOp,
        DomctlCmd::Setdomainhandle,
        DomctlCmd::HypercallInit,
        DomctlCmd::Resumedomain,
        DomctlCmd::SetAddressSize,
        DomctlCmd::GetAddressSize,
    ];

    /// The command's number in `XenDomctl::cmd`.
    pub const fn raw(self) -> u32 {
        match self {
            DomctlCmd::Createdomain => 1,
            DomctlCmd::Destroydomain => 2,
            DomctlCmd::Pausedomain => 3,
            DomctlCmd::Unpausedomain => 4,
            DomctlCmd::Getdomaininfo => 5,
            DomctlCmd::MaxMem => 11,
            DomctlCmd::Setvcpucontext => 12,
            DomctlCmd::Getvcpucontext => 13,
            DomctlCmd::Getvcpuinfo => 14,
            DomctlCmd::MaxVcpus => 15,
            DomctlCmd::SchedulerOp => 16,
            DomctlCmd::Setdomainhandle => 17,
            DomctlCmd::HypercallInit => 22,
            DomctlCmd::Resumedomain => 27,
            DomctlCmd::SetAddressSize => 35,
            DomctlCmd::GetAddressSize => 36,
            DomctlCmd::Other(n) => n,
        }
    }

    /// Decodes `XenDomctl::cmd`; never fails (unknown numbers are `Other`).
    pub const fn from_raw(cmd: u32) -> Self {
        match cmd {
            1 => DomctlCmd::Createdomain,
            2 => DomctlCmd::Destroydomain,
            3 => DomctlCmd::Pausedomain,
            4 => DomctlCmd::Unpausedomain,
            5 => DomctlCmd::Getdomaininfo,
            11 => DomctlCmd::MaxMem,
            12 => DomctlCmd::Setvcpucontext,
            13 => DomctlCmd::Getvcpucontext,
            14 => DomctlCmd::Getvcpuinfo,
            15 => DomctlCmd::MaxVcpus,
            16 => DomctlCmd::SchedulerOp,
            17 => DomctlCmd::Setdomainhandle,
            22 => DomctlCmd::HypercallInit,
            27 => DomctlCmd::Resumedomain,
            35 => DomctlCmd::SetAddressSize,
            36 => DomctlCmd::GetAddressSize,
            n => DomctlCmd::Other(n),
        }
    }
}

/// The domctl argument (`struct xen_domctl`): a header, then a union whose meaning depends on
/// `cmd`. Read and write the union with [`XenDomctl::payload`] and [`XenDomctl::set_payload`].
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenDomctl {
    /// `DomctlCmd` number.
    pub cmd: u32,
    /// Must be [`XEN_DOMCTL_INTERFACE_VERSION`].
    pub interface_version: u32,
    /// Target domain (in/out for createdomain).
    pub domain: DomId,
    /// Padding (C alignment).
    pub pad: [u16; 3],
    /// The per-command payload.
    pub u: [u8; UNION_SIZE],
}
const _: () = assert!(size_of::<XenDomctl>() == 144);
const _: () = assert!(align_of::<XenDomctl>() == 8);
const _: () = assert!(offset_of!(XenDomctl, cmd) == 0);
const _: () = assert!(offset_of!(XenDomctl, interface_version) == 4);
const _: () = assert!(offset_of!(XenDomctl, domain) == 8);
const _: () = assert!(offset_of!(XenDomctl, pad) == 10);
const _: () = assert!(offset_of!(XenDomctl, u) == 16);

impl Default for XenDomctl {
    fn default() -> Self {
        XenDomctl {
            cmd: 0,
            interface_version: 0,
            domain: 0,
            pad: [0; 3],
            u: [0; UNION_SIZE],
        }
    }
}

/// A domctl whose header passed [`XenDomctl::decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DomctlRequest {
    /// The command.
    pub cmd: DomctlCmd,
    /// The target domain, as the caller wrote it.
    pub domain: DomId,
}

impl XenDomctl {
    /// A request for `cmd` on `domain` at the current interface version, with a zeroed union.
    pub fn new(cmd: DomctlCmd, domain: DomId) -> Self {
        XenDomctl {
            cmd: cmd.raw(),
            interface_version: XEN_DOMCTL_INTERFACE_VERSION,
            domain,
            ..XenDomctl::default()
        }
    }

    /// Checks the header as Xen does before anything else: a wrong `interface_version` is
    /// -EACCES. Any `cmd` decodes; the handler answers for the ones it does not know.
    pub fn decode(&self) -> Result<DomctlRequest, Errno> {
        if self.interface_version != XEN_DOMCTL_INTERFACE_VERSION {
            return Err(Errno::Acces);
        }
        Ok(DomctlRequest {
            cmd: DomctlCmd::from_raw(self.cmd),
            domain: self.domain,
        })
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

/// A `#[repr(C)]` payload that lives at the start of a domctl or sysctl union. It is converted
/// field by field at the C offsets (little endian), so no cast and no `unsafe` is needed; every
/// bit pattern reads as some value.
pub trait UnionPayload: Sized {
    /// Reads the payload from the union's bytes.
    fn read(u: &[u8; UNION_SIZE]) -> Self;
    /// Writes the payload into the union's bytes, leaving the bytes past it alone.
    fn write(&self, u: &mut [u8; UNION_SIZE]);
}

/// One field of a [`UnionPayload`]: read and written at a byte offset in the union. Callers
/// (the `union_payload!` macro) only pass offsets of fields of a struct that fits the union.
pub(crate) trait UnionField: Sized {
    /// Reads the field at `off`.
    fn get(u: &[u8; UNION_SIZE], off: usize) -> Self;
    /// Writes the field at `off`.
    fn put(&self, u: &mut [u8; UNION_SIZE], off: usize);
}

macro_rules! int_union_field {
    ($($t:ty),+) => {
        $(impl UnionField for $t {
            fn get(u: &[u8; UNION_SIZE], off: usize) -> Self {
                let mut b = [0; size_of::<$t>()];
                b.copy_from_slice(&u[off..off + size_of::<$t>()]);
                <$t>::from_le_bytes(b)
            }

            fn put(&self, u: &mut [u8; UNION_SIZE], off: usize) {
                u[off..off + size_of::<$t>()].copy_from_slice(&self.to_le_bytes());
            }
        })+
    };
}
int_union_field!(u8, u16, u32, i32, u64);

impl<T: UnionField + Copy + Default, const N: usize> UnionField for [T; N] {
    fn get(u: &[u8; UNION_SIZE], off: usize) -> Self {
        let mut a = [T::default(); N];
        for (i, x) in a.iter_mut().enumerate() {
            *x = T::get(u, off + i * size_of::<T>());
        }
        a
    }

    fn put(&self, u: &mut [u8; UNION_SIZE], off: usize) {
        for (i, x) in self.iter().enumerate() {
            x.put(u, off + i * size_of::<T>());
        }
    }
}

/// Implements [`UnionPayload`] (and [`UnionField`], for nesting) for a `#[repr(C)]` struct
/// whose fields are all listed: the struct literal makes the compiler reject a missing one, and
/// a compile-time check that the struct fits the union keeps every offset in bounds.
macro_rules! union_payload {
    ($t:ident { $($f:ident),+ $(,)? }) => {
        const _: () = assert!(core::mem::size_of::<$t>() <= $crate::domctl::UNION_SIZE);

        impl $crate::domctl::UnionField for $t {
            fn get(u: &[u8; $crate::domctl::UNION_SIZE], off: usize) -> Self {
                $t {
                    $($f: $crate::domctl::UnionField::get(u, off + core::mem::offset_of!($t, $f)),)+
                }
            }

            fn put(&self, u: &mut [u8; $crate::domctl::UNION_SIZE], off: usize) {
                $($crate::domctl::UnionField::put(
                    &self.$f,
                    u,
                    off + core::mem::offset_of!($t, $f),
                );)+
            }
        }

        impl $crate::domctl::UnionPayload for $t {
            fn read(u: &[u8; $crate::domctl::UNION_SIZE]) -> Self {
                $crate::domctl::UnionField::get(u, 0)
            }

            fn write(&self, u: &mut [u8; $crate::domctl::UNION_SIZE]) {
                $crate::domctl::UnionField::put(self, u, 0)
            }
        }
    };
}
pub(crate) use union_payload;

/// `XenDomctlCreatedomain::flags`: an HVM guest.
pub const XEN_DOMCTL_CDF_HVM: u32 = 1 << 0;
/// `XenDomctlCreatedomain::flags`: use hardware-assisted paging.
pub const XEN_DOMCTL_CDF_HAP: u32 = 1 << 1;
/// `XenDomctlCreatedomain::flags`: tboot checks memory integrity across S3.
pub const XEN_DOMCTL_CDF_S3_INTEGRITY: u32 = 1 << 2;
/// `XenDomctlCreatedomain::flags`: no out-of-sync shadow page tables.
pub const XEN_DOMCTL_CDF_OOS_OFF: u32 = 1 << 3;
/// `XenDomctlCreatedomain::flags`: the domain runs xenstored.
pub const XEN_DOMCTL_CDF_XS_DOMAIN: u32 = 1 << 4;
/// `XenDomctlCreatedomain::flags`: the domain may use the IOMMU.
pub const XEN_DOMCTL_CDF_IOMMU: u32 = 1 << 5;
/// `XenDomctlCreatedomain::flags`: nested virtualisation.
pub const XEN_DOMCTL_CDF_NESTED_VIRT: u32 = 1 << 6;
/// `XenDomctlCreatedomain::flags`: expose the vPMU.
pub const XEN_DOMCTL_CDF_VPMU: u32 = 1 << 7;
/// The highest `XEN_DOMCTL_CDF_*` bit Xen 4.17 knows; higher bits are -EINVAL.
pub const XEN_DOMCTL_CDF_MAX: u32 = XEN_DOMCTL_CDF_VPMU;

/// `XenDomctlCreatedomain::iommu_opts`: do not share page tables with the IOMMU.
pub const XEN_DOMCTL_IOMMU_NO_SHAREPT: u32 = 1 << 0;

/// `XenDomctlCreatedomain::grant_opts`: bits holding the highest grant table version allowed.
pub const XEN_DOMCTL_GRANT_VERSION_MASK: u32 = 0xF;

/// `XenArchDomainconfig::emulation_flags`: emulated local APIC.
pub const XEN_X86_EMU_LAPIC: u32 = 1 << 0;
/// `XenArchDomainconfig::emulation_flags`: emulated HPET.
pub const XEN_X86_EMU_HPET: u32 = 1 << 1;
/// `XenArchDomainconfig::emulation_flags`: emulated ACPI PM timer and registers.
pub const XEN_X86_EMU_PM: u32 = 1 << 2;
/// `XenArchDomainconfig::emulation_flags`: emulated RTC.
pub const XEN_X86_EMU_RTC: u32 = 1 << 3;
/// `XenArchDomainconfig::emulation_flags`: emulated IO-APIC.
pub const XEN_X86_EMU_IOAPIC: u32 = 1 << 4;
/// `XenArchDomainconfig::emulation_flags`: emulated PIC.
pub const XEN_X86_EMU_PIC: u32 = 1 << 5;
/// `XenArchDomainconfig::emulation_flags`: emulated VGA.
pub const XEN_X86_EMU_VGA: u32 = 1 << 6;
/// `XenArchDomainconfig::emulation_flags`: emulated IOMMU.
pub const XEN_X86_EMU_IOMMU: u32 = 1 << 7;
/// `XenArchDomainconfig::emulation_flags`: emulated PIT.
pub const XEN_X86_EMU_PIT: u32 = 1 << 8;
/// `XenArchDomainconfig::emulation_flags`: route interrupts through PIRQs.
pub const XEN_X86_EMU_USE_PIRQ: u32 = 1 << 9;
/// `XenArchDomainconfig::emulation_flags`: emulated PCI config space.
pub const XEN_X86_EMU_VPCI: u32 = 1 << 10;
/// Every `XEN_X86_EMU_*` bit.
pub const XEN_X86_EMU_ALL: u32 = (1 << 11) - 1;
/// `XenArchDomainconfig::misc_flags`: unhandled MSR accesses do not raise #GP.
pub const XEN_X86_MSR_RELAXED: u32 = 1 << 0;

/// The x86 part of createdomain and getdomaininfo (`struct xen_arch_domainconfig`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenArchDomainconfig {
    /// `XEN_X86_EMU_*`; a PV domain has none (or only the PIT).
    pub emulation_flags: u32,
    /// `XEN_X86_MSR_*`.
    pub misc_flags: u32,
}
const _: () = assert!(size_of::<XenArchDomainconfig>() == 8);
const _: () = assert!(offset_of!(XenArchDomainconfig, emulation_flags) == 0);
const _: () = assert!(offset_of!(XenArchDomainconfig, misc_flags) == 4);
union_payload!(XenArchDomainconfig {
    emulation_flags,
    misc_flags
});

/// Payload of `DomctlCmd::Createdomain` (`struct xen_domctl_createdomain`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlCreatedomain {
    /// Security label.
    pub ssidref: u32,
    /// The domain handle.
    pub handle: XenDomainHandle,
    /// `XEN_DOMCTL_CDF_*`.
    pub flags: u32,
    /// `XEN_DOMCTL_IOMMU_*`.
    pub iommu_opts: u32,
    /// Number of vCPUs the domain may have.
    pub max_vcpus: u32,
    /// Highest event channel port.
    pub max_evtchn_port: u32,
    /// Grant table frames; negative means the hypervisor's default.
    pub max_grant_frames: i32,
    /// Maptrack frames; negative means the hypervisor's default.
    pub max_maptrack_frames: i32,
    /// Highest grant table version in the low 4 bits (`XEN_DOMCTL_GRANT_VERSION_MASK`).
    pub grant_opts: u32,
    /// Per-vCPU trace buffer bytes; 0 for none.
    pub vmtrace_size: u32,
    /// CPU pool; 0 for the default.
    pub cpupool_id: u32,
    /// x86 configuration.
    pub arch: XenArchDomainconfig,
}
const _: () = assert!(size_of::<XenDomctlCreatedomain>() == 64);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, ssidref) == 0);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, handle) == 4);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, flags) == 20);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, iommu_opts) == 24);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, max_vcpus) == 28);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, max_evtchn_port) == 32);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, max_grant_frames) == 36);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, max_maptrack_frames) == 40);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, grant_opts) == 44);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, vmtrace_size) == 48);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, cpupool_id) == 52);
const _: () = assert!(offset_of!(XenDomctlCreatedomain, arch) == 56);
union_payload!(XenDomctlCreatedomain {
    ssidref,
    handle,
    flags,
    iommu_opts,
    max_vcpus,
    max_evtchn_port,
    max_grant_frames,
    max_maptrack_frames,
    grant_opts,
    vmtrace_size,
    cpupool_id,
    arch,
});

/// `XenDomctlGetdomaininfo::flags`: the domain is being destroyed.
pub const XEN_DOMINF_DYING: u32 = 1 << 0;
/// `XenDomctlGetdomaininfo::flags`: an HVM guest.
pub const XEN_DOMINF_HVM_GUEST: u32 = 1 << 1;
/// `XenDomctlGetdomaininfo::flags`: the guest has shut down (reason in the shutdown code).
pub const XEN_DOMINF_SHUTDOWN: u32 = 1 << 2;
/// `XenDomctlGetdomaininfo::flags`: paused by the toolstack.
pub const XEN_DOMINF_PAUSED: u32 = 1 << 3;
/// `XenDomctlGetdomaininfo::flags`: every vCPU is blocked.
pub const XEN_DOMINF_BLOCKED: u32 = 1 << 4;
/// `XenDomctlGetdomaininfo::flags`: some vCPU is running.
pub const XEN_DOMINF_RUNNING: u32 = 1 << 5;
/// `XenDomctlGetdomaininfo::flags`: being debugged.
pub const XEN_DOMINF_DEBUGGED: u32 = 1 << 6;
/// `XenDomctlGetdomaininfo::flags`: runs xenstored.
pub const XEN_DOMINF_XS_DOMAIN: u32 = 1 << 7;
/// `XenDomctlGetdomaininfo::flags`: uses hardware-assisted paging.
pub const XEN_DOMINF_HAP: u32 = 1 << 8;
/// Mask of the shutdown code (a `SHUTDOWN_*` reason) after shifting.
pub const XEN_DOMINF_SHUTDOWNMASK: u32 = 255;
/// Shift of the shutdown code in `XenDomctlGetdomaininfo::flags`.
pub const XEN_DOMINF_SHUTDOWNSHIFT: u32 = 16;
/// `XenDomctlGetdomaininfo::max_vcpu_id` of a domain without vCPUs.
pub const XEN_INVALID_MAX_VCPU_ID: u32 = !0;

/// Payload of `DomctlCmd::Getdomaininfo`, and one entry of sysctl getdomaininfolist's buffer
/// (`struct xen_domctl_getdomaininfo`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlGetdomaininfo {
    /// The domain described.
    pub domain: DomId,
    /// Padding.
    pub pad1: u16,
    /// `XEN_DOMINF_*`, plus the shutdown code.
    pub flags: u32,
    /// Pages the domain owns.
    pub tot_pages: u64,
    /// The domain's page limit.
    pub max_pages: u64,
    /// Pages claimed but not yet allocated.
    pub outstanding_pages: u64,
    /// Pages shared with other domains.
    pub shr_pages: u64,
    /// Pages paged out.
    pub paged_pages: u64,
    /// Frame of the domain's shared_info page.
    pub shared_info_frame: u64,
    /// CPU time used, in nanoseconds.
    pub cpu_time: u64,
    /// vCPUs online.
    pub nr_online_vcpus: u32,
    /// Highest vCPU id, or [`XEN_INVALID_MAX_VCPU_ID`].
    pub max_vcpu_id: u32,
    /// Security label.
    pub ssidref: u32,
    /// The domain handle.
    pub handle: XenDomainHandle,
    /// CPU pool.
    pub cpupool: u32,
    /// Width of the guest physical address space in bits.
    pub gpaddr_bits: u8,
    /// Padding.
    pub pad2: [u8; 7],
    /// x86 configuration the domain was created with.
    pub arch_config: XenArchDomainconfig,
}
const _: () = assert!(size_of::<XenDomctlGetdomaininfo>() == 112);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, domain) == 0);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, pad1) == 2);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, flags) == 4);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, tot_pages) == 8);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, max_pages) == 16);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, outstanding_pages) == 24);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, shr_pages) == 32);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, paged_pages) == 40);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, shared_info_frame) == 48);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, cpu_time) == 56);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, nr_online_vcpus) == 64);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, max_vcpu_id) == 68);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, ssidref) == 72);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, handle) == 76);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, cpupool) == 92);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, gpaddr_bits) == 96);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, pad2) == 97);
const _: () = assert!(offset_of!(XenDomctlGetdomaininfo, arch_config) == 104);
union_payload!(XenDomctlGetdomaininfo {
    domain,
    pad1,
    flags,
    tot_pages,
    max_pages,
    outstanding_pages,
    shr_pages,
    paged_pages,
    shared_info_frame,
    cpu_time,
    nr_online_vcpus,
    max_vcpu_id,
    ssidref,
    handle,
    cpupool,
    gpaddr_bits,
    pad2,
    arch_config,
});

impl XenDomctlGetdomaininfo {
    /// The shutdown code (`SHUTDOWN_*`) stored in `flags`; meaningful with `XEN_DOMINF_SHUTDOWN`.
    pub const fn shutdown_code(&self) -> u32 {
        (self.flags >> XEN_DOMINF_SHUTDOWNSHIFT) & XEN_DOMINF_SHUTDOWNMASK
    }

    /// Marks the domain shut down with `code` (a `SHUTDOWN_*` reason, masked to 8 bits).
    pub fn set_shutdown(&mut self, code: u32) {
        self.flags &= !(XEN_DOMINF_SHUTDOWNMASK << XEN_DOMINF_SHUTDOWNSHIFT);
        self.flags |=
            XEN_DOMINF_SHUTDOWN | ((code & XEN_DOMINF_SHUTDOWNMASK) << XEN_DOMINF_SHUTDOWNSHIFT);
    }
}

/// Payload of `DomctlCmd::MaxMem` (`struct xen_domctl_max_mem`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlMaxMem {
    /// The new limit in KiB.
    pub max_memkb: u64,
}
const _: () = assert!(size_of::<XenDomctlMaxMem>() == 8);
const _: () = assert!(offset_of!(XenDomctlMaxMem, max_memkb) == 0);
union_payload!(XenDomctlMaxMem { max_memkb });

/// Payload of `DomctlCmd::Setvcpucontext` and `Getvcpucontext` (`struct xen_domctl_vcpucontext`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlVcpucontext {
    /// The vCPU.
    pub vcpu: u32,
    /// Padding (C alignment).
    pub pad: u32,
    /// Guest pointer to a `VcpuGuestContext` (5168 bytes).
    pub ctxt: u64,
}
const _: () = assert!(size_of::<XenDomctlVcpucontext>() == 16);
const _: () = assert!(offset_of!(XenDomctlVcpucontext, vcpu) == 0);
const _: () = assert!(offset_of!(XenDomctlVcpucontext, pad) == 4);
const _: () = assert!(offset_of!(XenDomctlVcpucontext, ctxt) == 8);
union_payload!(XenDomctlVcpucontext { vcpu, pad, ctxt });

/// Payload of `DomctlCmd::Getvcpuinfo` (`struct xen_domctl_getvcpuinfo`): one vCPU's state.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlGetvcpuinfo {
    /// In: the vCPU.
    pub vcpu: u32,
    /// Out: online (not brought down).
    pub online: u8,
    /// Out: blocked waiting for an event.
    pub blocked: u8,
    /// Out: running on a CPU now.
    pub running: u8,
    /// Padding (C alignment).
    pub pad0: u8,
    /// Out: ns of CPU time it has used.
    pub cpu_time: u64,
    /// Out: the CPU it runs on (or last ran on).
    pub cpu: u32,
    /// Padding (C alignment).
    pub pad1: u32,
}
const _: () = assert!(size_of::<XenDomctlGetvcpuinfo>() == 24);
const _: () = assert!(offset_of!(XenDomctlGetvcpuinfo, online) == 4);
const _: () = assert!(offset_of!(XenDomctlGetvcpuinfo, blocked) == 5);
const _: () = assert!(offset_of!(XenDomctlGetvcpuinfo, running) == 6);
const _: () = assert!(offset_of!(XenDomctlGetvcpuinfo, cpu_time) == 8);
const _: () = assert!(offset_of!(XenDomctlGetvcpuinfo, cpu) == 16);
union_payload!(XenDomctlGetvcpuinfo {
    vcpu,
    online,
    blocked,
    running,
    pad0,
    cpu_time,
    cpu,
    pad1
});

/// Payload of `DomctlCmd::MaxVcpus` (`struct xen_domctl_max_vcpus`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlMaxVcpus {
    /// Number of vCPUs.
    pub max: u32,
}
const _: () = assert!(size_of::<XenDomctlMaxVcpus>() == 4);
const _: () = assert!(offset_of!(XenDomctlMaxVcpus, max) == 0);
union_payload!(XenDomctlMaxVcpus { max });

/// Payload of `DomctlCmd::HypercallInit` (`struct xen_domctl_hypercall_init`): the hypervisor
/// writes its hypercall stubs into the guest frame `gmfn` (an MFN for a PV guest).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlHypercallInit {
    /// The guest frame to fill.
    pub gmfn: u64,
}
const _: () = assert!(size_of::<XenDomctlHypercallInit>() == 8);
const _: () = assert!(offset_of!(XenDomctlHypercallInit, gmfn) == 0);
union_payload!(XenDomctlHypercallInit { gmfn });

/// `XenDomctlSchedulerOp::sched_id` and sysctl sched_id: the credit scheduler.
pub const XEN_SCHEDULER_CREDIT: u32 = 5;
/// The credit2 scheduler.
pub const XEN_SCHEDULER_CREDIT2: u32 = 6;
/// The ARINC 653 scheduler.
pub const XEN_SCHEDULER_ARINC653: u32 = 7;
/// The RTDS scheduler.
pub const XEN_SCHEDULER_RTDS: u32 = 8;
/// The null scheduler.
pub const XEN_SCHEDULER_NULL: u32 = 9;

/// `XenDomctlSchedulerOp::cmd`: set the domain's parameters.
pub const XEN_DOMCTL_SCHEDOP_PUTINFO: u32 = 0;
/// `XenDomctlSchedulerOp::cmd`: read the domain's parameters.
pub const XEN_DOMCTL_SCHEDOP_GETINFO: u32 = 1;
/// `XenDomctlSchedulerOp::cmd`: set per-vCPU parameters (not for credit).
pub const XEN_DOMCTL_SCHEDOP_PUTVCPUINFO: u32 = 2;
/// `XenDomctlSchedulerOp::cmd`: read per-vCPU parameters (not for credit).
pub const XEN_DOMCTL_SCHEDOP_GETVCPUINFO: u32 = 3;

/// Credit scheduler parameters (`struct xen_domctl_sched_credit`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlSchedCredit {
    /// Relative weight; 0 on putinfo leaves it unchanged.
    pub weight: u16,
    /// Cap in percent of one CPU; 0 means no cap.
    pub cap: u16,
}
const _: () = assert!(size_of::<XenDomctlSchedCredit>() == 4);
const _: () = assert!(offset_of!(XenDomctlSchedCredit, weight) == 0);
const _: () = assert!(offset_of!(XenDomctlSchedCredit, cap) == 2);

/// Payload of `DomctlCmd::SchedulerOp` (`struct xen_domctl_scheduler_op`). The inner union
/// `u` is 16 bytes; the credit parameters are its first 4 (use the accessors).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenDomctlSchedulerOp {
    /// `XEN_SCHEDULER_*`: must name the scheduler in use.
    pub sched_id: u32,
    /// `XEN_DOMCTL_SCHEDOP_*`.
    pub cmd: u32,
    /// Per-scheduler parameters (credit, credit2, rtds, or a per-vCPU array handle).
    pub u: [u64; 2],
}
const _: () = assert!(size_of::<XenDomctlSchedulerOp>() == 24);
const _: () = assert!(offset_of!(XenDomctlSchedulerOp, sched_id) == 0);
const _: () = assert!(offset_of!(XenDomctlSchedulerOp, cmd) == 4);
const _: () = assert!(offset_of!(XenDomctlSchedulerOp, u) == 8);
union_payload!(XenDomctlSchedulerOp { sched_id, cmd, u });

impl XenDomctlSchedulerOp {
    /// `u.credit` (bytes 8..12: weight, then cap).
    pub const fn credit(&self) -> XenDomctlSchedCredit {
        XenDomctlSchedCredit {
            weight: self.u[0] as u16,
            cap: (self.u[0] >> 16) as u16,
        }
    }

    /// Sets `u.credit`, leaving the rest of `u` alone.
    pub fn set_credit(&mut self, credit: XenDomctlSchedCredit) {
        self.u[0] =
            (self.u[0] & !0xFFFF_FFFF) | u64::from(credit.weight) | (u64::from(credit.cap) << 16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `XEN_DOMCTL_*` command numbers from Xen 4.17's public/domctl.h.
    const CMDS: [(DomctlCmd, u32); 16] = [
        (DomctlCmd::Createdomain, 1),
        (DomctlCmd::Destroydomain, 2),
        (DomctlCmd::Pausedomain, 3),
        (DomctlCmd::Unpausedomain, 4),
        (DomctlCmd::Getdomaininfo, 5),
        (DomctlCmd::MaxMem, 11),
        (DomctlCmd::Setvcpucontext, 12),
        (DomctlCmd::Getvcpucontext, 13),
        (DomctlCmd::Getvcpuinfo, 14),
        (DomctlCmd::MaxVcpus, 15),
        (DomctlCmd::SchedulerOp, 16),
        (DomctlCmd::Setdomainhandle, 17),
        (DomctlCmd::HypercallInit, 22),
        (DomctlCmd::Resumedomain, 27),
        (DomctlCmd::SetAddressSize, 35),
        (DomctlCmd::GetAddressSize, 36),
    ];

    #[test]
    fn interface_version_is_4_17s() {
        assert_eq!(XEN_DOMCTL_INTERFACE_VERSION, 0x0000_0015);
        assert_eq!(UNION_SIZE, 128);
    }

    #[test]
    fn commands_match_domctl_h() {
        for (cmd, n) in CMDS {
            assert_eq!(cmd.raw(), n, "{cmd:?}");
            assert_eq!(DomctlCmd::from_raw(n), cmd);
        }
        assert_eq!(DomctlCmd::NAMED, CMDS.map(|(c, _)| c));
        for n in [0, 6, 9, 10, 23, 79, 86, 1000, u32::MAX] {
            assert_eq!(DomctlCmd::from_raw(n), DomctlCmd::Other(n));
            assert_eq!(DomctlCmd::Other(n).raw(), n);
        }
    }

    #[test]
    fn flag_values_match_domctl_h() {
        let cdf = [
            XEN_DOMCTL_CDF_HVM,
            XEN_DOMCTL_CDF_HAP,
            XEN_DOMCTL_CDF_S3_INTEGRITY,
            XEN_DOMCTL_CDF_OOS_OFF,
            XEN_DOMCTL_CDF_XS_DOMAIN,
            XEN_DOMCTL_CDF_IOMMU,
            XEN_DOMCTL_CDF_NESTED_VIRT,
            XEN_DOMCTL_CDF_VPMU,
        ];
        assert_eq!(cdf, [1, 2, 4, 8, 16, 32, 64, 128]);
        assert_eq!(XEN_DOMCTL_CDF_MAX, 1 << 7);
        assert_eq!(XEN_DOMCTL_IOMMU_NO_SHAREPT, 1);
        assert_eq!(XEN_DOMCTL_GRANT_VERSION_MASK, 0xF);
        let dominf = [
            XEN_DOMINF_DYING,
            XEN_DOMINF_HVM_GUEST,
            XEN_DOMINF_SHUTDOWN,
            XEN_DOMINF_PAUSED,
            XEN_DOMINF_BLOCKED,
            XEN_DOMINF_RUNNING,
            XEN_DOMINF_DEBUGGED,
            XEN_DOMINF_XS_DOMAIN,
            XEN_DOMINF_HAP,
        ];
        assert_eq!(dominf, [1, 2, 4, 8, 16, 32, 64, 128, 256]);
        assert_eq!(XEN_DOMINF_SHUTDOWNMASK, 255);
        assert_eq!(XEN_DOMINF_SHUTDOWNSHIFT, 16);
        assert_eq!(XEN_INVALID_MAX_VCPU_ID, 0xFFFF_FFFF);
    }

    #[test]
    fn x86_arch_config_flags_match_arch_x86_xen_h() {
        let emu = [
            XEN_X86_EMU_LAPIC,
            XEN_X86_EMU_HPET,
            XEN_X86_EMU_PM,
            XEN_X86_EMU_RTC,
            XEN_X86_EMU_IOAPIC,
            XEN_X86_EMU_PIC,
            XEN_X86_EMU_VGA,
            XEN_X86_EMU_IOMMU,
            XEN_X86_EMU_PIT,
            XEN_X86_EMU_USE_PIRQ,
            XEN_X86_EMU_VPCI,
        ];
        for (bit, flag) in emu.iter().enumerate() {
            assert_eq!(*flag, 1 << bit);
        }
        assert_eq!(XEN_X86_EMU_ALL, emu.iter().fold(0, |a, f| a | f));
        assert_eq!(XEN_X86_EMU_ALL, 0x7FF);
        assert_eq!(XEN_X86_MSR_RELAXED, 1);
    }

    #[test]
    fn scheduler_values_match_domctl_h() {
        assert_eq!(XEN_SCHEDULER_CREDIT, 5);
        assert_eq!(XEN_SCHEDULER_CREDIT2, 6);
        assert_eq!(XEN_SCHEDULER_ARINC653, 7);
        assert_eq!(XEN_SCHEDULER_RTDS, 8);
        assert_eq!(XEN_SCHEDULER_NULL, 9);
        assert_eq!(XEN_DOMCTL_SCHEDOP_PUTINFO, 0);
        assert_eq!(XEN_DOMCTL_SCHEDOP_GETINFO, 1);
        assert_eq!(XEN_DOMCTL_SCHEDOP_PUTVCPUINFO, 2);
        assert_eq!(XEN_DOMCTL_SCHEDOP_GETVCPUINFO, 3);
    }

    #[test]
    fn layouts_match_gcc_on_the_4_17_headers() {
        assert_eq!(size_of::<XenDomctl>(), 144);
        assert_eq!(align_of::<XenDomctl>(), 8);
        assert_eq!(offset_of!(XenDomctl, interface_version), 4);
        assert_eq!(offset_of!(XenDomctl, domain), 8);
        assert_eq!(offset_of!(XenDomctl, u), 16);
        assert_eq!(size_of::<XenArchDomainconfig>(), 8);
        assert_eq!(size_of::<XenDomctlCreatedomain>(), 64);
        assert_eq!(offset_of!(XenDomctlCreatedomain, flags), 20);
        assert_eq!(offset_of!(XenDomctlCreatedomain, max_vcpus), 28);
        assert_eq!(offset_of!(XenDomctlCreatedomain, cpupool_id), 52);
        assert_eq!(offset_of!(XenDomctlCreatedomain, arch.misc_flags), 60);
        assert_eq!(size_of::<XenDomctlGetdomaininfo>(), 112);
        assert_eq!(offset_of!(XenDomctlGetdomaininfo, tot_pages), 8);
        assert_eq!(offset_of!(XenDomctlGetdomaininfo, cpu_time), 56);
        assert_eq!(offset_of!(XenDomctlGetdomaininfo, handle), 76);
        assert_eq!(offset_of!(XenDomctlGetdomaininfo, gpaddr_bits), 96);
        assert_eq!(offset_of!(XenDomctlGetdomaininfo, arch_config), 104);
        assert_eq!(size_of::<XenDomctlMaxMem>(), 8);
        assert_eq!(size_of::<XenDomctlVcpucontext>(), 16);
        assert_eq!(offset_of!(XenDomctlVcpucontext, ctxt), 8);
        assert_eq!(size_of::<XenDomctlMaxVcpus>(), 4);
        assert_eq!(size_of::<XenDomctlHypercallInit>(), 8);
        assert_eq!(size_of::<XenDomctlSchedCredit>(), 4);
        assert_eq!(size_of::<XenDomctlSchedulerOp>(), 24);
        assert_eq!(offset_of!(XenDomctlSchedulerOp, u), 8);
    }

    #[test]
    fn decode_checks_the_interface_version_first() {
        let mut d = XenDomctl::new(DomctlCmd::Pausedomain, 7);
        assert_eq!(
            d.decode(),
            Ok(DomctlRequest {
                cmd: DomctlCmd::Pausedomain,
                domain: 7
            })
        );
        for v in [0, 0x14, 0x16, 0x15_0000, u32::MAX] {
            d.interface_version = v;
            assert_eq!(d.decode(), Err(Errno::Acces), "{v:#x}");
        }
        // Unknown commands still decode: the handler answers for them.
        let d = XenDomctl {
            cmd: 999,
            ..XenDomctl::new(DomctlCmd::Createdomain, 0)
        };
        assert_eq!(d.decode().map(|r| r.cmd), Ok(DomctlCmd::Other(999)));
    }

    #[test]
    fn new_zeroes_everything_but_the_header() {
        let d = XenDomctl::new(DomctlCmd::Getdomaininfo, 3);
        assert_eq!(d.cmd, 5);
        assert_eq!(d.interface_version, 0x15);
        assert_eq!(d.domain, 3);
        assert_eq!(d.pad, [0; 3]);
        assert!(d.u.iter().all(|&b| b == 0));
    }

    fn sample_createdomain() -> XenDomctlCreatedomain {
        XenDomctlCreatedomain {
            ssidref: 0x1111_2222,
            handle: core::array::from_fn(|i| i as u8 + 0xA0),
            flags: XEN_DOMCTL_CDF_IOMMU | XEN_DOMCTL_CDF_XS_DOMAIN,
            iommu_opts: 1,
            max_vcpus: 4,
            max_evtchn_port: 1023,
            max_grant_frames: -1,
            max_maptrack_frames: -2,
            grant_opts: 1,
            vmtrace_size: 0x8000,
            cpupool_id: 9,
            arch: XenArchDomainconfig {
                emulation_flags: XEN_X86_EMU_PIT,
                misc_flags: XEN_X86_MSR_RELAXED,
            },
        }
    }

    #[test]
    fn createdomain_round_trips_at_c_offsets() {
        let c = sample_createdomain();
        let mut d = XenDomctl::new(DomctlCmd::Createdomain, 0);
        d.set_payload(&c);
        assert_eq!(d.payload::<XenDomctlCreatedomain>(), c);
        assert_eq!(d.u[0..4], 0x1111_2222u32.to_le_bytes());
        assert_eq!(d.u[4], 0xA0);
        assert_eq!(d.u[19], 0xAF);
        assert_eq!(d.u[28..32], 4u32.to_le_bytes());
        assert_eq!(d.u[36..40], (-1i32).to_le_bytes());
        assert_eq!(d.u[40..44], (-2i32).to_le_bytes());
        assert_eq!(d.u[52..56], 9u32.to_le_bytes());
        assert_eq!(d.u[56..60], XEN_X86_EMU_PIT.to_le_bytes());
        assert_eq!(d.u[60..64], 1u32.to_le_bytes());
        // Bytes past the payload are untouched.
        assert!(d.u[64..].iter().all(|&b| b == 0));
    }

    #[test]
    fn write_leaves_the_rest_of_the_union_alone() {
        let mut u = [0xEE; UNION_SIZE];
        XenDomctlMaxVcpus { max: 2 }.write(&mut u);
        assert_eq!(u[..4], [2, 0, 0, 0]);
        assert!(u[4..].iter().all(|&b| b == 0xEE));
        assert_eq!(XenDomctlMaxVcpus::read(&u), XenDomctlMaxVcpus { max: 2 });
    }

    #[test]
    fn getdomaininfo_round_trips_at_c_offsets() {
        let mut info = XenDomctlGetdomaininfo {
            domain: 0x7FEF,
            pad1: 0,
            flags: XEN_DOMINF_RUNNING,
            tot_pages: 0x100,
            max_pages: 0x200,
            outstanding_pages: 3,
            shr_pages: 4,
            paged_pages: 5,
            shared_info_frame: 0xABCDE,
            cpu_time: 0x0123_4567_89AB_CDEF,
            nr_online_vcpus: 1,
            max_vcpu_id: 0,
            ssidref: 6,
            handle: [0x5A; 16],
            cpupool: 0,
            gpaddr_bits: 52,
            pad2: [0; 7],
            arch_config: XenArchDomainconfig::default(),
        };
        info.set_shutdown(3);
        let mut u = [0u8; UNION_SIZE];
        info.write(&mut u);
        assert_eq!(XenDomctlGetdomaininfo::read(&u), info);
        assert_eq!(u[0..2], 0x7FEFu16.to_le_bytes());
        assert_eq!(
            u[4..8],
            (XEN_DOMINF_RUNNING | XEN_DOMINF_SHUTDOWN | (3 << 16)).to_le_bytes()
        );
        assert_eq!(u[48..56], 0xABCDEu64.to_le_bytes());
        assert_eq!(u[56..64], 0x0123_4567_89AB_CDEFu64.to_le_bytes());
        assert_eq!(u[76..92], [0x5A; 16]);
        assert_eq!(u[96], 52);
        assert!(u[112..].iter().all(|&b| b == 0));
    }

    #[test]
    fn shutdown_code_in_flags() {
        let mut info = XenDomctlGetdomaininfo {
            flags: XEN_DOMINF_PAUSED,
            ..Default::default()
        };
        assert_eq!(info.shutdown_code(), 0);
        info.set_shutdown(1);
        assert_eq!(info.shutdown_code(), 1);
        assert_eq!(
            info.flags,
            XEN_DOMINF_PAUSED | XEN_DOMINF_SHUTDOWN | 0x1_0000
        );
        // A later code replaces the earlier one; it is masked to 8 bits.
        info.set_shutdown(0x1FF);
        assert_eq!(info.shutdown_code(), 0xFF);
        assert_eq!(info.flags & 0xFFFF, XEN_DOMINF_PAUSED | XEN_DOMINF_SHUTDOWN);
    }

    #[test]
    fn small_payloads_round_trip() {
        let mut d = XenDomctl::new(DomctlCmd::MaxMem, 1);
        let m = XenDomctlMaxMem {
            max_memkb: 0x1_0000_0001,
        };
        d.set_payload(&m);
        assert_eq!(d.u[..8], 0x1_0000_0001u64.to_le_bytes());
        assert_eq!(d.payload::<XenDomctlMaxMem>(), m);

        let v = XenDomctlVcpucontext {
            vcpu: 1,
            pad: 0,
            ctxt: 0xFFFF_8800_0000_1000,
        };
        d.set_payload(&v);
        assert_eq!(d.u[8..16], 0xFFFF_8800_0000_1000u64.to_le_bytes());
        assert_eq!(d.payload::<XenDomctlVcpucontext>(), v);

        let h = XenDomctlHypercallInit { gmfn: 0x1_2345 };
        d.set_payload(&h);
        assert_eq!(d.u[..8], 0x1_2345u64.to_le_bytes());
        assert_eq!(d.payload::<XenDomctlHypercallInit>(), h);
    }

    #[test]
    fn scheduler_op_credit_params() {
        let mut op = XenDomctlSchedulerOp {
            sched_id: XEN_SCHEDULER_CREDIT,
            cmd: XEN_DOMCTL_SCHEDOP_PUTINFO,
            u: [0xAAAA_AAAA_0000_0000, 7],
        };
        op.set_credit(XenDomctlSchedCredit {
            weight: 512,
            cap: 25,
        });
        assert_eq!(
            op.credit(),
            XenDomctlSchedCredit {
                weight: 512,
                cap: 25
            }
        );
        assert_eq!(op.u, [0xAAAA_AAAA_0019_0200, 7]);
        let mut u = [0u8; UNION_SIZE];
        op.write(&mut u);
        assert_eq!(u[0..4], 5u32.to_le_bytes());
        assert_eq!(u[4..8], 0u32.to_le_bytes());
        // credit.weight at byte 8, credit.cap at byte 10 of the payload.
        assert_eq!(u[8..10], 512u16.to_le_bytes());
        assert_eq!(u[10..12], 25u16.to_le_bytes());
        assert_eq!(XenDomctlSchedulerOp::read(&u), op);
    }

    #[test]
    fn any_bytes_read_as_some_payload() {
        let u: [u8; UNION_SIZE] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let info = XenDomctlGetdomaininfo::read(&u);
        let mut back = [0u8; UNION_SIZE];
        info.write(&mut back);
        assert_eq!(back[..112], u[..112]);
        let c = XenDomctlCreatedomain::read(&u);
        let mut back = [0u8; UNION_SIZE];
        c.write(&mut back);
        assert_eq!(back[..64], u[..64]);
    }
}
