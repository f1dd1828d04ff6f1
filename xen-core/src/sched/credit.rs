//! The credit scheduler (Xen's credit1, `common/sched/credit.c`) as a state machine driven
//! by the caller with the time in ns.
//!
//! The caller holds the `Scheduler` under its lock and, per physical CPU:
//! - calls [`Scheduler::tick`] at least every [`Scheduler::tick_period_ns`] (calling it
//!   earlier is harmless: it acts only once [`Scheduler::next_tick_ns`] has passed);
//! - calls [`Scheduler::schedule`] when the slice of the last [`Decision`] has run out, or when
//!   a returned [`CpuMask`] names the CPU, and then runs the chosen vCPU (or idles);
//! - reports wakes and blocks (including pause and unpause) with [`Scheduler::wake`] and
//!   [`Scheduler::block`], and acts on the [`CpuMask`] they return.
//!
//! Behaviour kept from Xen: priorities BOOST > UNDER > OVER > idle; a vCPU waking with UNDER
//! priority gets BOOST until a tick finds it running; credits burn at 10 per ms of real run
//! time and are handed out every time slice by weight and cap ([`super::account`]); a capped
//! vCPU in debt is parked until its credits recover; the run queue is ordered by priority then
//! FIFO, a yielding vCPU goes behind one lower-priority vCPU; a vCPU that has run less than the
//! rate limit (1 ms) is not preempted unless it yields or stops being runnable; a CPU whose
//! best choice is OVER or idle takes a better vCPU from a busy CPU's queue; a wake asks the
//! vCPU's CPU to reschedule when it idles, else an idle CPU (which takes the vCPU), else the
//! vCPU's CPU again when the woken vCPU beats what runs there.
//!
//! Differences from Xen, chosen: credits burn exactly 1 per 100 us of run time (the Xen
//! source read keeps the leftover fraction both in `start_time` and in `residual`); the
//! rate-limited slice is never shorter than 100 us (Xen compares the run time, not the slice,
//! with that floor); missed ticks are not replayed (one tick and at most one accounting per
//! call); run time is counted to the ns; the run queues are re-sorted right after accounting
//! rather than at each CPU's next tick; a woken vCPU stays on its CPU's queue and idle CPUs
//! take it from there (no `res_pick`, affinity, cache-hot delay or SMT awareness); the tick
//! does not migrate a running vCPU; ticks on an idle CPU are harmless (Xen stops them).

use alloc::vec::Vec;

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;

use super::account::Accounting;
use super::cpumask::{CpuMask, MAX_PCPUS};
use super::entity::{SchedDom, SchedVcpu, VcpuRef};
use super::params::{DomParams, NS_PER_US, RATELIMIT_MIN_US, Timing};
use super::priority::Priority;
use super::runq::RunQueue;

/// What a physical CPU runs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The vCPU to run; `None` means idle.
    pub next: Option<VcpuRef>,
    /// How long before calling `schedule` again, in ns; `u64::MAX` (no deadline) when idle.
    pub slice_ns: u64,
}

impl Decision {
    /// The instant the slice ends, for a decision taken at `now`.
    pub fn deadline(&self, now: u64) -> u64 {
        now.saturating_add(self.slice_ns)
    }
}

/// One physical CPU's state.
#[derive(Clone, Debug)]
struct Pcpu {
    current: Option<VcpuRef>,
    runq: RunQueue,
    next_tick_ns: u64,
}

/// The credit scheduler for a fixed set of physical CPUs.
#[derive(Clone, Debug)]
pub struct Scheduler {
    timing: Timing,
    doms: Vec<SchedDom>,
    pcpus: Vec<Pcpu>,
    acct: Accounting,
    next_acct_ns: u64,
    nr_vcpus: usize,
    last_tickled: usize,
}

/// Looks up `v`'s priority in `doms` (idle for an unknown vCPU).
fn pri_in(doms: &[SchedDom], v: VcpuRef) -> Priority {
    doms.binary_search_by_key(&v.domid, |d| d.domid)
        .ok()
        .and_then(|i| doms.get(i))
        .and_then(|d| d.vcpu(v.vcpu))
        .map_or(Priority::Idle, |s| s.pri)
}

