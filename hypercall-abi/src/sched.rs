//! sched_op: sub-operations, shutdown reasons and their argument structs.

use crate::errno::Errno;
use core::mem::{offset_of, size_of};

/// sched_op sub-operation (`SCHEDOP_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedOp {
    /// Give up the CPU voluntarily.
    Yield = 0,
    /// Block until an event arrives.
    Block = 1,
    /// Shut the domain down (`SchedShutdown` argument).
    Shutdown = 2,
    /// Block until one of some ports is pending or a timeout (`SchedPoll`).
    Poll = 3,
    /// Shut another domain down.
    RemoteShutdown = 4,
    /// Set the shutdown code without shutting down.
    ShutdownCode = 5,
    /// Set up, refresh or tear down a watchdog.
    Watchdog = 6,
    /// Temporarily pin the vCPU to a physical CPU.
    #[allow(non_camel_case_types)] // the name is fixed by the shared ABI spec other crates use
    Pin_override = 7,
}

impl TryFrom<u64> for SchedOp {
    type Error = Errno;

    /// Xen takes `cmd` as a C `int`: the upper 32 bits are ignored; unknown is -ENOSYS.
    fn try_from(cmd: u64) -> Result<Self, Errno> {
        match cmd as u32 {
            0 => Ok(SchedOp::Yield),
            1 => Ok(SchedOp::Block),
            2 => Ok(SchedOp::Shutdown),
            3 => Ok(SchedOp::Poll),
            4 => Ok(SchedOp::RemoteShutdown),
            5 => Ok(SchedOp::ShutdownCode),
            6 => Ok(SchedOp::Watchdog),
            7 => Ok(SchedOp::Pin_override),
            _ => Err(Errno::NoSys),
        }
    }
}

/// Why a domain shut down (`SHUTDOWN_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShutdownReason {
    /// Power off.
    Poweroff = 0,
    /// Reboot.
    Reboot = 1,
    /// Suspend (save) the domain.
    Suspend = 2,
    /// The domain crashed.
    Crash = 3,
    /// The watchdog expired.
    Watchdog = 4,
    /// Soft reset.
    SoftReset = 5,
}

impl TryFrom<u32> for ShutdownReason {
    type Error = Errno;

    fn try_from(reason: u32) -> Result<Self, Errno> {
        match reason {
            0 => Ok(ShutdownReason::Poweroff),
            1 => Ok(ShutdownReason::Reboot),
            2 => Ok(ShutdownReason::Suspend),
            3 => Ok(ShutdownReason::Crash),
            4 => Ok(ShutdownReason::Watchdog),
            5 => Ok(ShutdownReason::SoftReset),
            _ => Err(Errno::Inval),
        }
    }
}

/// Argument of `SCHEDOP_shutdown` and `SCHEDOP_shutdown_code`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedShutdown {
    /// `SHUTDOWN_*`.
    pub reason: u32,
}
const _: () = assert!(size_of::<SchedShutdown>() == 4);
const _: () = assert!(offset_of!(SchedShutdown, reason) == 0);

/// Argument of `SCHEDOP_poll`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedPoll {
    /// Guest pointer to an array of `nr_ports` u32 event channel ports.
    pub ports: u64,
    /// Number of ports.
    pub nr_ports: u32,
    /// Padding (C alignment).
    pub pad: u32,
    /// Absolute system time (ns) to give up at; 0 means none.
    pub timeout: u64,
}
const _: () = assert!(size_of::<SchedPoll>() == 24);
const _: () = assert!(offset_of!(SchedPoll, ports) == 0);
const _: () = assert!(offset_of!(SchedPoll, nr_ports) == 8);
const _: () = assert!(offset_of!(SchedPoll, pad) == 12);
const _: () = assert!(offset_of!(SchedPoll, timeout) == 16);

/// Argument of `SCHEDOP_remote_shutdown`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedRemoteShutdown {
    /// The domain to shut down.
    pub domain_id: u16,
    /// Padding (C alignment).
    pub pad: u16,
    /// `SHUTDOWN_*`.
    pub reason: u32,
}
const _: () = assert!(size_of::<SchedRemoteShutdown>() == 8);
const _: () = assert!(offset_of!(SchedRemoteShutdown, domain_id) == 0);
const _: () = assert!(offset_of!(SchedRemoteShutdown, pad) == 2);
const _: () = assert!(offset_of!(SchedRemoteShutdown, reason) == 4);

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: [(SchedOp, u64); 8] = [
        (SchedOp::Yield, 0),
        (SchedOp::Block, 1),
        (SchedOp::Shutdown, 2),
        (SchedOp::Poll, 3),
        (SchedOp::RemoteShutdown, 4),
        (SchedOp::ShutdownCode, 5),
        (SchedOp::Watchdog, 6),
        (SchedOp::Pin_override, 7),
    ];

    const REASONS: [(ShutdownReason, u32); 6] = [
        (ShutdownReason::Poweroff, 0),
        (ShutdownReason::Reboot, 1),
        (ShutdownReason::Suspend, 2),
        (ShutdownReason::Crash, 3),
        (ShutdownReason::Watchdog, 4),
        (ShutdownReason::SoftReset, 5),
    ];

    #[test]
    fn ops_match_sched_h_and_decode() {
        for (op, v) in OPS {
            assert_eq!(op as u64, v);
            assert_eq!(SchedOp::try_from(v), Ok(op));
        }
        for v in [8, 9, 100, u64::from(u32::MAX)] {
            assert_eq!(SchedOp::try_from(v), Err(Errno::NoSys), "{v}");
        }
        assert_eq!(SchedOp::try_from(0x1_0000_0003), Ok(SchedOp::Poll));
    }

    #[test]
    fn reasons_match_sched_h_and_decode() {
        for (r, v) in REASONS {
            assert_eq!(r as u32, v);
            assert_eq!(ShutdownReason::try_from(v), Ok(r));
        }
        for v in [6, 7, 255, u32::MAX] {
            assert_eq!(ShutdownReason::try_from(v), Err(Errno::Inval), "{v}");
        }
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(size_of::<SchedShutdown>(), 4);
        assert_eq!(offset_of!(SchedShutdown, reason), 0);
        assert_eq!(size_of::<SchedPoll>(), 24);
        assert_eq!(offset_of!(SchedPoll, ports), 0);
        assert_eq!(offset_of!(SchedPoll, nr_ports), 8);
        assert_eq!(offset_of!(SchedPoll, timeout), 16);
        assert_eq!(size_of::<SchedRemoteShutdown>(), 8);
        assert_eq!(offset_of!(SchedRemoteShutdown, domain_id), 0);
        assert_eq!(offset_of!(SchedRemoteShutdown, reason), 4);
    }
}
