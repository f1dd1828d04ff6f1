//! Time for domains: vcpu_time_info and the wall clock in shared_info, vCPU timers on the APIC.
//!
//! The logic (timer rules, runstate, the version protocol) is the library's `time` module; this
//! file applies it to a `Domain`: it writes the records into the domain's shared_info page
//! through the direct map, programs the local APIC for the vCPU's earliest deadline, and raises
//! VIRQ_TIMER through `event_glue`. Xen refreshes a vCPU's `vcpu_time_info` when it comes onto a
//! CPU and about once a second; xen-core refreshes it when the domain is built, when it comes
//! back from blocking, and just before each VIRQ_TIMER, so a guest woken by its timer reads a
//! fresh stamp. The scale never changes after boot, so the guest's extrapolation from an older
//! stamp is exact too.

use core::mem::offset_of;
use core::sync::atomic::{Ordering, compiler_fence};

use hypercall_abi::event_channel::{EVTCHN_2L_NR_CHANNELS, VIRQ_TIMER};
use hypercall_abi::shared_info::{SharedInfo, VcpuInfo, VcpuTimeInfo};
use xen_core::layout::PAGE_SIZE;
use xen_core::time::runstate::RunState;
use xen_core::time::seqlock::SeqArea;
use xen_core::time::vcpu_time::VcpuTimeBody;
use xen_core::time::vcpu_timers::Expiry;
use xen_core::time::wallclock::WallClockBody;

use crate::arch::x86_64::uaccess::write_guest;
use crate::arch::x86_64::{apic, direct_map, tsc, wallclock};
use crate::domain::Domain;

/// vcpu_info[0].time in shared_info.
const VCPU0_TIME: u64 = (offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, time)) as u64;
/// vcpu_info[0].evtchn_upcall_pending.
const VCPU0_UPCALL_PENDING: u64 =
    (offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, evtchn_upcall_pending)) as u64;

/// `vcpu_time_info` of vCPU 0 in a shared_info page, written with volatile stores (the guest
/// reads it concurrently).
struct SharedTimeInfo {
    maddr: u64,
}

impl SeqArea for SharedTimeInfo {
    type Body = VcpuTimeBody;

    fn store_version(&mut self, version: u32) {
        direct_map::write_u32(
            self.maddr + offset_of!(VcpuTimeInfo, version) as u64,
            version,
        );
    }

    fn store_body(&mut self, body: &VcpuTimeBody) {
        let rec = body.to_abi(0);
        direct_map::write_u64(
            self.maddr + offset_of!(VcpuTimeInfo, tsc_timestamp) as u64,
            rec.tsc_timestamp,
        );
        direct_map::write_u64(
            self.maddr + offset_of!(VcpuTimeInfo, system_time) as u64,
            rec.system_time,
        );
        // tsc_to_system_mul, tsc_shift, flags and the two pad bytes: one 8-byte word.
        let word = u64::from(rec.tsc_to_system_mul)
            | (u64::from(rec.tsc_shift as u8) << 32)
            | (u64::from(rec.flags) << 40);
        direct_map::write_u64(
            self.maddr + offset_of!(VcpuTimeInfo, tsc_to_system_mul) as u64,
            word,
        );
    }

    fn store_fence(&mut self) {
        // x86 keeps stores in order; only the compiler must not move them.
        compiler_fence(Ordering::Release);
    }
}

/// The wall-clock fields of a shared_info page, written with volatile stores.
struct SharedWallClock {
    maddr: u64,
}

impl SeqArea for SharedWallClock {
    type Body = WallClockBody;

    fn store_version(&mut self, version: u32) {
        direct_map::write_u32(
            self.maddr + offset_of!(SharedInfo, wc_version) as u64,
            version,
        );
    }

    fn store_body(&mut self, body: &WallClockBody) {
        direct_map::write_u32(
            self.maddr + offset_of!(SharedInfo, wc_sec) as u64,
            body.wc_sec,
        );
        // wc_nsec and wc_sec_hi: one 8-byte word.
        direct_map::write_u64(
            self.maddr + offset_of!(SharedInfo, wc_nsec) as u64,
            u64::from(body.wc_nsec) | (u64::from(body.wc_sec_hi) << 32),
        );
    }

    fn store_fence(&mut self) {
        compiler_fence(Ordering::Release);
    }
}

fn shared_info(dom: &Domain) -> u64 {
    dom.shared_info_mfn * PAGE_SIZE
}

/// Publishes vCPU 0's `vcpu_time_info` as of now (version odd while writing, then even).
pub fn publish_time(dom: &mut Domain) {
    let body = tsc::clock().time_info(tsc::rdtsc());
    let mut area = SharedTimeInfo {
        maddr: shared_info(dom) + VCPU0_TIME,
    };
    dom.time.time_version.publish(&mut area, &body);
}