impl Scheduler {
    /// A scheduler for CPUs `0..nr_pcpus` (1..=64; other values are clamped), with Xen's
    /// default slice and rate limit, at time 0.
    pub fn new(nr_pcpus: usize) -> Self {
        let timing = Timing::default();
        let n = nr_pcpus.clamp(1, MAX_PCPUS);
        let pcpus = (0..n)
            .map(|_| Pcpu {
                current: None,
                runq: RunQueue::new(),
                next_tick_ns: timing.tick_period_ns(),
            })
            .collect();
        Scheduler {
            timing,
            doms: Vec::new(),
            pcpus,
            acct: Accounting::new(),
            next_acct_ns: timing.tslice_ns(),
            nr_vcpus: 0,
            last_tickled: 0,
        }
    }

    /// Number of physical CPUs.
    pub fn nr_pcpus(&self) -> usize {
        self.pcpus.len()
    }

    // ---- domains and vCPUs ------------------------------------------------------------

    fn dom_index(&self, domid: DomId) -> Result<usize, Errno> {
        self.doms
            .binary_search_by_key(&domid, |d| d.domid)
            .map_err(|_| Errno::Srch)
    }

    fn vcpu(&self, v: VcpuRef) -> Result<&SchedVcpu, Errno> {
        let d = self.dom_index(v.domid)?;
        self.doms[d].vcpu(v.vcpu).ok_or(Errno::NoEnt)
    }

    fn vcpu_mut(&mut self, v: VcpuRef) -> Result<&mut SchedVcpu, Errno> {
        let d = self.dom_index(v.domid)?;
        self.doms[d].vcpu_mut(v.vcpu).ok_or(Errno::NoEnt)
    }

    /// Adds a domain with `weight` (1..=65535) and `cap` (percent of one CPU, 0 = none).
    /// `Errno::Inval` for bad parameters, `Errno::Exist` when known, `Errno::NoMem`.
    pub fn add_domain(&mut self, domid: DomId, weight: u32, cap: u32) -> Result<(), Errno> {
        let params = DomParams::new(weight, cap)?;
        let at = match self.doms.binary_search_by_key(&domid, |d| d.domid) {
            Ok(_) => return Err(Errno::Exist),
            Err(at) => at,
        };
        self.doms.try_reserve(1).map_err(|_| Errno::NoMem)?;
        self.acct.reserve_for(self.doms.len() + 1)?;
        self.doms.insert(at, SchedDom::new(domid, params));
        Ok(())
    }

    /// Adds vCPU `vcpu` to domain `domid`. It starts blocked: `wake` makes it runnable.
    /// `Errno::Srch` for an unknown domain, `Errno::Exist` when known, `Errno::NoMem`.
    pub fn add_vcpu(&mut self, domid: DomId, vcpu: u32) -> Result<(), Errno> {
        let d = self.dom_index(domid)?;
        let slot = match self.doms[d].vcpu_slot(vcpu) {
            Ok(_) => return Err(Errno::Exist),
            Err(slot) => slot,
        };
        let total = self.nr_vcpus + 1;
        for p in self.pcpus.iter_mut() {
            p.runq.reserve_for(total)?;
        }
        self.doms[d]
            .vcpus
            .try_reserve(1)
            .map_err(|_| Errno::NoMem)?;
        // The CPU with the fewest vCPUs, lowest first.
        let mut load = [0usize; MAX_PCPUS];
        for v in self.doms.iter().flat_map(|d| d.vcpus.iter()) {
            if let Some(n) = load.get_mut(v.cpu) {
                *n += 1;
            }
        }
        let cpu = (0..self.pcpus.len()).min_by_key(|&c| load[c]).unwrap_or(0);
        self.doms[d].vcpus.insert(slot, SchedVcpu::new(vcpu, cpu));
        self.nr_vcpus = total;
        Ok(())
    }

    /// Removes a vCPU, running or not, counting its run time up to `now` into its domain's.
    /// Returns the CPU that was running it (it must schedule at once).
    pub fn remove_vcpu(&mut self, v: VcpuRef, now: u64) -> Result<CpuMask, Errno> {
        let d = self.dom_index(v.domid)?;
        let slot = self.doms[d].vcpu_slot(v.vcpu).map_err(|_| Errno::NoEnt)?;
        let mut resched = CpuMask::empty();
        let cpu = self.doms[d].vcpus[slot].cpu;
        if let Some(p) = self.pcpus.get_mut(cpu) {
            if p.current == Some(v) {
                self.doms[d].vcpus[slot].charge(now);
                p.current = None;
                resched.insert(cpu);
            }
            p.runq.remove(v);
        }
        self.acct.stop(&mut self.doms[d], slot);
        let gone = self.doms[d].vcpus.remove(slot);
        let dom = &mut self.doms[d];
        dom.retired_ns = dom.retired_ns.saturating_add(gone.runtime_ns);
        self.nr_vcpus = self.nr_vcpus.saturating_sub(1);
        Ok(resched)
    }

