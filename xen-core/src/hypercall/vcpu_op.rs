//! vcpu_op: the state, runstate and timers of the caller's own vCPU (xen-core's domains have one).

use hypercall_abi::Errno;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::vcpu::{
    VcpuGuestContext, VcpuOp, VcpuRegisterRunstateMemoryArea, VcpuRunstateInfo,
    VcpuSetPeriodicTimer, VcpuSetSingleshotTimer,
};

use super::dispatch::Call;
use crate::arch::x86_64::tsc;
use crate::arch::x86_64::uaccess::{copy_from_guest, read_guest, write_guest};
use crate::domain::Shutdown;
use crate::hypervisor::with_state;
use crate::time_glue;

/// Checks that a whole `vcpu_guest_context` can be read at `arg`, as Xen's copy of it does
/// before anything else (the bytes themselves are not needed: the one vCPU is initialised).
fn context_readable(arg: u64) -> Result<(), Errno> {
    const CHUNK: usize = 256;
    let len = core::mem::size_of::<VcpuGuestContext>();
    let mut buf = [0u8; CHUNK];
    let mut off = 0;
    while off < len {
        let n = CHUNK.min(len - off);
        copy_from_guest(&mut buf[..n], arg.wrapping_add(off as u64))?;
        off += n;
    }
    Ok(())
}

/// Handles vcpu_op(cmd, vcpuid, arg) as Xen 4.17 does for a PV domain with one vCPU: any vCPU
/// but 0 is -ENOENT (before the command is looked at). Not provided: register_vcpu_info,
/// send_nmi, get_physid and register_vcpu_time_memory_area (-ENOSYS).
pub fn vcpu_op(call: &mut Call<'_>, cmd: u64, vcpuid: u64, arg: u64) -> Result<u64, Errno> {
    // vcpuid is a C unsigned int: the upper half of the register is not looked at.
    if vcpuid as u32 != 0 {
        return Err(Errno::NoEnt);
    }
    match VcpuOp::try_from(cmd)? {
        VcpuOp::Initialise => {
            context_readable(arg)?;
            // vCPU 0 is initialised when the domain is built.
            Err(Errno::Exist)
        }
        // Already up: nothing to wake.
        VcpuOp::Up => Ok(0),
        VcpuOp::Down => {
            // The last vCPU going down shuts the domain down (poweroff), as in Xen.
            call.exit = with_state(|st| {
                st.dom.shut_down(
                    Shutdown::PowerOff,
                    format_args!("VCPUOP_down of its last vCPU"),
                )
            });
            Ok(0)
        }
        VcpuOp::IsUp => Ok(1),
        VcpuOp::GetRunstateInfo => {
            let info: VcpuRunstateInfo = with_state(|st| st.dom.time.runstate.at(tsc::now_ns()));
            write_guest(arg, &info)?;
            Ok(0)
        }
        VcpuOp::RegisterRunstateMemoryArea => {
            let area: VcpuRegisterRunstateMemoryArea = read_guest(arg)?;
            let size = core::mem::size_of::<VcpuRunstateInfo>() as u64;
            if !guest_range_ok(area.addr, size) {
                return Err(Errno::Fault);
            }
            with_state(|st| {
                // A NULL address stops the updates; otherwise the copy starts now (a copy that
                // faults is not an error, as in Xen).
                st.dom.time.runstate_area = (area.addr != 0).then_some(area.addr);
                if area.addr != 0 {
                    let _ = write_guest(area.addr, &st.dom.time.runstate.record());
                }
            });
            Ok(0)
        }
        VcpuOp::SetPeriodicTimer => {
            let set: VcpuSetPeriodicTimer = read_guest(arg)?;
            with_state(|st| {
                st.dom.time.timers.set_periodic(set.period_ns)?;
                time_glue::periodic_changed(st.dom);
                Ok(0)
            })
        }
        VcpuOp::StopPeriodicTimer => {
            with_state(|st| {
                st.dom.time.timers.stop_periodic();
                time_glue::periodic_changed(st.dom);
            });
            Ok(0)
        }
        VcpuOp::SetSingleshotTimer => {
            let set: VcpuSetSingleshotTimer = read_guest(arg)?;
            // VCPU_SSHOTTMR_future is ignored, as by Xen 4.17.7: a past deadline fires at once.
            with_state(|st| {
                st.dom
                    .time
                    .timers
                    .set_singleshot(set.timeout_abs_ns, set.flags);
                time_glue::arm(st.dom, true);
            });
            Ok(0)
        }
        VcpuOp::StopSingleshotTimer => {
            with_state(|st| {
                st.dom.time.timers.stop_singleshot();
                time_glue::arm(st.dom, true);
            });
            Ok(0)
        }
        VcpuOp::RegisterVcpuInfo
        | VcpuOp::SendNmi
        | VcpuOp::GetPhysid
        | VcpuOp::RegisterVcpuTimeMemoryArea => Err(Errno::NoSys),
    }
}
