//! A simulation harness for the scheduler: vCPUs with set behaviours on a virtual clock.

use super::cpumask::CpuMask;
use super::credit::Scheduler;
use super::entity::VcpuRef;

/// What a simulated vCPU does.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Always runnable.
    Hog,
    /// Never runnable.
    Idle,
    /// Runs `run_ns`, blocks for `sleep_ns`, again and again.
    Bursty { run_ns: u64, sleep_ns: u64 },
}

struct SimVcpu {
    v: VcpuRef,
    behaviour: Behaviour,
    /// Run time in the current burst.
    burst_ran: u64,
    /// When a blocked bursty vCPU wakes.
    wake_at: Option<u64>,
    /// Run time seen by the harness.
    ran: u64,
    /// Longest wait from a wake (after blocking) to running.
    max_latency: u64,
    woke_at: Option<u64>,
}

/// The simulation: one scheduler, its CPUs' slice deadlines, and the vCPUs.
pub struct Sim {
    pub s: Scheduler,
    pub now: u64,
    slice_end: Vec<u64>,
    vcpus: Vec<SimVcpu>,
    /// Wake up for a CPU's tick and slice end only while `Scheduler::needs_tick` says so,
    /// as xen-core's timer does; otherwise at every tick.
    tickless: bool,
}

impl Sim {
    /// A simulation over `nr_pcpus` CPUs at time 0.
    pub fn new(nr_pcpus: usize) -> Self {
        Sim {
            s: Scheduler::new(nr_pcpus),
            now: 0,
            slice_end: vec![0; nr_pcpus],
            vcpus: Vec::new(),
            tickless: false,
        }
    }

    /// As [`Sim::new`], skipping the ticks a CPU does not need (`Scheduler::needs_tick`).
    pub fn tickless(nr_pcpus: usize) -> Self {
        Sim {
            tickless: true,
            ..Sim::new(nr_pcpus)
        }
    }

    /// Adds a domain with `behaviours.len()` vCPUs.
    pub fn domain(&mut self, domid: u16, weight: u32, cap: u32, behaviours: &[Behaviour]) {
        self.s.add_domain(domid, weight, cap).unwrap();
        for (n, &behaviour) in behaviours.iter().enumerate() {
            let v = VcpuRef::new(domid, n as u32);
            self.s.add_vcpu(domid, n as u32).unwrap();
            let sv = SimVcpu {
                v,
                behaviour,
                burst_ran: 0,
                wake_at: None,
                ran: 0,
                max_latency: 0,
                woke_at: None,
            };
            if !matches!(behaviour, Behaviour::Idle) {
                let r = self.s.wake(v).unwrap();
                self.resched(r);
            }
            self.vcpus.push(sv);
        }
    }

    fn resched(&mut self, r: CpuMask) {
        for c in r.iter() {
            self.slice_end[c] = self.now; // schedule at the next step
        }
    }

    fn index(&self, v: VcpuRef) -> usize {
        self.vcpus.iter().position(|s| s.v == v).unwrap()
    }

    /// Runs until `end`, checking the scheduler's invariants at every step.
    pub fn run_until(&mut self, end: u64) {
        let ncpus = self.slice_end.len();
        while self.now < end {
            let mut t = end;
            for c in 0..ncpus {
                if !self.tickless || self.s.needs_tick(c) {
                    t = t.min(self.s.next_tick_ns(c)).min(self.slice_end[c]);
                }
                if let Some(v) = self.s.current(c) {
                    let sv = &self.vcpus[self.index(v)];
                    if let Behaviour::Bursty { run_ns, .. } = sv.behaviour {
                        t = t.min(self.now + run_ns.saturating_sub(sv.burst_ran));
                    }
                }
            }
            for sv in &self.vcpus {
                if let Some(w) = sv.wake_at {
                    t = t.min(w);
                }
            }
            let t = t.max(self.now);
            let dt = t - self.now;
            for c in 0..ncpus {
                if let Some(v) = self.s.current(c) {
                    let i = self.index(v);
                    self.vcpus[i].ran += dt;
                    self.vcpus[i].burst_ran += dt;
                }
            }
            self.now = t;
            if self.now >= end {
                break;
            }

            let mut r = CpuMask::empty();
            for c in 0..ncpus {
                if let Some(v) = self.s.current(c) {
                    let i = self.index(v);
                    if let Behaviour::Bursty { run_ns, sleep_ns } = self.vcpus[i].behaviour
                        && self.vcpus[i].burst_ran >= run_ns
                    {
                        r = r.union(self.s.block(v).unwrap());
                        self.vcpus[i].burst_ran = 0;
                        self.vcpus[i].wake_at = Some(self.now + sleep_ns);
                    }
                }
            }
            for i in 0..self.vcpus.len() {
                if self.vcpus[i].wake_at.is_some_and(|w| w <= self.now) {
                    self.vcpus[i].wake_at = None;
                    self.vcpus[i].woke_at = Some(self.now);
                    r = r.union(self.s.wake(self.vcpus[i].v).unwrap());
                }
            }
            for c in 0..ncpus {
                r = r.union(self.s.tick(c, self.now));
            }
            for c in 0..ncpus {
                if self.now >= self.slice_end[c] || r.contains(c) {
                    let d = self.s.schedule(c, self.now);
                    self.slice_end[c] = d.deadline(self.now);
                    if let Some(v) = d.next {
                        let i = self.index(v);
                        if let Some(w) = self.vcpus[i].woke_at.take() {
                            let lat = self.now - w;
                            self.vcpus[i].max_latency = self.vcpus[i].max_latency.max(lat);
                        }
                    }
                }
            }
            self.check_invariants();
        }
    }