    /// Removes a domain and all its vCPUs. Returns the CPUs that were running them.
    pub fn remove_domain(&mut self, domid: DomId, now: u64) -> Result<CpuMask, Errno> {
        let d = self.dom_index(domid)?;
        let mut resched = CpuMask::empty();
        while let Some(id) = self.doms[d].vcpus.last().map(|v| v.id) {
            resched = resched.union(self.remove_vcpu(VcpuRef::new(domid, id), now)?);
        }
        self.acct.forget(domid);
        self.doms.remove(d);
        Ok(resched)
    }

    /// Sets a domain's weight (1..=65535) and cap (0..=65534, 0 = none); `Errno::Inval`
    /// changes nothing. Takes effect at the next accounting.
    pub fn set_params(&mut self, domid: DomId, weight: u32, cap: u32) -> Result<(), Errno> {
        let params = DomParams::new(weight, cap)?;
        let d = self.dom_index(domid)?;
        self.doms[d].params = params;
        Ok(())
    }

    /// Applies the 16-bit fields of `XEN_DOMCTL_SCHEDOP_putinfo`: weight 0 and cap 0xFFFF
    /// leave that field unchanged.
    pub fn putinfo(&mut self, domid: DomId, weight: u16, cap: u16) -> Result<(), Errno> {
        let d = self.dom_index(domid)?;
        let p = self.doms[d].params.with_domctl(weight, cap);
        self.set_params(domid, p.weight, p.cap)
    }

    /// A domain's weight and cap.
    pub fn get_params(&self, domid: DomId) -> Result<DomParams, Errno> {
        Ok(self.doms[self.dom_index(domid)?].params)
    }

    /// Sets the time slice (1..=1000 ms) and rate limit (0 or 100..=500000 us, not above the
    /// slice), as `XEN_SYSCTL_SCHEDOP_putinfo` does; `Errno::Inval` changes nothing.
    pub fn set_timing(&mut self, tslice_ms: u32, ratelimit_us: u32) -> Result<(), Errno> {
        self.timing = Timing::new(tslice_ms, ratelimit_us)?;
        Ok(())
    }

    /// The time slice and rate limit.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    // ---- state changes ------------------------------------------------------------------

    /// Priority of `v` as the run queues see it.
    fn pri(&self, v: VcpuRef) -> Priority {
        pri_in(&self.doms, v)
    }

    /// Queues `v` (eligible, not running, not queued) on its CPU.
    fn enqueue(&mut self, v: VcpuRef) {
        let Ok(s) = self.vcpu(v) else { return };
        let (cpu, pri, yielding) = (s.cpu, s.pri, s.yielding);
        let Some(p) = self.pcpus.get_mut(cpu) else {
            return;
        };
        let doms = &self.doms;
        p.runq.insert(v, pri, yielding, |w| pri_in(doms, w));
        if let Ok(s) = self.vcpu_mut(v) {
            s.on_runq = true;
        }
    }

    /// Takes `v` off its CPU's queue if it is there.
    fn dequeue(&mut self, v: VcpuRef) {
        let Ok(s) = self.vcpu_mut(v) else { return };
        if !s.on_runq {
            return;
        }
        s.on_runq = false;
        let cpu = s.cpu;
        if let Some(p) = self.pcpus.get_mut(cpu) {
            p.runq.remove(v);
        }
    }

