//! Unit tests of the scheduler's interface: wake, block, yield, removal, parameters, errors.

use hypercall_abi::Errno;

use super::cpumask::CpuMask;
use super::credit::{Decision, Scheduler};
use super::entity::VcpuRef;
use super::params::DomParams;
use super::priority::Priority;

const MS: u64 = 1_000_000;

fn v(d: u16, n: u32) -> VcpuRef {
    VcpuRef::new(d, n)
}

/// One CPU, domains 1..=n with one vCPU each, none woken.
fn setup(n: u16) -> Scheduler {
    let mut s = Scheduler::new(1);
    for d in 1..=n {
        s.add_domain(d, 256, 0).unwrap();
        s.add_vcpu(d, 0).unwrap();
    }
    s
}

#[test]
fn idle_when_nothing_is_runnable() {
    let mut s = setup(2);
    let d = s.schedule(0, 0);
    assert_eq!(
        d,
        Decision {
            next: None,
            slice_ns: u64::MAX
        }
    );
    assert_eq!(d.deadline(5), u64::MAX);
    assert_eq!(s.current(0), None);
    // An empty scheduler idles too, and unknown CPUs idle.
    assert_eq!(Scheduler::new(1).schedule(0, 0).next, None);
    assert_eq!(s.schedule(7, 0).next, None);
}