    fn check_invariants(&self) {
        let ncpus = self.slice_end.len();
        let mut seen = std::collections::HashSet::new();
        for c in 0..ncpus {
            if let Some(v) = self.s.current(c) {
                assert!(seen.insert(v), "{v:?} runs twice");
                assert_eq!(self.s.vcpu_cpu(v), Ok(c));
                assert!(self.s.is_running(v).unwrap());
            }
        }
        for c in 0..ncpus {
            for v in self.s.runqueue(c) {
                assert!(seen.insert(v), "{v:?} queued twice or queued while running");
                assert_eq!(self.s.vcpu_cpu(v), Ok(c));
                assert!(!self.s.is_parked(v).unwrap());
            }
        }
        // A runnable vCPU is running, queued, or parked.
        for sv in &self.vcpus {
            let runnable = match sv.behaviour {
                Behaviour::Hog => true,
                Behaviour::Idle => false,
                Behaviour::Bursty { .. } => sv.wake_at.is_none(),
            };
            if runnable {
                assert!(seen.contains(&sv.v) || self.s.is_parked(sv.v).unwrap());
            } else {
                assert!(!seen.contains(&sv.v));
            }
        }
    }

    /// Run time of a domain as the harness saw it.
    pub fn observed_dom(&self, domid: u16) -> u64 {
        self.vcpus
            .iter()
            .filter(|s| s.v.domid == domid)
            .map(|s| s.ran)
            .sum()
    }

    /// Run time of one vCPU as the harness saw it.
    pub fn observed(&self, v: VcpuRef) -> u64 {
        self.vcpus[self.index(v)].ran
    }

    /// Longest wake-to-run wait of a vCPU.
    pub fn max_latency(&self, v: VcpuRef) -> u64 {
        self.vcpus[self.index(v)].max_latency
    }

    /// Checks that the scheduler's accounting matches what the harness saw, to the ns.
    pub fn check_accounting(&self) {
        for sv in &self.vcpus {
            assert_eq!(self.s.vcpu_runtime_ns(sv.v, self.now), Ok(sv.ran));
        }
        let mut doms: Vec<u16> = self.vcpus.iter().map(|s| s.v.domid).collect();
        doms.dedup();
        for d in doms {
            assert_eq!(
                self.s.domain_runtime_ns(d, self.now),
                Ok(self.observed_dom(d))
            );
        }
    }
}

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

fn share(sim: &Sim, domid: u16, cpus: u64) -> f64 {
    sim.observed_dom(domid) as f64 / (sim.now * cpus) as f64
}