    /// Which CPUs should reschedule now that `v` was queued (Xen's `__runq_tickle`): its own
    /// CPU when that idles or runs something of lower priority while no CPU idles, else one
    /// idle CPU (which takes `v` from the queue).
    fn tickle(&mut self, v: VcpuRef) -> CpuMask {
        let Ok(s) = self.vcpu(v) else {
            return CpuMask::empty();
        };
        let (cpu, pri) = (s.cpu, s.pri);
        let Some(cur) = self.pcpus.get(cpu).map(|p| p.current) else {
            return CpuMask::empty();
        };
        let cur_pri = cur.map_or(Priority::Idle, |c| self.pri(c));
        let n = self.pcpus.len();
        let idler = (1..=n)
            .map(|k| (self.last_tickled + k) % n)
            .find(|&c| self.pcpus[c].current.is_none());
        if cur.is_none() {
            return CpuMask::only(cpu);
        }
        match idler {
            Some(c) => {
                self.last_tickled = c;
                CpuMask::only(c)
            }
            None if pri > cur_pri => CpuMask::only(cpu),
            None => CpuMask::empty(),
        }
    }

    /// `v` became runnable (woken by an event, unpaused, brought up). A vCPU that wakes with
    /// UNDER priority gets BOOST. Returns the CPUs that should reschedule.
    pub fn wake(&mut self, v: VcpuRef) -> Result<CpuMask, Errno> {
        let running = self.is_running(v)?;
        let s = self.vcpu_mut(v)?;
        s.runnable = true;
        if running || s.on_runq || s.parked {
            return Ok(CpuMask::empty());
        }
        if s.pri == Priority::Under {
            s.pri = Priority::Boost;
        }
        self.enqueue(v);
        Ok(self.tickle(v))
    }

    /// `v` can no longer run (blocked, paused, down). Returns its CPU when it is running
    /// there: that CPU must schedule.
    pub fn block(&mut self, v: VcpuRef) -> Result<CpuMask, Errno> {
        let running = self.is_running(v)?;
        let s = self.vcpu_mut(v)?;
        s.runnable = false;
        let cpu = s.cpu;
        self.dequeue(v);
        Ok(if running {
            CpuMask::only(cpu)
        } else {
            CpuMask::empty()
        })
    }

    /// `v` yields: at its CPU's next schedule it goes behind one lower-priority vCPU, and the
    /// rate limit does not hold it. Returns its CPU when it is running there.
    pub fn yield_(&mut self, v: VcpuRef) -> Result<CpuMask, Errno> {
        let running = self.is_running(v)?;
        let s = self.vcpu_mut(v)?;
        s.yielding = true;
        Ok(if running {
            CpuMask::only(s.cpu)
        } else {
            CpuMask::empty()
        })
    }

    // ---- time -----------------------------------------------------------------------------

    /// The per-CPU tick period in ns (10 ms by default).
    pub fn tick_period_ns(&self) -> u64 {
        self.timing.tick_period_ns()
    }

    /// When `cpu`'s next tick is due (`u64::MAX` for an unknown CPU).
    pub fn next_tick_ns(&self, cpu: usize) -> u64 {
        self.pcpus.get(cpu).map_or(u64::MAX, |p| p.next_tick_ns)
    }

    /// Whether `cpu` needs its periodic ticks now (a caller may skip them otherwise, so that a
    /// lone vCPU runs undisturbed): a vCPU waits in its queue (slices and priorities need
    /// them), the vCPU running there belongs to a capped domain (its run time must be charged
    /// as it runs, or the cap is seen late), or, on CPU 0 which does the accounting, a vCPU is
    /// parked (only the accounting brings it back, even while the CPU idles).
    pub fn needs_tick(&self, cpu: usize) -> bool {
        let Some(p) = self.pcpus.get(cpu) else {
            return false;
        };
        let capped = p.current.is_some_and(|c| {
            self.dom_index(c.domid)
                .is_ok_and(|d| self.doms[d].params.cap != 0)
        });
        let parked = cpu == 0 && self.doms.iter().any(|d| d.vcpus.iter().any(|v| v.parked));
        p.runq.head().is_some() || capped || parked
    }