/// Publishes the wall clock (the time of day at system time 0, from the RTC at boot) in the
/// domain's shared_info. Domains have no time offset yet (XEN_DOMCTL_settimeoffset).
pub fn publish_wallclock(dom: &mut Domain) {
    let body = wallclock::base().body();
    let mut area = SharedWallClock {
        maddr: shared_info(dom),
    };
    dom.time.wallclock_version.publish(&mut area, &body);
}

/// Gives a newly built domain its time: the wall clock and vCPU 0's `vcpu_time_info` in its
/// shared_info page (which must exist). Call once the page is allocated and zeroed, before
/// the domain first runs.
pub fn init_domain(dom: &mut Domain) {
    publish_wallclock(dom);
    publish_time(dom);
}

/// Whether vcpu_info[0].evtchn_upcall_pending is set (one read of guest-shared memory).
pub fn upcall_pending(dom: &Domain) -> bool {
    direct_map::read_u8(shared_info(dom) + VCPU0_UPCALL_PENDING) != 0
}

/// `port`'s pending bit in the domain's shared_info (one read of guest-shared memory); false
/// past the 2-level ABI's ports.
pub fn port_pending(dom: &Domain, port: u32) -> bool {
    if port >= EVTCHN_2L_NR_CHANNELS {
        return false;
    }
    let word = u64::from(port / 64) * 8;
    let maddr = shared_info(dom) + offset_of!(SharedInfo, evtchn_pending) as u64;
    direct_map::read_u64(maddr + word) & (1 << (port % 64)) != 0
}

/// Programs the local APIC for the earliest of the vCPU's deadlines (`on_cpu`: the vCPU runs,
/// so its periodic tick counts) and what the scheduler needs besides (the slice, the tick,
/// other vCPUs' timers: `schedule::other_deadline`), or stops it when nothing is due.
pub fn arm(dom: &Domain, on_cpu: bool) {
    let own = dom.time.timers.next_deadline(on_cpu).unwrap_or(u64::MAX);
    match own.min(crate::schedule::other_deadline()) {
        u64::MAX => apic::cancel_deadline(),
        deadline => apic::set_deadline(deadline),
    }
}

/// Raises VIRQ_TIMER on the domain, with a fresh `vcpu_time_info` first.
fn timer_event(dom: &mut Domain) {
    publish_time(dom);
    crate::event_glue::send_virq(dom, VIRQ_TIMER);
}

/// Runs the vCPU's timers that are due at `now` (VIRQ_TIMER for the one-shot or periodic
/// timer) and says what passed.
pub fn expire(dom: &mut Domain, now: u64, on_cpu: bool) -> Expiry {
    let passed = dom.time.timers.expire(now, on_cpu);
    if passed.timer_event {
        timer_event(dom);
    }
    passed
}

/// The timer interrupt, taken while `dom` ran: fire what is due, re-arm for what is next.
pub fn on_timer_interrupt(dom: &mut Domain) {
    expire(dom, tsc::now_ns(), true);
    arm(dom, true);
}

/// Writes the runstate to the guest's registered copy, if any. The guest's kernel page tables
/// must be loaded (a hypercall from its kernel, or just after a switch to it); a copy that
/// faults is skipped, as in Xen.
fn update_runstate_area(dom: &Domain) {
    if let Some(va) = dom.time.runstate_area {
        let _ = write_guest(va, &dom.time.runstate.record());
    }
}

/// The vCPU leaves the CPU in `state` (Blocked for SCHEDOP_block/poll; Runnable when the
/// scheduler preempts it).
pub fn schedule_out(dom: &mut Domain, state: RunState) {
    let now = tsc::now_ns();
    dom.time.runstate.change(state, now);
    dom.blocked = state == RunState::Blocked;
    update_runstate_area(dom);
}

/// The vCPU comes (back) onto the CPU: runstate running, a periodic tick it is owed, a fresh
/// `vcpu_time_info` (Xen's context switch refreshes it), and the APIC armed for it. The
/// scheduler calls this after loading the domain's page tables.
pub fn schedule_in(dom: &mut Domain) {
    let now = tsc::now_ns();
    dom.blocked = false;
    dom.time.runstate.change(RunState::Running, now);
    update_runstate_area(dom);
    if dom.time.timers.schedule_in(now) {
        timer_event(dom);
    } else {
        publish_time(dom);
    }
    arm(dom, true);
}

/// The vCPU's periodic timer changed (VCPUOP_set/stop_periodic_timer): Xen reschedules the
/// vCPU, whose return to the CPU sends a tick already owed and starts the new period.
pub fn periodic_changed(dom: &mut Domain) {
    if dom.time.timers.schedule_in(tsc::now_ns()) {
        timer_event(dom);
    }
    arm(dom, true);
}
