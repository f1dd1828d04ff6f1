//! The time conformance guest's access: vcpu_time_info and wall-clock reads, timer and sched hypercalls.

use core::arch::asm;
use core::mem::offset_of;
use core::ptr;
use core::sync::atomic::{Ordering, compiler_fence};

use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::sched::{SchedOp, SchedPoll};
use hypercall_abi::shared_info::{SharedInfo, VcpuInfo, VcpuTimeInfo};
use hypercall_abi::vcpu::{VcpuOp, VcpuRunstateInfo, VcpuSetSingleshotTimer};

use super::super::memory::{self, SparePage};
use super::hypercalls::hc;

/// Attempts at a consistent read before giving up (the hypervisor updates in a few stores).
const READ_ATTEMPTS: u32 = 10_000;

/// vcpu_info[0].time in shared_info.
const VCPU0_TIME: usize = offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, time);

/// Reads the `T` at byte `offset` of shared_info; `None` if it is not mapped.
fn shared<T: Copy>(offset: usize) -> Option<T> {
    if !memory::shared_info_mapped() || offset + size_of::<T>() > 4096 {
        return None;
    }
    let p = (SparePage::SharedInfo.va() as *const u8).wrapping_add(offset) as *const T;
    // SAFETY: shared_info is mapped at the spare page (checked), the field lies inside it and
    // every use here names a naturally aligned integer field; no Rust reference to the page
    // exists and the hypervisor writes it concurrently, hence volatile.
    Some(unsafe { ptr::read_volatile(p) })
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only writes edx:eax (the hypervisors leave CR4.TSD clear for PV kernels).
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// One consistent copy of vcpu_info[0].time, read with the version protocol, and a TSC value
/// read inside the same read section (so the record applies to it). `None` if shared_info is
/// not mapped or no consistent read came in [`READ_ATTEMPTS`] tries.
pub fn read_time() -> Option<(VcpuTimeInfo, u64)> {
    for _ in 0..READ_ATTEMPTS {
        let v1: u32 = shared(VCPU0_TIME + offset_of!(VcpuTimeInfo, version))?;
        if v1 & 1 != 0 {
            continue;
        }
        compiler_fence(Ordering::Acquire);
        let rec = VcpuTimeInfo {
            version: v1,
            pad0: 0,
            tsc_timestamp: shared(VCPU0_TIME + offset_of!(VcpuTimeInfo, tsc_timestamp))?,
            system_time: shared(VCPU0_TIME + offset_of!(VcpuTimeInfo, system_time))?,
            tsc_to_system_mul: shared(VCPU0_TIME + offset_of!(VcpuTimeInfo, tsc_to_system_mul))?,
            tsc_shift: shared(VCPU0_TIME + offset_of!(VcpuTimeInfo, tsc_shift))?,
            flags: shared(VCPU0_TIME + offset_of!(VcpuTimeInfo, flags))?,
            pad1: [0; 2],
        };
        let tsc = rdtsc();
        compiler_fence(Ordering::Acquire);
        let v2: u32 = shared(VCPU0_TIME + offset_of!(VcpuTimeInfo, version))?;
        if v1 == v2 {
            return Some((rec, tsc));
        }
    }
    None
}

/// The wall-clock fields (wc_version, wc_sec, wc_nsec, wc_sec_hi), read with the version
/// protocol; `None` as for [`read_time`].
pub fn read_wallclock() -> Option<(u32, u32, u32, u32)> {
    for _ in 0..READ_ATTEMPTS {
        let v1: u32 = shared(offset_of!(SharedInfo, wc_version))?;
        if v1 & 1 != 0 {
            continue;
        }
        compiler_fence(Ordering::Acquire);
        let sec: u32 = shared(offset_of!(SharedInfo, wc_sec))?;
        let nsec: u32 = shared(offset_of!(SharedInfo, wc_nsec))?;
        let sec_hi: u32 = shared(offset_of!(SharedInfo, wc_sec_hi))?;
        compiler_fence(Ordering::Acquire);
        let v2: u32 = shared(offset_of!(SharedInfo, wc_version))?;
        if v1 == v2 {
            return Some((v1, sec, nsec, sec_hi));
        }
    }
    None
}

/// set_timer_op(`timeout`): 0 or -errno.
pub fn set_timer_op(timeout: u64) -> i64 {
    // SAFETY: only the vCPU's one-shot timer changes; no memory is passed.
    unsafe { hc(Hypercall::SetTimerOp, timeout, 0, 0, 0, 0) }
}

/// vcpu_op(`op`, `vcpu`, NULL) for the commands that take no argument (is_up, up, the stops).
pub fn vcpu_op_plain(op: VcpuOp, vcpu: u32) -> i64 {
    match op {
        VcpuOp::IsUp | VcpuOp::StopPeriodicTimer | VcpuOp::StopSingleshotTimer => {}
        _ => return hypercall_abi::Errno::Inval.to_ret(),
    }
    // SAFETY: these commands read and write no guest memory; they only query the vCPU or
    // stop one of its timers.
    unsafe { hc(Hypercall::VcpuOp, op as u64, u64::from(vcpu), 0, 0, 0) }
}

/// VCPUOP_set_singleshot_timer on `vcpu`.
pub fn set_singleshot(vcpu: u32, timeout_abs_ns: u64, flags: u32) -> i64 {
    let set = VcpuSetSingleshotTimer {
        timeout_abs_ns,
        flags,
        pad: 0,
    };
    // SAFETY: the hypervisor reads the live request; only the vCPU's one-shot timer changes.
    unsafe {
        hc(
            Hypercall::VcpuOp,
            VcpuOp::SetSingleshotTimer as u64,
            u64::from(vcpu),
            &set as *const VcpuSetSingleshotTimer as u64,
            0,
            0,
        )
    }
}

/// VCPUOP_get_runstate_info on `vcpu`: the result and the record.
pub fn get_runstate(vcpu: u32) -> (i64, VcpuRunstateInfo) {
    let mut info = VcpuRunstateInfo::default();
    // SAFETY: the hypervisor writes one VcpuRunstateInfo into the live struct.
    let ret = unsafe {
        hc(
            Hypercall::VcpuOp,
            VcpuOp::GetRunstateInfo as u64,
            u64::from(vcpu),
            &mut info as *mut VcpuRunstateInfo as u64,
            0,
            0,
        )
    };
    (ret, info)
}

/// SCHEDOP_block. Events are enabled by it: the upcall (if any is registered) runs before
/// this returns.
pub fn block() -> i64 {
    // SAFETY: no memory is passed; the vCPU waits for an event, whose upcall runs the
    // registered callback, which saves and restores every register it uses.
    unsafe { hc(Hypercall::SchedOp, SchedOp::Block as u64, 0, 0, 0, 0) }
}

/// SCHEDOP_poll on `nr_ports` ports at guest address `ports` (which the hypervisor only
/// reads, and only after its own checks) until `timeout` (0: none).
pub fn poll_raw(ports: u64, nr_ports: u32, timeout: u64) -> i64 {
    let request = SchedPoll {
        ports,
        nr_ports,
        pad: 0,
        timeout,
    };
    // SAFETY: the hypervisor reads the live request and at most `nr_ports` u32 at `ports`;
    // a bad address is refused or faults in the hypervisor's copy (-EFAULT), and nothing is
    // written.
    unsafe {
        hc(
            Hypercall::SchedOp,
            SchedOp::Poll as u64,
            &request as *const SchedPoll as u64,
            0,
            0,
            0,
        )
    }
}

/// SCHEDOP_poll on the ports of `ports` (all of them) until `timeout` (0: none).
pub fn poll(ports: &[u32], timeout: u64) -> i64 {
    let nr = u32::try_from(ports.len()).unwrap_or(u32::MAX);
    poll_raw(ports.as_ptr() as u64, nr, timeout)
}
