//! conform=time: system time and wall clock, one-shot timers with VIRQ_TIMER, SCHEDOP_block and SCHEDOP_poll.
//!
//! Timing checks only say "at or after the deadline" and "within [`GENEROUS_NS`] of it":
//! under QEMU's TCG the guest's time runs with the host's, whatever else the host does.

use hypercall_abi::Errno;
use hypercall_abi::event_channel::VIRQ_TIMER;
use hypercall_abi::layout::HYPERVISOR_VIRT_START;
use hypercall_abi::mmu::{PteFlags, UVMF_INVLPG, UVMF_LOCAL};
use hypercall_abi::shared_info::VcpuTimeInfo;
use hypercall_abi::start_info::StartInfo;
use hypercall_abi::vcpu::{RUNSTATE_BLOCKED, RUNSTATE_RUNNING, VCPU_SSHOTTMR_FUTURE, VcpuOp};

use crate::arch::x86_64::conform::{shared, time, upcall};
use crate::arch::x86_64::xen;
use crate::conform_mm::guest;
use crate::selftest::context::Context;
use crate::selftest::report::{Outcome, Report, Ret, expect_errno, expect_ret, fail};

/// P|RW|A|D for shared_info.
const SHARED_INFO_PTE: u64 = PteFlags::PRESENT
    .union(PteFlags::RW)
    .union(PteFlags::ACCESSED)
    .union(PteFlags::DIRTY)
    .bits();
/// One millisecond in ns.
const MS: u64 = 1_000_000;
/// How late a wake-up may be before a check calls it lost.
const GENEROUS_NS: u64 = 5_000 * MS;
/// 2020-01-01T00:00:00Z and 2100-01-01T00:00:00Z as Unix times: a plausible wall clock.
const YEAR_2020: u64 = 1_577_836_800;
const YEAR_2100: u64 = 4_102_444_800;
/// Reads of system time in the monotonicity check.
const MONOTONIC_READS: u32 = 2_000;
/// A vCPU the domain does not have (both hypervisors give Dom0 one vCPU here).
const ABSENT_VCPU: u32 = 1;

/// Runs the checks and powers off.
pub fn run(start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    guest::run("conform=time", start_info, p2m, checks)
}

/// What the checks share beyond the context: the VIRQ_TIMER port.
struct Timer {
    port: Option<u32>,
}

fn checks(ctx: &mut Context, report: &mut Report) {
    let mut timer = Timer { port: None };
    report.check("time.setup", setup(ctx, &mut timer));
    report.check("time.vcpu_time_version", vcpu_time_version());
    report.check("time.system_time_monotonic", system_time_monotonic());
    report.check("time.tsc_scale_plausible", tsc_scale_plausible());
    report.check("time.wallclock", wallclock());
    report.check("time.vcpu_op_absent_vcpu", vcpu_op_absent_vcpu());
    report.check("time.singleshot_past_future_flag", singleshot_past(&timer));
    report.check("time.poll_too_many_ports", poll_too_many_ports(&timer));
    report.check("time.poll_bad_port_array", poll_bad_port_array());
    report.check("time.poll_reserved_port", poll_reserved_port());
    report.check("time.poll_timeout", poll_timeout(&timer));
    report.check("time.set_timer_op_stop", set_timer_op_stop(&timer));
    report.check("time.singleshot_stop", singleshot_stop(&timer));
    report.check("time.singleshot_fires", singleshot_fires(&timer));
    report.check("time.block_wakes_after_deadline", block_wakes(&timer));
    report.check("time.runstate", runstate());
}

/// System time as the guest computes it: the record's time plus the TSC ticks since its stamp,
/// scaled as xen.h says.
fn scaled(rec: &VcpuTimeInfo, tsc: u64) -> u64 {
    let delta = tsc.wrapping_sub(rec.tsc_timestamp);
    let shift = rec.tsc_shift;
    let delta = if shift >= 0 {
        delta << shift
    } else {
        delta >> shift.unsigned_abs()
    };
    let ns = (u128::from(delta) * u128::from(rec.tsc_to_system_mul)) >> 32;
    rec.system_time.wrapping_add(ns as u64)
}

/// The current system time, or a failure.
fn now() -> Result<u64, crate::selftest::report::Detail> {
    match time::read_time() {
        Some((rec, tsc)) => Ok(scaled(&rec, tsc)),
        None => fail!("no consistent read of vcpu_time_info"),
    }
}