    /// `cpu`'s periodic tick; does nothing before `next_tick_ns(cpu)`. Charges the running
    /// vCPU (ending its boost and putting it on the active list) and, on CPU 0 once per time
    /// slice, hands out credits. Returns the CPUs that should reschedule (a parked vCPU
    /// running there, or an unparked one queued).
    pub fn tick(&mut self, cpu: usize, now: u64) -> CpuMask {
        let Some(p) = self.pcpus.get_mut(cpu) else {
            return CpuMask::empty();
        };
        if now < p.next_tick_ns {
            return CpuMask::empty();
        }
        let period = self.timing.tick_period_ns();
        p.next_tick_ns = next_deadline(p.next_tick_ns, period, now);
        if let Some(cur) = p.current
            && let Ok(d) = self.dom_index(cur.domid)
            && let Ok(slot) = self.doms[d].vcpu_slot(cur.vcpu)
        {
            let s = &mut self.doms[d].vcpus[slot];
            if s.pri == Priority::Boost {
                s.pri = Priority::Under;
            }
            s.charge(now);
            self.acct.start(&mut self.doms[d], slot);
        }
        let mut resched = CpuMask::empty();
        if cpu == 0 && now >= self.next_acct_ns {
            self.next_acct_ns = next_deadline(self.next_acct_ns, self.timing.tslice_ns(), now);
            resched = self.account();
        }
        resched
    }

    /// Runs the accounting, then brings the queues in line with parks and new priorities.
    fn account(&mut self) -> CpuMask {
        let changed = self.acct.run(
            &mut self.doms,
            self.timing.credits_per_tslice(),
            self.pcpus.len(),
        );
        let mut resched = CpuMask::empty();
        if changed {
            // Parks and unparks change neither the domains nor their vCPUs: indices hold.
            for d in 0..self.doms.len() {
                for slot in 0..self.doms[d].vcpus.len() {
                    let domid = self.doms[d].domid;
                    let s = &mut self.doms[d].vcpus[slot];
                    if !s.park_changed {
                        continue;
                    }
                    s.park_changed = false;
                    let v = VcpuRef::new(domid, s.id);
                    resched = resched.union(self.apply_park(v));
                }
            }
        }
        for p in self.pcpus.iter_mut() {
            let doms = &self.doms;
            p.runq.sort(|w| pri_in(doms, w));
        }
        resched
    }

    /// Parks or unparks `v` as its flag now says.
    fn apply_park(&mut self, v: VcpuRef) -> CpuMask {
        let running = self.is_running(v).unwrap_or(false);
        let Ok(s) = self.vcpu(v) else {
            return CpuMask::empty();
        };
        let (parked, runnable, on_runq, cpu) = (s.parked, s.runnable, s.on_runq, s.cpu);
        if parked {
            self.dequeue(v);
            if running {
                return CpuMask::only(cpu);
            }
        } else if runnable && !running && !on_runq {
            // Unparked: back in the queue at UNDER, without a boost.
            self.enqueue(v);
            return self.tickle(v);
        }
        CpuMask::empty()
    }

    /// Chooses what `cpu` runs from `now` on. The running vCPU is charged, kept when it has
    /// run less than the rate limit, and otherwise queued again if it can still run; the best
    /// queued vCPU is taken, or a better one from another busy CPU when the best here is OVER
    /// or nothing. Unknown CPUs idle.
    pub fn schedule(&mut self, cpu: usize, now: u64) -> Decision {
        let idle = Decision {
            next: None,
            slice_ns: u64::MAX,
        };
        let Some(cur) = self.pcpus.get(cpu).map(|p| p.current) else {
            return idle;
        };
        let limit = self.timing.ratelimit_ns();
        if let Some(c) = cur {
            if let Ok(s) = self.vcpu_mut(c) {
                s.charge(now);
                let ran = now.saturating_sub(s.ran_since);
                if !s.yielding && limit != 0 && s.eligible() && ran < limit {
                    let floor = u64::from(RATELIMIT_MIN_US) * NS_PER_US;
                    return Decision {
                        next: Some(c),
                        slice_ns: (limit - ran).max(floor),
                    };
                }
                let back = s.eligible();
                if back {
                    self.enqueue(c);
                }
                if let Ok(s) = self.vcpu_mut(c) {
                    s.yielding = false;
                }
            } else {
                self.pcpus[cpu].current = None;
            }
        }

        let head = self.pcpus[cpu].runq.head();
        let head_pri = head.map_or(Priority::Idle, |h| self.pri(h));
        let next = if head_pri > Priority::Over {
            head
        } else {
            self.steal(cpu, head_pri).or(head)
        };
        if let Some(n) = next {
            self.dequeue(n);
        }
        self.pcpus[cpu].current = next;
        match next {
            Some(n) => {
                if next != cur
                    && let Ok(s) = self.vcpu_mut(n)
                {
                    s.cpu = cpu;
                    s.start_running(now);
                }
                Decision {
                    next,
                    slice_ns: self.timing.tslice_ns(),
                }
            }
            None => idle,
        }
    }

