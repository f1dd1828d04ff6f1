//! `shared_info` and `vcpu_info`: the page Xen and a guest share for events and time.

use core::mem::{offset_of, size_of};

/// Number of `VcpuInfo` slots in `SharedInfo`.
pub const XEN_LEGACY_MAX_VCPUS: usize = 32;

/// Per-vCPU time parameters (`struct vcpu_time_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuTimeInfo {
    /// Odd while an update is in progress (seqlock).
    pub version: u32,
    /// Padding.
    pub pad0: u32,
    /// TSC at the last update.
    pub tsc_timestamp: u64,
    /// System time (ns since boot) at the last update.
    pub system_time: u64,
    /// TSC-to-ns multiplier (32.32 fixed point).
    pub tsc_to_system_mul: u32,
    /// TSC shift applied before multiplying.
    pub tsc_shift: i8,
    /// `XEN_PVCLOCK_*` flags.
    pub flags: u8,
    /// Padding.
    pub pad1: [u8; 2],
}
const _: () = assert!(size_of::<VcpuTimeInfo>() == 32);
const _: () = assert!(offset_of!(VcpuTimeInfo, version) == 0);
const _: () = assert!(offset_of!(VcpuTimeInfo, pad0) == 4);
const _: () = assert!(offset_of!(VcpuTimeInfo, tsc_timestamp) == 8);
const _: () = assert!(offset_of!(VcpuTimeInfo, system_time) == 16);
const _: () = assert!(offset_of!(VcpuTimeInfo, tsc_to_system_mul) == 24);
const _: () = assert!(offset_of!(VcpuTimeInfo, tsc_shift) == 28);
const _: () = assert!(offset_of!(VcpuTimeInfo, flags) == 29);
const _: () = assert!(offset_of!(VcpuTimeInfo, pad1) == 30);

/// `VcpuTimeInfo::flags`: the TSC is stable across CPUs.
pub const XEN_PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;

/// x86 part of `vcpu_info` (`struct arch_vcpu_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchVcpuInfo {
    /// Faulting address of the last page fault delivered.
    pub cr2: u64,
    /// Padding.
    pub pad: u64,
}
const _: () = assert!(size_of::<ArchVcpuInfo>() == 16);
const _: () = assert!(offset_of!(ArchVcpuInfo, cr2) == 0);
const _: () = assert!(offset_of!(ArchVcpuInfo, pad) == 8);

/// Per-vCPU event and time state (`struct vcpu_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuInfo {
    /// Non-zero: an event upcall is pending.
    pub evtchn_upcall_pending: u8,
    /// Non-zero: upcalls are masked (the guest's "interrupts off").
    pub evtchn_upcall_mask: u8,
    /// Padding.
    pub pad: [u8; 6],
    /// Which words of `evtchn_pending` may hold pending ports.
    pub evtchn_pending_sel: u64,
    /// x86 state.
    pub arch: ArchVcpuInfo,
    /// Time parameters.
    pub time: VcpuTimeInfo,
}
const _: () = assert!(size_of::<VcpuInfo>() == 64);
const _: () = assert!(offset_of!(VcpuInfo, evtchn_upcall_pending) == 0);
const _: () = assert!(offset_of!(VcpuInfo, evtchn_upcall_mask) == 1);
const _: () = assert!(offset_of!(VcpuInfo, pad) == 2);
const _: () = assert!(offset_of!(VcpuInfo, evtchn_pending_sel) == 8);
const _: () = assert!(offset_of!(VcpuInfo, arch) == 16);
const _: () = assert!(offset_of!(VcpuInfo, arch.cr2) == 16);
const _: () = assert!(offset_of!(VcpuInfo, arch.pad) == 24);
const _: () = assert!(offset_of!(VcpuInfo, time) == 32);

/// x86_64 part of `shared_info` (`struct arch_shared_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchSharedInfo {
    /// Highest PFN of the guest (for the toolstack).
    pub max_pfn: u64,
    /// Frame of the P2M frame-list list (for the toolstack).
    pub pfn_to_mfn_frame_list_list: u64,
    /// NMI reason bits.
    pub nmi_reason: u64,
    /// CR3 of the virtually mapped P2M (for the toolstack).
    pub p2m_cr3: u64,
    /// Virtual address of the P2M (for the toolstack).
    pub p2m_vaddr: u64,
    /// Generation count of the P2M (for the toolstack).
    pub p2m_generation: u64,
}
const _: () = assert!(size_of::<ArchSharedInfo>() == 48);
const _: () = assert!(offset_of!(ArchSharedInfo, max_pfn) == 0);
const _: () = assert!(offset_of!(ArchSharedInfo, pfn_to_mfn_frame_list_list) == 8);
const _: () = assert!(offset_of!(ArchSharedInfo, nmi_reason) == 16);
const _: () = assert!(offset_of!(ArchSharedInfo, p2m_cr3) == 24);
const _: () = assert!(offset_of!(ArchSharedInfo, p2m_vaddr) == 32);
const _: () = assert!(offset_of!(ArchSharedInfo, p2m_generation) == 40);