fn setup(ctx: &Context, timer: &mut Timer) -> Outcome {
    let ret = xen::map_shared_info(
        ctx.start_info.shared_info,
        SHARED_INFO_PTE,
        UVMF_INVLPG | UVMF_LOCAL,
    );
    expect_ret("update_va_mapping(shared_info)", ret, 0)?;
    // Events stay masked except inside SCHEDOP_block.
    if !shared::set_upcall_mask(1) {
        fail!("shared_info not writable");
    }
    expect_ret("callback_op(register event)", upcall::register(), 0)?;
    // A PV vCPU starts with a 100 Hz periodic VIRQ_TIMER; the checks want only their own.
    expect_ret(
        "vcpu_op(stop_periodic_timer)",
        time::vcpu_op_plain(VcpuOp::StopPeriodicTimer, 0),
        0,
    )?;
    match upcall::bind_virq(VIRQ_TIMER, 0) {
        Ok(port) => {
            timer.port = Some(port);
            upcall::clear_pending(port);
            Ok(())
        }
        Err(ret) => fail!(
            "event_channel_op(bind_virq VIRQ_TIMER) returned {}",
            Ret(ret)
        ),
    }
}

fn timer_port(timer: &Timer) -> Result<u32, crate::selftest::report::Detail> {
    match timer.port {
        Some(port) => Ok(port),
        None => fail!("no VIRQ_TIMER port (setup failed)"),
    }
}

fn vcpu_time_version() -> Outcome {
    let Some((rec, _)) = time::read_time() else {
        fail!("no consistent read of vcpu_time_info");
    };
    if rec.version == 0 || rec.version % 2 != 0 {
        fail!("version is {} (want even, non-zero)", rec.version);
    }
    if rec.tsc_to_system_mul == 0 {
        fail!("tsc_to_system_mul is 0");
    }
    Ok(())
}

fn system_time_monotonic() -> Outcome {
    let first = now()?;
    let mut last = first;
    for i in 0..MONOTONIC_READS {
        let t = now()?;
        if t < last {
            fail!("read {} went back: {} after {}", i, t, last);
        }
        last = t;
    }
    if last <= first {
        fail!(
            "system time stood still at {} over {} reads",
            first,
            MONOTONIC_READS
        );
    }
    if first == 0 {
        fail!("system time is 0");
    }
    Ok(())
}

fn tsc_scale_plausible() -> Outcome {
    let Some((rec, _)) = time::read_time() else {
        fail!("no consistent read of vcpu_time_info");
    };
    // The rate the scale stands for: 10^9 * 2^32 / mul, shifted back.
    let base = (1_000_000_000u128 << 32) / u128::from(rec.tsc_to_system_mul.max(1));
    let hz = if rec.tsc_shift >= 0 {
        base >> rec.tsc_shift
    } else {
        base << rec.tsc_shift.unsigned_abs()
    };
    if !(10_000_000..=100_000_000_000).contains(&hz) {
        fail!(
            "mul {:#x} shift {} stand for {} Hz",
            rec.tsc_to_system_mul,
            rec.tsc_shift,
            hz
        );
    }
    Ok(())
}

fn wallclock() -> Outcome {
    let Some((version, sec, nsec, sec_hi)) = time::read_wallclock() else {
        fail!("no consistent read of the wall clock");
    };
    if version == 0 || version % 2 != 0 {
        fail!("wc_version is {} (want even, non-zero)", version);
    }
    if nsec >= 1_000_000_000 {
        fail!("wc_nsec is {}", nsec);
    }
    let base = u64::from(sec) | (u64::from(sec_hi) << 32);
    let unix = base + (u64::from(nsec) + now()?) / 1_000_000_000;
    if !(YEAR_2020..YEAR_2100).contains(&unix) {
        fail!("the time of day is {} s after 1970 (base {})", unix, base);
    }
    Ok(())
}

fn vcpu_op_absent_vcpu() -> Outcome {
    expect_ret(
        "vcpu_op(is_up, vcpu 0)",
        time::vcpu_op_plain(VcpuOp::IsUp, 0),
        1,
    )?;
    expect_errno(
        "vcpu_op(is_up, vcpu 1)",
        time::vcpu_op_plain(VcpuOp::IsUp, ABSENT_VCPU),
        Errno::NoEnt,
    )
}

/// Polls the timer port until `timeout` and requires that it timed out: woke at or after the
/// timeout, not much later, with the port still clear.
fn expect_quiet_until(what: &str, port: u32, timeout: u64) -> Outcome {
    expect_ret(what, time::poll(&[port], timeout), 0)?;
    let woke = now()?;
    if upcall::port_pending(port) {
        upcall::clear_pending(port);
        fail!("{}: the timer port fired before the poll timeout", what);
    }
    if woke < timeout {
        fail!("{}: woke {} ns before the timeout", what, timeout - woke);
    }
    if woke - timeout > GENEROUS_NS {
        fail!("{}: woke {} ns after the timeout", what, woke - timeout);
    }
    Ok(())
}

/// A one-shot deadline already past, with VCPU_SSHOTTMR_future: Xen 4.17.7 ignores the flag
/// (the ABI allows it), accepts the deadline and fires at once.
fn singleshot_past(timer: &Timer) -> Outcome {
    let port = timer_port(timer)?;
    let t0 = now()?;
    expect_ret(
        "set_singleshot_timer(past, VCPU_SSHOTTMR_future)",
        time::set_singleshot(0, 1, VCPU_SSHOTTMR_FUTURE),
        0,
    )?;
    expect_ret(
        "poll(timer port, +5 s)",
        time::poll(&[port], t0 + GENEROUS_NS),
        0,
    )?;
    let woke = now()?;
    let fired = upcall::port_pending(port);
    upcall::clear_pending(port);
    if !fired {
        fail!("no VIRQ_TIMER within {} ns", woke.wrapping_sub(t0));
    }
    Ok(())
}

