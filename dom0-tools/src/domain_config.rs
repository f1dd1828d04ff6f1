//! The createdomain configuration and memory limit of a PV DomU, in Xen 4.17's layout.

use hypercall_abi::domctl::{XenArchDomainconfig, XenDomainHandle, XenDomctlCreatedomain};

/// Highest event channel port a DomU may use (libxl's default `event_channels` is 1023).
pub const DOMU_MAX_EVTCHN_PORT: u32 = 1023;
/// Grant table version the DomU may use: v1 only (the low bits of `grant_opts`).
pub const DOMU_GRANT_VERSION: u32 = 1;
/// "Use the hypervisor's default" for the grant and maptrack frame limits.
pub const HYPERVISOR_DEFAULT_FRAMES: i32 = -1;

/// The createdomain payload for a PV DomU with one vCPU: no CDF flags (PV, no HAP, no IOMMU),
/// no emulated devices, default grant limits, grant v1, the default CPU pool.
pub fn pv_domu_config(handle: XenDomainHandle) -> XenDomctlCreatedomain {
    XenDomctlCreatedomain {
        ssidref: 0,
        handle,
        flags: 0,
        iommu_opts: 0,
        max_vcpus: 1,
        max_evtchn_port: DOMU_MAX_EVTCHN_PORT,
        max_grant_frames: HYPERVISOR_DEFAULT_FRAMES,
        max_maptrack_frames: HYPERVISOR_DEFAULT_FRAMES,
        grant_opts: DOMU_GRANT_VERSION,
        vmtrace_size: 0,
        cpupool_id: 0,
        arch: XenArchDomainconfig {
            emulation_flags: 0,
            misc_flags: 0,
        },
    }
}

/// A domain handle (a UUID in xl) made from a serial number: version-4-shaped bytes, so that
/// every domain this Dom0 builds gets a distinct one.
pub fn handle_for(serial: u32) -> XenDomainHandle {
    let mut handle = *b"pv-domu\0\0\0\0\0\0\0\0\0";
    handle[8..12].copy_from_slice(&serial.to_be_bytes());
    handle[6] = 0x40 | (handle[6] & 0x0F);
    handle[8] = 0x80 | (handle[8] & 0x3F);
    handle[12..16].copy_from_slice(&serial.to_le_bytes());
    handle
}

/// XEN_DOMCTL_max_mem's argument for a domain of `nr_pages` pages: exactly its memory, in KiB.
pub fn max_memkb(nr_pages: u64) -> u64 {
    nr_pages.saturating_mul(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypercall_abi::domctl::{DomctlCmd, XenDomctl};

    #[test]
    fn a_pv_domu_asks_for_nothing_but_one_vcpu() {
        let c = pv_domu_config(handle_for(7));
        assert_eq!(c.flags, 0);
        assert_eq!(c.max_vcpus, 1);
        assert_eq!(c.max_evtchn_port, 1023);
        assert_eq!((c.max_grant_frames, c.max_maptrack_frames), (-1, -1));
        assert_eq!(c.grant_opts, 1);
        assert_eq!(c.arch, XenArchDomainconfig::default());
        // As it travels in the domctl union.
        let mut op = XenDomctl::new(DomctlCmd::Createdomain, 0);
        op.set_payload(&c);
        assert_eq!(op.u[28..32], 1u32.to_le_bytes());
        assert_eq!(op.u[32..36], 1023u32.to_le_bytes());
        assert_eq!(op.u[44..48], 1u32.to_le_bytes());
    }

    #[test]
    fn handles_differ_by_serial() {
        assert_ne!(handle_for(1), handle_for(2));
        assert_ne!(handle_for(1), handle_for(1 << 24));
        assert_eq!(handle_for(3)[6] >> 4, 4);
        assert_eq!(max_memkb(2048), 8192);
    }
}
