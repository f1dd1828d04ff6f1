//! `vcpu_time_info`: what a vCPU is told to compute system time from its TSC.

use core::sync::atomic::{Ordering, compiler_fence};

use hypercall_abi::shared_info::VcpuTimeInfo;

use super::seqlock::SeqArea;
use super::tsc_scale::TscScale;

/// The fields of `vcpu_time_info` other than the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuTimeBody {
    /// TSC at the update.
    pub tsc_timestamp: u64,
    /// System time (ns since boot) at the update.
    pub system_time: u64,
    /// TSC-to-ns scale.
    pub scale: TscScale,
    /// `XEN_PVCLOCK_*` flags.
    pub flags: u8,
}

impl VcpuTimeBody {
    /// System time at TSC value `tsc`, computed as a guest does:
    /// `system_time + scale(tsc - tsc_timestamp)`.
    pub fn guest_time_at(&self, tsc: u64) -> u64 {
        self.system_time
            .wrapping_add(self.scale.ticks_to_ns(tsc.wrapping_sub(self.tsc_timestamp)))
    }

    /// The ABI record with `version`.
    pub fn to_abi(&self, version: u32) -> VcpuTimeInfo {
        VcpuTimeInfo {
            version,
            pad0: 0,
            tsc_timestamp: self.tsc_timestamp,
            system_time: self.system_time,
            tsc_to_system_mul: self.scale.mul_frac,
            tsc_shift: self.scale.shift,
            flags: self.flags,
            pad1: [0; 2],
        }
    }
}

/// A record in memory that no one reads while it is written (a hypervisor-private copy, or
/// a test). Pages shared with a running guest need an implementation with volatile stores.
impl SeqArea for VcpuTimeInfo {
    type Body = VcpuTimeBody;

    fn store_version(&mut self, version: u32) {
        self.version = version;
    }

    fn store_body(&mut self, body: &VcpuTimeBody) {
        *self = body.to_abi(self.version);
    }

    fn store_fence(&mut self) {
        compiler_fence(Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::seqlock::SeqWriter;

    #[test]
    fn publish_into_the_abi_record() {
        let scale = TscScale::from_hz(2_500_000_000).unwrap();
        let body = VcpuTimeBody {
            tsc_timestamp: 0x1234_5678_9abc,
            system_time: 42_000,
            scale,
            flags: 1,
        };
        let mut rec = VcpuTimeInfo {
            version: 0xdead_beef, // whatever the guest left there
            ..VcpuTimeInfo::default()
        };
        let mut w = SeqWriter::new();
        w.publish(&mut rec, &body);
        assert_eq!(rec, body.to_abi(2));
        assert_eq!(rec.tsc_to_system_mul, 3_435_973_836);
        assert_eq!(rec.tsc_shift, -1);
        w.publish(&mut rec, &body);
        assert_eq!(rec.version, 4);
    }

    #[test]
    fn guest_time_extrapolates_from_the_stamp() {
        let body = VcpuTimeBody {
            tsc_timestamp: 1_000,
            system_time: 5_000_000,
            scale: TscScale::from_hz(1_000_000_000).unwrap(),
            flags: 0,
        };
        assert_eq!(body.guest_time_at(1_000), 5_000_000);
        assert_eq!(body.guest_time_at(3_500), 5_002_500);
    }
}