fn poll_too_many_ports(timer: &Timer) -> Outcome {
    let port = timer_port(timer)?;
    let ports = [port; 129];
    expect_errno(
        "poll(129 ports)",
        time::poll(&ports, now()? + MS),
        Errno::Inval,
    )
}

fn poll_bad_port_array() -> Outcome {
    expect_errno(
        "poll(ports in the hypervisor's range)",
        time::poll_raw(HYPERVISOR_VIRT_START, 1, now()? + MS),
        Errno::Fault,
    )
}

fn poll_reserved_port() -> Outcome {
    expect_errno("poll(port 0)", time::poll(&[0], now()? + MS), Errno::Inval)
}

fn poll_timeout(timer: &Timer) -> Outcome {
    let port = timer_port(timer)?;
    expect_ret("set_timer_op(0)", time::set_timer_op(0), 0)?;
    expect_quiet_until("poll(timer port, +2 ms)", port, now()? + 2 * MS)
}

fn set_timer_op_stop(timer: &Timer) -> Outcome {
    let port = timer_port(timer)?;
    let t0 = now()?;
    expect_ret("set_timer_op(+1 ms)", time::set_timer_op(t0 + MS), 0)?;
    expect_ret("set_timer_op(0)", time::set_timer_op(0), 0)?;
    expect_quiet_until("poll after set_timer_op(0)", port, t0 + 3 * MS)
}

fn singleshot_stop(timer: &Timer) -> Outcome {
    let port = timer_port(timer)?;
    let t0 = now()?;
    expect_ret(
        "set_singleshot_timer(+1 ms)",
        time::set_singleshot(0, t0 + MS, 0),
        0,
    )?;
    expect_ret(
        "stop_singleshot_timer",
        time::vcpu_op_plain(VcpuOp::StopSingleshotTimer, 0),
        0,
    )?;
    expect_quiet_until("poll after stop_singleshot_timer", port, t0 + 3 * MS)
}

fn singleshot_fires(timer: &Timer) -> Outcome {
    let port = timer_port(timer)?;
    let deadline = now()? + MS;
    expect_ret(
        "set_singleshot_timer(+1 ms, future)",
        time::set_singleshot(0, deadline, VCPU_SSHOTTMR_FUTURE),
        0,
    )?;
    // Events are masked: the timer shows as the port's pending bit, which ends the poll.
    expect_ret(
        "poll(timer port, +5 s)",
        time::poll(&[port], deadline + GENEROUS_NS),
        0,
    )?;
    let woke = now()?;
    let fired = upcall::port_pending(port);
    upcall::clear_pending(port);
    if !fired {
        fail!(
            "the poll ended {} ns after the deadline with no VIRQ_TIMER",
            woke.wrapping_sub(deadline)
        );
    }
    if woke < deadline {
        fail!("VIRQ_TIMER came {} ns before the deadline", deadline - woke);
    }
    Ok(())
}

fn block_wakes(timer: &Timer) -> Outcome {
    let port = timer_port(timer)?;
    upcall::clear_pending(port);
    let _ = upcall::take_seen(port);
    let upcalls = upcall::upcalls();
    let deadline = now()? + MS;
    expect_ret("set_timer_op(+1 ms)", time::set_timer_op(deadline), 0)?;
    // Block enables events; the upcall runs before it returns.
    let ret = time::block();
    shared::set_upcall_mask(1);
    let woke = now()?;
    expect_ret("sched_op(block)", ret, 0)?;
    if woke < deadline {
        fail!("block returned {} ns before the deadline", deadline - woke);
    }
    if woke - deadline > GENEROUS_NS {
        fail!("block returned {} ns after the deadline", woke - deadline);
    }
    if upcall::upcalls() == upcalls {
        fail!("block returned without an event upcall");
    }
    if !upcall::take_seen(port) {
        fail!("the upcall did not find the VIRQ_TIMER port pending");
    }
    Ok(())
}

fn runstate() -> Outcome {
    let (ret, info) = time::get_runstate(0);
    expect_ret("vcpu_op(get_runstate_info)", ret, 0)?;
    let t = now()?;
    if info.state != RUNSTATE_RUNNING {
        fail!("state is {}, expected running", info.state);
    }
    if info.state_entry_time > t {
        fail!(
            "entered its state at {}, after now ({})",
            info.state_entry_time,
            t
        );
    }
    if info.time[RUNSTATE_RUNNING as usize] == 0 || info.time[RUNSTATE_BLOCKED as usize] == 0 {
        fail!(
            "time running {} / blocked {}: both should have grown",
            info.time[0],
            info.time[2]
        );
    }
    Ok(())
}