#[test]
fn waking_an_idle_cpu_asks_it_to_schedule_with_a_full_slice() {
    let mut s = setup(1);
    assert_eq!(s.wake(v(1, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.priority(v(1, 0)), Ok(Priority::Boost));
    let d = s.schedule(0, 0);
    assert_eq!(d.next, Some(v(1, 0)));
    assert_eq!(d.slice_ns, 30 * MS);
    assert_eq!(d.deadline(100), 100 + 30 * MS);
    // Waking it again changes nothing.
    assert_eq!(s.wake(v(1, 0)), Ok(CpuMask::empty()));
}

#[test]
fn woken_vcpu_gets_boost_and_runs_before_an_under_one() {
    let mut s = setup(3);
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    let _ = s.tick(0, 10 * MS); // 1 loses its boost
    // 2 wakes with UNDER priority: BOOST, and it preempts the UNDER vCPU 1.
    assert_eq!(s.priority(v(2, 0)), Ok(Priority::Under));
    assert_eq!(s.wake(v(2, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.priority(v(2, 0)), Ok(Priority::Boost));
    assert_eq!(s.schedule(0, 11 * MS).next, Some(v(2, 0)));
    let _ = s.tick(0, 20 * MS); // 2 loses its boost
    assert_eq!(s.priority(v(2, 0)), Ok(Priority::Under));
    assert_eq!(s.runqueue(0).collect::<Vec<_>>(), [v(1, 0)]);

    // 3 wakes: BOOST, queued ahead of the UNDER vCPU 1, and the CPU is asked to reschedule.
    assert_eq!(s.wake(v(3, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.priority(v(3, 0)), Ok(Priority::Boost));
    assert_eq!(s.runqueue(0).collect::<Vec<_>>(), [v(3, 0), v(1, 0)]);
    assert_eq!(s.schedule(0, 25 * MS).next, Some(v(3, 0)));
    // 2 went back behind 1 (same priority, FIFO).
    assert_eq!(s.runqueue(0).collect::<Vec<_>>(), [v(1, 0), v(2, 0)]);
    // The boost lasts until a tick finds it running.
    let _ = s.tick(0, 30 * MS);
    assert_eq!(s.priority(v(3, 0)), Ok(Priority::Under));
}

#[test]
fn boost_survives_blocking_before_a_tick() {
    let mut s = setup(2);
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    let _ = s.tick(0, 10 * MS);
    let _ = s.wake(v(2, 0)).unwrap();
    assert_eq!(s.schedule(0, 11 * MS).next, Some(v(2, 0)));
    // 2 blocks after 1 ms, before any tick: it keeps BOOST, and 1 runs.
    assert_eq!(s.block(v(2, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.schedule(0, 12 * MS).next, Some(v(1, 0)));
    assert_eq!(s.priority(v(2, 0)), Ok(Priority::Boost));
    assert_eq!(s.wake(v(2, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.schedule(0, 14 * MS).next, Some(v(2, 0)));
}

#[test]
fn over_vcpu_waking_is_not_boosted() {
    let mut s = setup(2);
    let _ = s.wake(v(1, 0)).unwrap();
    let _ = s.wake(v(2, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    for t in 1..=3 {
        let _ = s.tick(0, t * 10 * MS);
    }
    assert_eq!(s.schedule(0, 30 * MS).next, Some(v(2, 0)));
    for t in 4..=6 {
        let _ = s.tick(0, t * 10 * MS);
    }
    // At the accounting at 60 ms both are active and get 150 each: 1 (idle since 30 ms) has
    // 150, 2 ran 30 ms (300 credits) and has -150.
    assert_eq!(s.credit(v(1, 0)), Ok(150));
    assert_eq!(s.credit(v(2, 0)), Ok(-150));
    assert_eq!(s.priority(v(2, 0)), Ok(Priority::Over));
    assert_eq!(s.schedule(0, 60 * MS).next, Some(v(1, 0)));
    assert_eq!(s.block(v(2, 0)), Ok(CpuMask::empty()));
    // Woken OVER: no boost, and no preemption of the UNDER vCPU.
    assert_eq!(s.wake(v(2, 0)), Ok(CpuMask::empty()));
    assert_eq!(s.priority(v(2, 0)), Ok(Priority::Over));
}

#[test]
fn rate_limit_keeps_a_fresh_vcpu_running() {
    let mut s = setup(2);
    let _ = s.wake(v(1, 0)).unwrap();
    let _ = s.tick(0, 10 * MS);
    assert_eq!(s.schedule(0, 10 * MS).next, Some(v(1, 0)));
    let _ = s.tick(0, 20 * MS);
    // 1 is UNDER now. 2 wakes 0.3 ms after 1 started again: 1 keeps the CPU until it has run
    // 1 ms.
    let _ = s.wake(v(2, 0)).unwrap();
    let d = s.schedule(0, 10 * MS + 300_000);
    assert_eq!(d.next, Some(v(1, 0)));
    assert_eq!(d.slice_ns, 700_000);
    assert_eq!(s.schedule(0, 11 * MS).next, Some(v(2, 0)));
    // With the rate limit off, the switch is immediate.
    let mut s = setup(2);
    s.set_timing(30, 0).unwrap();
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    let _ = s.tick(0, 10 * MS);
    let _ = s.wake(v(2, 0)).unwrap();
    assert_eq!(s.schedule(0, 10 * MS + 1).next, Some(v(2, 0)));
}

#[test]
fn yield_lets_the_other_vcpu_run() {
    let mut s = setup(2);
    let _ = s.wake(v(1, 0)).unwrap();
    let _ = s.wake(v(2, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    // Yielding skips the rate limit.
    assert_eq!(s.yield_(v(1, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.schedule(0, 100).next, Some(v(2, 0)));
    // Yield with nobody else to run: keeps running.
    let mut s = setup(1);
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    let _ = s.yield_(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 100).next, Some(v(1, 0)));
    // A yield by a vCPU that is not running is remembered, nothing to reschedule.
    let mut s = setup(2);
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.yield_(v(2, 0)), Ok(CpuMask::empty()));
}

#[test]
fn block_of_a_queued_vcpu_takes_it_off_the_queue() {
    let mut s = setup(2);
    let _ = s.wake(v(1, 0)).unwrap();
    let _ = s.wake(v(2, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    assert_eq!(s.block(v(2, 0)), Ok(CpuMask::empty()));
    assert_eq!(s.runqueue(0).count(), 0);
    assert_eq!(s.block(v(1, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.schedule(0, 2 * MS).next, None);
}

#[test]
fn removing_the_running_vcpu() {
    let mut s = setup(2);
    let _ = s.wake(v(1, 0)).unwrap();
    let _ = s.wake(v(2, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    assert_eq!(s.remove_vcpu(v(1, 0), 5 * MS), Ok(CpuMask::only(0)));
    assert_eq!(s.current(0), None);
    assert_eq!(s.vcpu_runtime_ns(v(1, 0), 5 * MS), Err(Errno::NoEnt));
    // Its run time stays with the domain.
    assert_eq!(s.domain_runtime_ns(1, 9 * MS), Ok(5 * MS));
    assert_eq!(s.schedule(0, 5 * MS).next, Some(v(2, 0)));
    // Removing the domain of the running vCPU.
    assert_eq!(s.remove_domain(2, 8 * MS), Ok(CpuMask::only(0)));
    assert_eq!(s.schedule(0, 8 * MS).next, None);
    assert_eq!(s.domain_runtime_ns(2, 8 * MS), Err(Errno::Srch));
    assert_eq!(s.domains().collect::<Vec<_>>(), [1]);
    // A removed queued vCPU leaves the queue.
    let mut s = setup(3);
    for d in 1..=3 {
        let _ = s.wake(v(d, 0)).unwrap();
    }
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    assert_eq!(s.remove_vcpu(v(2, 0), MS), Ok(CpuMask::empty()));
    assert_eq!(s.runqueue(0).collect::<Vec<_>>(), [v(3, 0)]);
}

#[test]
fn runtime_is_accounted_per_vcpu_and_domain() {
    let mut s = Scheduler::new(1);
    s.add_domain(4, 256, 0).unwrap();
    s.add_vcpu(4, 0).unwrap();
    s.add_vcpu(4, 1).unwrap();
    assert_eq!(s.vcpus(4).unwrap().collect::<Vec<_>>(), [0, 1]);
    let _ = s.wake(v(4, 0)).unwrap();
    let _ = s.wake(v(4, 1)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(4, 0)));
    assert_eq!(s.schedule(0, 30 * MS).next, Some(v(4, 1)));
    assert_eq!(s.vcpu_runtime_ns(v(4, 0), 40 * MS), Ok(30 * MS));
    // The running vCPU's count includes the run in progress.
    assert_eq!(s.vcpu_runtime_ns(v(4, 1), 40 * MS), Ok(10 * MS));
    assert_eq!(s.domain_runtime_ns(4, 40 * MS), Ok(40 * MS));
}

#[test]
fn weight_and_cap_are_checked_like_the_domctl() {
    let mut s = Scheduler::new(1);
    assert_eq!(s.add_domain(1, 0, 0), Err(Errno::Inval));
    assert_eq!(s.add_domain(1, 65536, 0), Err(Errno::Inval));
    assert_eq!(s.add_domain(1, 256, 70000), Err(Errno::Inval));
    assert_eq!(s.domains().count(), 0);
    s.add_domain(1, 512, 0).unwrap();
    assert_eq!(s.add_domain(1, 256, 0), Err(Errno::Exist));
    assert_eq!(
        s.get_params(1),
        Ok(DomParams {
            weight: 512,
            cap: 0
        })
    );
    assert_eq!(s.set_params(1, 0, 10), Err(Errno::Inval));
    assert_eq!(s.set_params(1, 70000, 10), Err(Errno::Inval));
    assert_eq!(s.get_params(1).unwrap().weight, 512); // unchanged
    s.set_params(1, 65535, 400).unwrap();
    assert_eq!(
        s.get_params(1),
        Ok(DomParams {
            weight: 65535,
            cap: 400
        })
    );
    // The domctl's "unchanged" values.
    s.putinfo(1, 0, 50).unwrap();
    assert_eq!(
        s.get_params(1),
        Ok(DomParams {
            weight: 65535,
            cap: 50
        })
    );
    s.putinfo(1, 100, 0xFFFF).unwrap();
    assert_eq!(
        s.get_params(1),
        Ok(DomParams {
            weight: 100,
            cap: 50
        })
    );
    assert_eq!(s.putinfo(9, 100, 0), Err(Errno::Srch));
    assert_eq!(s.set_params(9, 256, 0), Err(Errno::Srch));
    assert_eq!(s.get_params(9), Err(Errno::Srch));
}

#[test]
fn unknown_domains_and_vcpus_are_errors() {
    let mut s = setup(1);
    assert_eq!(s.add_vcpu(9, 0), Err(Errno::Srch));
    assert_eq!(s.add_vcpu(1, 0), Err(Errno::Exist));
    assert_eq!(s.wake(v(1, 5)), Err(Errno::NoEnt));
    assert_eq!(s.wake(v(9, 0)), Err(Errno::Srch));
    assert_eq!(s.block(v(1, 5)), Err(Errno::NoEnt));
    assert_eq!(s.yield_(v(1, 5)), Err(Errno::NoEnt));
    assert_eq!(s.remove_vcpu(v(1, 5), 0), Err(Errno::NoEnt));
    assert_eq!(s.remove_domain(9, 0), Err(Errno::Srch));
    assert_eq!(s.vcpu_runtime_ns(v(1, 5), 0), Err(Errno::NoEnt));
    assert!(s.vcpus(9).is_err());
}

#[test]
fn timing_settings() {
    let mut s = Scheduler::new(1);
    assert_eq!(s.timing().tslice_ms(), 30);
    assert_eq!(s.timing().ratelimit_us(), 1000);
    assert_eq!(s.tick_period_ns(), 10 * MS);
    assert_eq!(s.set_timing(0, 0), Err(Errno::Inval));
    assert_eq!(s.set_timing(5, 6000), Err(Errno::Inval));
    assert_eq!(s.timing().tslice_ms(), 30);
    s.set_timing(6, 500).unwrap();
    assert_eq!(s.tick_period_ns(), 2 * MS);
    s.add_domain(1, 256, 0).unwrap();
    s.add_vcpu(1, 0).unwrap();
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).slice_ns, 6 * MS);
}

#[test]
fn tick_before_its_time_does_nothing() {
    let mut s = setup(1);
    let _ = s.wake(v(1, 0)).unwrap();
    let _ = s.schedule(0, 0);
    assert_eq!(s.next_tick_ns(0), 10 * MS);
    let _ = s.tick(0, 5 * MS);
    assert_eq!(s.priority(v(1, 0)), Ok(Priority::Boost));
    assert_eq!(s.next_tick_ns(0), 10 * MS);
    let _ = s.tick(0, 10 * MS);
    assert_eq!(s.priority(v(1, 0)), Ok(Priority::Under));
    assert_eq!(s.next_tick_ns(0), 20 * MS);
    // A late tick does not replay the missed ones.
    let _ = s.tick(0, 95 * MS);
    assert_eq!(s.next_tick_ns(0), 105 * MS);
    assert_eq!(s.next_tick_ns(3), u64::MAX);
    assert!(s.tick(3, 95 * MS).is_empty());
}

#[test]
fn capped_running_vcpu_is_parked_and_comes_back() {
    let mut s = setup(1);
    s.set_params(1, 256, 10).unwrap();
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    let _ = s.tick(0, 10 * MS);
    let _ = s.tick(0, 20 * MS);
    // At the accounting it is 300 - 30 = 270 credits in debt, more than its cap (30).
    let r = s.tick(0, 30 * MS);
    assert_eq!(r, CpuMask::only(0));
    assert_eq!(s.is_parked(v(1, 0)), Ok(true));
    assert_eq!(s.schedule(0, 30 * MS).next, None);
    // A wake while parked does not bring it back.
    assert_eq!(s.wake(v(1, 0)), Ok(CpuMask::empty()));
    let mut t = 40 * MS;
    let mut back = CpuMask::empty();
    while back.is_empty() {
        back = s.tick(0, t);
        t += 10 * MS;
    }
    assert_eq!(s.is_parked(v(1, 0)), Ok(false));
    assert_eq!(s.priority(v(1, 0)), Ok(Priority::Under)); // unparked without boost
    assert_eq!(s.schedule(0, t).next, Some(v(1, 0)));
}

#[test]
fn idle_cpu_takes_work_from_a_busy_one() {
    let mut s = Scheduler::new(2);
    for d in 1..=3 {
        s.add_domain(d, 256, 0).unwrap();
        s.add_vcpu(d, 0).unwrap();
    }
    // vCPUs go to the least loaded CPU: 0, 1, 0.
    assert_eq!(s.vcpu_cpu(v(1, 0)), Ok(0));
    assert_eq!(s.vcpu_cpu(v(2, 0)), Ok(1));
    assert_eq!(s.vcpu_cpu(v(3, 0)), Ok(0));
    assert_eq!(s.wake(v(1, 0)), Ok(CpuMask::only(0)));
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    // 3 belongs to busy CPU 0: idle CPU 1 is asked, and takes it.
    assert_eq!(s.wake(v(3, 0)), Ok(CpuMask::only(1)));
    assert_eq!(s.schedule(1, 0).next, Some(v(3, 0)));
    assert_eq!(s.vcpu_cpu(v(3, 0)), Ok(1));
    assert!(s.is_running(v(3, 0)).unwrap());
}

#[test]
fn ticks_are_needed_for_a_queue_a_capped_vcpu_or_a_parked_one() {
    let mut s = setup(2);
    assert!(!s.needs_tick(0)); // nothing runs
    let _ = s.wake(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, 0).next, Some(v(1, 0)));
    assert!(!s.needs_tick(0)); // a lone uncapped vCPU
    let _ = s.wake(v(2, 0)).unwrap();
    assert!(s.needs_tick(0)); // another one waits
    let _ = s.block(v(2, 0)).unwrap();
    assert!(!s.needs_tick(0));
    s.set_params(1, 256, 25).unwrap();
    assert!(s.needs_tick(0)); // the running vCPU is capped
    assert!(!s.needs_tick(7));
    // Charged at each tick, it is parked at the accounting and the CPU idles, ticking on
    // until the accounting gives the credits back.
    let _ = s.tick(0, 10 * MS);
    let _ = s.tick(0, 20 * MS);
    let _ = s.tick(0, 30 * MS);
    assert_eq!(s.is_parked(v(1, 0)), Ok(true));
    assert_eq!(s.schedule(0, 30 * MS).next, None);
    assert!(s.needs_tick(0));
    let mut t = 40 * MS;
    while s.is_parked(v(1, 0)) == Ok(true) {
        let _ = s.tick(0, t);
        t += 10 * MS;
    }
    assert_eq!(s.schedule(0, t).next, Some(v(1, 0)));
    let _ = s.block(v(1, 0)).unwrap();
    assert_eq!(s.schedule(0, t).next, None);
    assert!(!s.needs_tick(0));
}
