//! Carrying out the credit scheduler's decisions: switching the CPU between domains, and idling.
//!
//! Every switch starts from the complete register frame of the vCPU that stops (an exception's
//! or the timer's frame, or a hypercall's once the entry stub has filled in the callee-saved
//! registers) and never returns: the frame is overwritten with the next vCPU's registers and
//! left through the checked exit path. What a vCPU keeps in the CPU besides its registers is
//! saved and loaded here: its page-table root and guest mode, its data selectors and FS/GS
//! bases, its FPU, its GDT frames (the per-vCPU area is shared by all guests and remapped) and
//! its LDT (whose lazily mapped pages are dropped when it leaves).

use alloc::boxed::Box;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hypercall_abi::domid::DomId;
use xen_core::desc_tables::MAX_GDT_FRAMES;
use xen_core::guest_regs::GuestRegs;
use xen_core::mm::page_type::Mm;
use xen_core::sched::credit::Scheduler;
use xen_core::sched::entity::VcpuRef;

use crate::arch::x86_64::entry::GUEST_USER_MODE;
use crate::arch::x86_64::{apic, context, fpu, gdt, paging, timer_irq, tsc};
use crate::descriptors;
use crate::domain::Domain;
use crate::event_glue;
use crate::hypervisor::{HV, Hypervisor};
use crate::time_glue;
use hypercall_abi::event_channel::VIRQ_DOM_EXC;
use xen_core::time::runstate::RunState;

/// The physical CPU xen-core runs on.
const CPU: usize = 0;

/// The vCPU of domain `id` as the scheduler names it.
pub fn vcpu_of(id: DomId) -> VcpuRef {
    VcpuRef::new(id, 0)
}

/// Tells the scheduler whether `dom`'s vCPU can run, if that changed. Returns whether the CPU
/// should reschedule (the domain stopped while running, or woke with a better priority).
/// A woken vCPU asks for the CPU: the next timer interrupt (armed at once) reschedules.
pub fn sync_runnable(sched: &mut Scheduler, dom: &mut Domain) -> bool {
    let can_run = dom.can_run();
    if can_run == dom.sched_runnable {
        return false;
    }
    dom.sched_runnable = can_run;
    let v = vcpu_of(dom.id);
    let mask = if can_run {
        sched.wake(v)
    } else {
        sched.block(v)
    };
    let resched = mask.is_ok_and(|m| m.contains(CPU));
    if resched && can_run {
        RESCHED.store(true, Ordering::Relaxed);
        // A hypercall that reschedules on its own way out needs no interrupt for it (one
        // armed now would be taken after the switch, for nothing).
        if !EXIT_CHECKS_RESCHED.load(Ordering::Relaxed) {
            apic::set_deadline(tsc::now_ns());
        }
    }
    resched
}

/// Set while a hypercall runs whose exit reschedules when [`resched_pending`] (see
/// [`with_resched_on_exit`]).
static EXIT_CHECKS_RESCHED: AtomicBool = AtomicBool::new(false);

/// Runs `f`, a hypercall whose caller switches on its way out when a wake asked for it: the
/// wake then arms no timer interrupt to force the switch. (Should the switch not happen,
/// [`other_deadline`] is 0 while the request is pending, so the next arming fires at once.)
pub fn with_resched_on_exit<T>(f: impl FnOnce() -> T) -> T {
    EXIT_CHECKS_RESCHED.store(true, Ordering::Relaxed);
    let out = f();
    EXIT_CHECKS_RESCHED.store(false, Ordering::Relaxed);
    out
}

/// Wakes `dom` (not running) when an event it waits for arrived: an upcall that became
/// pending ends SCHEDOP_block, a listed port that became pending ends SCHEDOP_poll.
pub fn kick(sched: &mut Scheduler, dom: &mut Domain) {
    wake_check(sched, dom, false);
}

/// Ends `dom`'s block or poll when its wake condition holds (`poll_timed_out`: its poll
/// timeout passed), then tells the scheduler.
fn wake_check(sched: &mut Scheduler, dom: &mut Domain, poll_timed_out: bool) {
    dom.event_kick = false;
    dom.poll_wake = false;
    if dom.blocked {
        let upcall = time_glue::upcall_pending(dom);
        let wake = match &dom.time.poll {
            Some(wait) => wait.wakes(|p| time_glue::port_pending(dom, p), upcall, poll_timed_out),
            None => upcall,
        };
        if wake {
            dom.blocked = false;
            if dom.time.poll.take().is_some() {
                dom.time.timers.set_poll_timeout(None);
            }
        }
    }
    sync_runnable(sched, dom);
}