/// The shared_info page (`struct shared_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedInfo {
    /// Per-vCPU state of the first 32 vCPUs.
    pub vcpu_info: [VcpuInfo; XEN_LEGACY_MAX_VCPUS],
    /// 2-level event channel pending bits (4096 ports).
    pub evtchn_pending: [u64; 64],
    /// 2-level event channel mask bits.
    pub evtchn_mask: [u64; 64],
    /// Wallclock version (seqlock).
    pub wc_version: u32,
    /// Wallclock seconds since the epoch, low 32 bits.
    pub wc_sec: u32,
    /// Wallclock nanoseconds.
    pub wc_nsec: u32,
    /// Wallclock seconds, high 32 bits.
    pub wc_sec_hi: u32,
    /// x86_64 state.
    pub arch: ArchSharedInfo,
}
const _: () = assert!(size_of::<SharedInfo>() == 3136);
const _: () = assert!(offset_of!(SharedInfo, vcpu_info) == 0);
const _: () = assert!(offset_of!(SharedInfo, evtchn_pending) == 2048);
const _: () = assert!(offset_of!(SharedInfo, evtchn_mask) == 2560);
const _: () = assert!(offset_of!(SharedInfo, wc_version) == 3072);
const _: () = assert!(offset_of!(SharedInfo, wc_sec) == 3076);
const _: () = assert!(offset_of!(SharedInfo, wc_nsec) == 3080);
const _: () = assert!(offset_of!(SharedInfo, wc_sec_hi) == 3084);
const _: () = assert!(offset_of!(SharedInfo, arch) == 3088);
const _: () = assert!(offset_of!(SharedInfo, arch.max_pfn) == 3088);
const _: () = assert!(offset_of!(SharedInfo, arch.pfn_to_mfn_frame_list_list) == 3096);
const _: () = assert!(offset_of!(SharedInfo, arch.nmi_reason) == 3104);
const _: () = assert!(offset_of!(SharedInfo, arch.p2m_cr3) == 3112);
const _: () = assert!(offset_of!(SharedInfo, arch.p2m_vaddr) == 3120);
const _: () = assert!(offset_of!(SharedInfo, arch.p2m_generation) == 3128);

impl Default for SharedInfo {
    fn default() -> Self {
        SharedInfo {
            vcpu_info: [VcpuInfo::default(); XEN_LEGACY_MAX_VCPUS],
            evtchn_pending: [0; 64],
            evtchn_mask: [0; 64],
            wc_version: 0,
            wc_sec: 0,
            wc_nsec: 0,
            wc_sec_hi: 0,
            arch: ArchSharedInfo::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcpu_time_info_layout() {
        assert_eq!(size_of::<VcpuTimeInfo>(), 32);
        assert_eq!(offset_of!(VcpuTimeInfo, version), 0);
        assert_eq!(offset_of!(VcpuTimeInfo, tsc_timestamp), 8);
        assert_eq!(offset_of!(VcpuTimeInfo, system_time), 16);
        assert_eq!(offset_of!(VcpuTimeInfo, tsc_to_system_mul), 24);
        assert_eq!(offset_of!(VcpuTimeInfo, tsc_shift), 28);
        assert_eq!(offset_of!(VcpuTimeInfo, flags), 29);
        assert_eq!(XEN_PVCLOCK_TSC_STABLE_BIT, 1);
    }

    #[test]
    fn vcpu_info_layout() {
        assert_eq!(size_of::<ArchVcpuInfo>(), 16);
        assert_eq!(size_of::<VcpuInfo>(), 64);
        assert_eq!(offset_of!(VcpuInfo, evtchn_upcall_pending), 0);
        assert_eq!(offset_of!(VcpuInfo, evtchn_upcall_mask), 1);
        assert_eq!(offset_of!(VcpuInfo, evtchn_pending_sel), 8);
        assert_eq!(offset_of!(VcpuInfo, arch.cr2), 16);
        assert_eq!(offset_of!(VcpuInfo, arch.pad), 24);
        assert_eq!(offset_of!(VcpuInfo, time), 32);
    }

    #[test]
    fn shared_info_layout() {
        assert_eq!(XEN_LEGACY_MAX_VCPUS, 32);
        assert_eq!(size_of::<ArchSharedInfo>(), 48);
        assert_eq!(size_of::<SharedInfo>(), 3136);
        assert_eq!(offset_of!(SharedInfo, vcpu_info), 0);
        assert_eq!(offset_of!(SharedInfo, evtchn_pending), 2048);
        assert_eq!(offset_of!(SharedInfo, evtchn_mask), 2560);
        assert_eq!(offset_of!(SharedInfo, wc_version), 3072);
        assert_eq!(offset_of!(SharedInfo, wc_sec), 3076);
        assert_eq!(offset_of!(SharedInfo, wc_nsec), 3080);
        assert_eq!(offset_of!(SharedInfo, wc_sec_hi), 3084);
        assert_eq!(offset_of!(SharedInfo, arch.max_pfn), 3088);
        assert_eq!(
            offset_of!(SharedInfo, arch.pfn_to_mfn_frame_list_list),
            3096
        );
        assert_eq!(offset_of!(SharedInfo, arch.nmi_reason), 3104);
        assert_eq!(offset_of!(SharedInfo, arch.p2m_cr3), 3112);
        assert_eq!(offset_of!(SharedInfo, arch.p2m_vaddr), 3120);
        assert_eq!(offset_of!(SharedInfo, arch.p2m_generation), 3128);
        assert!(size_of::<SharedInfo>() <= 4096);
    }

    #[test]
    fn default_is_zeroed() {
        let s = SharedInfo::default();
        assert!(s.vcpu_info.iter().all(|v| *v == VcpuInfo::default()));
        assert!(
            s.evtchn_pending
                .iter()
                .chain(&s.evtchn_mask)
                .all(|&w| w == 0)
        );
    }
}