    /// Takes a vCPU of priority above `floor` from another CPU that is busy (Xen's
    /// `csched_load_balance`, without affinity or cache-hot checks).
    fn steal(&mut self, cpu: usize, floor: Priority) -> Option<VcpuRef> {
        let n = self.pcpus.len();
        for k in 1..n {
            let peer = (cpu + k) % n;
            if self.pcpus[peer].current.is_none() {
                continue;
            }
            let doms = &self.doms;
            let got = self.pcpus[peer]
                .runq
                .steal_above(floor, |w| pri_in(doms, w), |_| true);
            if let Some(v) = got {
                if let Ok(s) = self.vcpu_mut(v) {
                    s.on_runq = false;
                    s.cpu = cpu;
                }
                return Some(v);
            }
        }
        None
    }

    // ---- queries --------------------------------------------------------------------------

    /// Is `v` running on its CPU?
    pub fn is_running(&self, v: VcpuRef) -> Result<bool, Errno> {
        let s = self.vcpu(v)?;
        Ok(self.pcpus.get(s.cpu).is_some_and(|p| p.current == Some(v)))
    }

    /// What `cpu` runs now (`None`: idle or unknown CPU).
    pub fn current(&self, cpu: usize) -> Option<VcpuRef> {
        self.pcpus.get(cpu).and_then(|p| p.current)
    }

    /// The CPU whose queue `v` belongs to (where it runs or last ran).
    pub fn vcpu_cpu(&self, v: VcpuRef) -> Result<usize, Errno> {
        Ok(self.vcpu(v)?.cpu)
    }

    /// `v`'s priority.
    pub fn priority(&self, v: VcpuRef) -> Result<Priority, Errno> {
        Ok(self.vcpu(v)?.pri)
    }

    /// `v`'s credits (negative: in debt).
    pub fn credit(&self, v: VcpuRef) -> Result<i64, Errno> {
        Ok(self.vcpu(v)?.credit)
    }

    /// Is `v` held back by its domain's cap?
    pub fn is_parked(&self, v: VcpuRef) -> Result<bool, Errno> {
        Ok(self.vcpu(v)?.parked)
    }

    /// The vCPUs queued on `cpu`, first to run first.
    pub fn runqueue(&self, cpu: usize) -> impl Iterator<Item = VcpuRef> + '_ {
        self.pcpus.get(cpu).into_iter().flat_map(|p| p.runq.iter())
    }

    /// Time `v` has run up to `now`, in ns (`xl vcpu-list`'s Time).
    pub fn vcpu_runtime_ns(&self, v: VcpuRef, now: u64) -> Result<u64, Errno> {
        let running = self.is_running(v)?;
        Ok(self.vcpu(v)?.runtime_at(now, running))
    }

    /// Time all of the domain's vCPUs, removed ones included, have run up to `now`, in ns
    /// (`getdomaininfo`'s `cpu_time`).
    pub fn domain_runtime_ns(&self, domid: DomId, now: u64) -> Result<u64, Errno> {
        let dom = &self.doms[self.dom_index(domid)?];
        let mut total = dom.retired_ns;
        for s in &dom.vcpus {
            let v = VcpuRef::new(domid, s.id);
            let running = self.pcpus.get(s.cpu).is_some_and(|p| p.current == Some(v));
            total = total.saturating_add(s.runtime_at(now, running));
        }
        Ok(total)
    }

    /// The domains, by id.
    pub fn domains(&self) -> impl Iterator<Item = DomId> + '_ {
        self.doms.iter().map(|d| d.domid)
    }

    /// A domain's vCPU numbers, in order.
    pub fn vcpus(&self, domid: DomId) -> Result<impl Iterator<Item = u32> + '_, Errno> {
        Ok(self.doms[self.dom_index(domid)?].vcpus.iter().map(|v| v.id))
    }
}

/// The next periodic deadline after `now`: one `period` on from `deadline`, or a whole
/// period from `now` when more than one was missed.
fn next_deadline(deadline: u64, period: u64, now: u64) -> u64 {
    let next = deadline.saturating_add(period);
    if next > now {
        next
    } else {
        now.saturating_add(period)
    }
}