/// Set when a wake asked this CPU to reschedule; the next timer interrupt from a guest does.
static RESCHED: AtomicBool = AtomicBool::new(false);

/// Whether a wake asked this CPU to reschedule (the next decision clears it).
pub fn resched_pending() -> bool {
    RESCHED.load(Ordering::Relaxed)
}

/// The earliest deadline besides the running vCPU's own timers: the slice and the scheduler
/// tick (when another vCPU waits), and the timers of vCPUs off the CPU. Set at each decision.
static OTHER_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);

/// When the APIC must fire at the latest for the scheduler and the vCPUs off the CPU; 0 (at
/// once) while a wake waits for a reschedule. `time_glue::arm` adds the running vCPU's timers.
pub fn other_deadline() -> u64 {
    if RESCHED.load(Ordering::Relaxed) {
        0
    } else {
        OTHER_DEADLINE.load(Ordering::Relaxed)
    }
}

/// Computes [`other_deadline`] from the scheduler and every domain but the running one. An
/// uncapped vCPU alone runs without scheduler ticks (so single-domain runs see only its own
/// timers); a capped one is ticked (charged as it runs), and while a vCPU is parked the ticks
/// go on, idle or not, for the accounting that unparks it (`Scheduler::needs_tick`).
fn refresh_other_deadline(hv: &Hypervisor) {
    let mut deadline = u64::MAX;
    if hv.sched.needs_tick(CPU) {
        deadline = hv.slice_end.min(hv.sched.next_tick_ns(CPU));
    }
    for (_, d) in hv.domains.iter() {
        if !d.dying
            && let Some(t) = d.time.timers.next_deadline(false)
        {
            deadline = deadline.min(t);
        }
    }
    OTHER_DEADLINE.store(deadline, Ordering::Relaxed);
}

/// What to do after a decision.
enum Next {
    /// Keep running the current vCPU.
    Same,
    /// The current vCPU left the CPU (if any) and this one came on: run it.
    Switched,
    /// Nothing can run: wait for an interrupt.
    Idle,
}

/// Stops the running vCPU (its complete frame is `regs`), lets the scheduler choose, and
/// runs its choice, idling until there is one. Never returns.
pub fn reschedule(regs: &mut GuestRegs) -> ! {
    loop {
        let next = HV.with(|hv| {
            let Some(hv) = hv.as_mut() else {
                panic!("scheduling before the hypervisor state exists");
            };
            decide(hv, regs)
        });
        match next {
            Next::Same | Next::Switched => crate::trap_entry::enter_guest(regs),
            Next::Idle => timer_irq::idle_wait(),
        }
    }
}

/// The syscall stub's exit code 2: a hypercall (or a bounced user `syscall`) stopped the vCPU,
/// and the stub has completed the frame with the callee-saved registers.
pub extern "C" fn from_hypercall(regs: &mut GuestRegs) -> ! {
    // The frame is complete now: every exit restores all of it.
    regs.entry_vector = 0;
    reschedule(regs)
}

/// Called on a timer interrupt from a guest (`regs` is its complete frame), after the running
/// vCPU's own timers ran: the scheduler's tick, and a switch when the slice ran out, a better
/// vCPU is waiting, or a vCPU off the CPU has a timer due.
pub fn on_timer_from_guest(regs: &mut GuestRegs) {
    let now = tsc::now_ns();
    let resched = HV.with(|hv| {
        let Some(hv) = hv.as_mut() else {
            return false;
        };
        let mask = hv.sched.tick(CPU, now);
        let waiting = hv.sched.runqueue(CPU).next().is_some();
        let due = RESCHED.swap(false, Ordering::Relaxed)
            || mask.contains(CPU)
            || (waiting && now >= hv.slice_end)
            || now >= OTHER_DEADLINE.load(Ordering::Relaxed);
        if !due {
            refresh_other_deadline(hv);
            if let Some(cur) = hv.current.as_deref() {
                time_glue::arm(cur, true);
            }
        }
        due
    });
    if resched {
        reschedule(regs)
    }
}