#[test]
fn weights_512_and_256_share_two_to_one() {
    let mut sim = Sim::new(1);
    sim.domain(1, 512, 0, &[Behaviour::Hog]);
    sim.domain(2, 256, 0, &[Behaviour::Hog]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let ratio = sim.observed_dom(1) as f64 / sim.observed_dom(2) as f64;
    assert!((1.8..=2.2).contains(&ratio), "ratio {ratio}");
    // Nothing idles while both want to run.
    assert_eq!(sim.observed_dom(1) + sim.observed_dom(2), 10 * SEC);
}

#[test]
fn cap_25_holds_with_the_other_domain_idle() {
    let mut sim = Sim::new(1);
    sim.domain(1, 256, 25, &[Behaviour::Hog]);
    sim.domain(2, 256, 0, &[Behaviour::Idle]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let s = share(&sim, 1, 1);
    assert!((0.225..=0.275).contains(&s), "share {s}");
    assert_eq!(sim.observed_dom(2), 0);
}

#[test]
fn cap_25_holds_with_the_other_domain_running() {
    let mut sim = Sim::new(1);
    sim.domain(1, 256, 25, &[Behaviour::Hog]);
    sim.domain(2, 256, 0, &[Behaviour::Hog]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let s = share(&sim, 1, 1);
    assert!((0.225..=0.275).contains(&s), "share {s}");
    assert_eq!(sim.observed_dom(1) + sim.observed_dom(2), 10 * SEC);
}

#[test]
fn cap_25_holds_alone_with_only_the_ticks_it_needs() {
    let mut sim = Sim::tickless(1);
    sim.domain(1, 256, 25, &[Behaviour::Hog]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let s = share(&sim, 1, 1);
    assert!((0.225..=0.275).contains(&s), "share {s}");
}

#[test]
fn weights_and_a_bursty_vcpu_with_only_the_ticks_they_need() {
    let mut sim = Sim::tickless(1);
    let io = Behaviour::Bursty {
        run_ns: MS / 2,
        sleep_ns: 20 * MS,
    };
    sim.domain(1, 512, 0, &[Behaviour::Hog]);
    sim.domain(2, 256, 0, &[Behaviour::Hog]);
    sim.domain(3, 256, 0, &[io]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let ratio = sim.observed_dom(1) as f64 / sim.observed_dom(2) as f64;
    assert!((1.8..=2.2).contains(&ratio), "ratio {ratio}");
}

#[test]
fn cap_above_100_for_two_vcpus_on_two_cpus() {
    let mut sim = Sim::new(2);
    sim.domain(1, 256, 150, &[Behaviour::Hog, Behaviour::Hog]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let cpus = sim.observed_dom(1) as f64 / sim.now as f64;
    assert!((1.35..=1.65).contains(&cpus), "cpus {cpus}");
}

#[test]
fn three_equal_vcpus_share_two_cpus() {
    let mut sim = Sim::new(2);
    sim.domain(1, 256, 0, &[Behaviour::Hog]);
    sim.domain(2, 256, 0, &[Behaviour::Hog]);
    sim.domain(3, 256, 0, &[Behaviour::Hog]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let total: u64 = (1..=3).map(|d| sim.observed_dom(d)).sum();
    assert_eq!(total, 20 * SEC); // no CPU idles
    for d in 1..=3 {
        let s = share(&sim, d, 2) * 3.0;
        assert!((0.9..=1.1).contains(&s), "dom {d} relative share {s}");
    }
}

#[test]
fn weights_hold_on_two_cpus() {
    let mut sim = Sim::new(2);
    sim.domain(1, 512, 0, &[Behaviour::Hog, Behaviour::Hog]);
    sim.domain(2, 256, 0, &[Behaviour::Hog, Behaviour::Hog]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    let ratio = sim.observed_dom(1) as f64 / sim.observed_dom(2) as f64;
    assert!((1.8..=2.2).contains(&ratio), "ratio {ratio}");
    // Within a domain the vCPUs share evenly.
    for d in 1..=2 {
        let a = sim.observed(VcpuRef::new(d, 0)) as f64;
        let b = sim.observed(VcpuRef::new(d, 1)) as f64;
        assert!((0.9..=1.1).contains(&(a / b)), "dom {d}: {a} vs {b}");
    }
}

#[test]
fn bursty_vcpu_is_served_promptly_and_fully_beside_hogs() {
    let mut sim = Sim::new(1);
    let io = Behaviour::Bursty {
        run_ns: MS / 2,
        sleep_ns: 5 * MS,
    };
    sim.domain(1, 256, 0, &[Behaviour::Hog]);
    sim.domain(2, 256, 0, &[Behaviour::Hog]);
    sim.domain(3, 256, 0, &[io]);
    sim.run_until(10 * SEC);
    sim.check_accounting();
    // It wants 0.5 of every 5.5 ms and, boosted, gets it.
    let s = share(&sim, 3, 1);
    assert!((0.085..=0.092).contains(&s), "share {s}");
    // It waits at most the rate limit (1 ms) for a hog to be preempted.
    let lat = sim.max_latency(VcpuRef::new(3, 0));
    assert!(lat <= MS, "latency {lat}");
    let hogs = sim.observed_dom(1) as f64 / sim.observed_dom(2) as f64;
    assert!((0.9..=1.1).contains(&hogs), "hogs {hogs}");
}