fn decide(hv: &mut Hypervisor, regs: &mut GuestRegs) -> Next {
    let now = tsc::now_ns();
    // Accounting only: the decision below is taken anyway.
    let _ = hv.sched.tick(CPU, now);
    // Serial input that arrived while the CPU idled wakes the hardware domain (before the
    // reschedule request its wake makes is cleared: this decision serves it).
    crate::console_input::notify(hv);
    crate::pirq_glue::notify(hv);
    RESCHED.store(false, Ordering::Relaxed);
    // Timers that came due: the running vCPU's (its periodic tick only while it runs on) and
    // those of the vCPUs off the CPU, which may wake them.
    if let Some(cur) = hv.current.as_deref_mut() {
        let passed = time_glue::expire(cur, now, !cur.blocked);
        wake_check(&mut hv.sched, cur, passed.poll_timed_out);
    }
    for (_, d) in hv.domains.iter_mut() {
        if !d.dying {
            let passed = time_glue::expire(d, now, false);
            wake_check(&mut hv.sched, d, passed.poll_timed_out);
        }
    }
    let shut_down = hv.current.as_deref_mut().is_some_and(|cur| {
        cur.shutdown_code.is_some() && !core::mem::replace(&mut cur.dom_exc_sent, true)
    });
    if shut_down {
        // It stops for good: the hardware domain hears of it (Xen's VIRQ_DOM_EXC).
        switch_out(hv, regs);
        notify_dom_exc(hv);
    }
    let decision = hv.sched.schedule(CPU, now);
    hv.slice_end = decision.deadline(now);
    let next = decision.next.map(|v| v.domid);
    let current = hv.current.as_ref().map(|d| d.id);
    if next.is_some() && next == current {
        refresh_other_deadline(hv);
        if let Some(cur) = hv.current.as_deref() {
            time_glue::arm(cur, true);
        }
        return Next::Same;
    }
    if current.is_some() {
        switch_out(hv, regs);
    }
    refresh_other_deadline(hv);
    match next.and_then(|id| hv.domains.take(id)) {
        Some(dom) => {
            switch_in(hv, dom, regs);
            Next::Switched
        }
        None => {
            match other_deadline() {
                u64::MAX => apic::cancel_deadline(),
                deadline => apic::set_deadline(deadline),
            }
            Next::Idle
        }
    }
}

/// Raises VIRQ_DOM_EXC in the hardware domain (a domain shut down or was destroyed) and wakes
/// it if it waits for that.
pub fn notify_dom_exc(hv: &mut Hypervisor) {
    let target = match hv.current.as_deref_mut() {
        Some(cur) if cur.is_hardware() => Some(cur),
        _ => hv
            .domains
            .iter_mut()
            .find(|(_, d)| d.is_hardware())
            .map(|(_, d)| d),
    };
    if let Some(dom) = target {
        event_glue::send_global_virq_to(dom, VIRQ_DOM_EXC);
        kick(&mut hv.sched, dom);
    }
}

/// Saves what the running vCPU keeps in the CPU and puts its domain back in the table.
fn switch_out(hv: &mut Hypervisor, regs: &GuestRegs) {
    let Some(mut dom) = hv.current.take() else {
        return;
    };
    dom.regs = *regs;
    let state = if dom.blocked {
        RunState::Blocked
    } else {
        RunState::Runnable
    };
    time_glue::schedule_out(&mut dom, state);
    dom.seg = context::save();
    fpu::save(&mut dom.vcpu.fpu);
    // The LDT area is shared by every guest: this vCPU's pages map again on first use.
    {
        let (mut mem, frames) = hv.memory();
        let mut mm = Mm::new(frames, &mut mem);
        descriptors::destroy_ldt(&mut mm, &mut dom);
    }
    let id = dom.id;
    if let Err(dom) = hv.domains.put_back(id, dom) {
        // Its slot was reserved when it came on: not reached. Keep it running rather than lose it.
        hv.current = Some(dom);
    }
}

/// Loads `dom`'s vCPU state into the CPU and makes it the running domain; `regs` becomes its
/// frame.
fn switch_in(hv: &mut Hypervisor, mut dom: Box<Domain>, regs: &mut GuestRegs) {
    let desc = &dom.vcpu.desc;
    for page in 0..MAX_GDT_FRAMES {
        let frame = (page < desc.gdt_frame_count).then(|| desc.gdt_frames[page]);
        gdt::map_gdt_page(page, frame);
    }
    gdt::load_ldt(desc.ldt_entries);
    GUEST_USER_MODE.store(!dom.vcpu.kernel_mode, Ordering::Relaxed);
    paging::load_guest_l4(dom.vcpu.current_l4());
    context::restore(&dom.seg);
    fpu::load(&mut dom.vcpu.fpu);
    *regs = dom.regs;
    crate::event_glue::load_vcpu(&dom);
    // Its runstate, a tick it is owed, a fresh time record, and the APIC armed for it.
    time_glue::schedule_in(&mut dom);
    hv.current = Some(dom);
}
