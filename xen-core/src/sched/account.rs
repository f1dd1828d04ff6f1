//! Credit accounting: the active lists and the periodic hand-out of credits (`csched_acct`).
//!
//! Every accounting period (one time slice, 30 ms by default) each CPU's worth of credits
//! (10 per ms) is shared among the active domains in proportion to weight times active vCPUs,
//! limited by each domain's cap and by one period's worth per vCPU (credits a domain cannot
//! use go to the domains after it). Each active vCPU then gets its domain's share, divided
//! evenly; its priority becomes UNDER (credits >= 0) or OVER. A capped vCPU more than its cap
//! in debt is parked until its credits are back to zero; credits are kept within one period's
//! worth below zero; a vCPU holding more than one period's worth leaves the active list with
//! half of them (it has been idle). A vCPU joins the active list again at a tick that finds
//! it running.

use alloc::vec::Vec;

use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;

use super::entity::SchedDom;
use super::priority::Priority;

/// The active lists and the system-wide credit balance.
#[derive(Clone, Debug, Default)]
pub struct Accounting {
    /// Domains with active vCPUs, in Xen's list order (new and "extra credit" ones at the head).
    active_doms: Vec<DomId>,
    /// Sum of the active vCPUs' credits after the last accounting.
    credit_balance: i64,
}

/// Finds domain `domid` in `doms` (sorted by id).
fn find(doms: &mut [SchedDom], domid: DomId) -> Option<&mut SchedDom> {
    let i = doms.binary_search_by_key(&domid, |d| d.domid).ok()?;
    doms.get_mut(i)
}

impl Accounting {
    /// No active domain.
    pub const fn new() -> Self {
        Accounting {
            active_doms: Vec::new(),
            credit_balance: 0,
        }
    }

    /// Makes room for `domains` active domains so that `start` never allocates.
    pub fn reserve_for(&mut self, domains: usize) -> Result<(), Errno> {
        let more = domains.saturating_sub(self.active_doms.len());
        self.active_doms.try_reserve(more).map_err(|_| Errno::NoMem)
    }

    /// The active domains, in list order.
    pub fn active_domains(&self) -> &[DomId] {
        &self.active_doms
    }

    /// The credit balance after the last accounting.
    pub fn credit_balance(&self) -> i64 {
        self.credit_balance
    }

    /// Puts vCPU number `slot` of `dom` on the active list (no-op when it is already there).
    pub fn start(&mut self, dom: &mut SchedDom, slot: usize) {
        let Some(v) = dom.vcpus.get_mut(slot) else {
            return;
        };
        if v.active {
            return;
        }
        v.active = true;
        dom.active_count += 1;
        if !self.active_doms.contains(&dom.domid) {
            self.active_doms.insert(0, dom.domid);
        }
    }

    /// Takes vCPU number `slot` of `dom` off the active list (no-op when it is not there).
    pub fn stop(&mut self, dom: &mut SchedDom, slot: usize) {
        let Some(v) = dom.vcpus.get_mut(slot) else {
            return;
        };
        if !v.active {
            return;
        }
        v.active = false;
        dom.active_count = dom.active_count.saturating_sub(1);
        if dom.active_count == 0 {
            self.active_doms.retain(|&d| d != dom.domid);
        }
    }

    /// Forgets a domain that goes away.
    pub fn forget(&mut self, domid: DomId) {
        self.active_doms.retain(|&d| d != domid);
    }

    /// One accounting period: hands out `credits_per_tslice * ncpus` credits among the
    /// active vCPUs of `doms` (sorted by id). Returns whether a vCPU was parked or unparked
    /// (its `park_changed` is set).
    pub fn run(&mut self, doms: &mut [SchedDom], credits_per_tslice: i64, ncpus: usize) -> bool {
        let cpt = credits_per_tslice;
        let prev_balance = self.credit_balance;
        let weight_total: i64 = self
            .active_doms
            .iter()
            .filter_map(|&id| {
                let i = doms.binary_search_by_key(&id, |d| d.domid).ok()?;
                let d = doms.get(i)?;
                Some(i64::from(d.params.weight) * i64::from(d.active_count))
            })
            .sum();
        let ncpus = i64::try_from(ncpus).unwrap_or(i64::MAX);
        let mut credit_total = cpt.saturating_mul(ncpus);
        if prev_balance < 0 {
            credit_total = credit_total.saturating_sub(prev_balance);
        }
        if weight_total == 0 {
            self.credit_balance = 0;
            return false;
        }

        let mut weight_left = weight_total;
        let mut balance = 0i64;
        let mut extra = false;
        let mut parks_changed = false;
        let mut i = 0;
        while i < self.active_doms.len() {
            let domid = self.active_doms[i];
            let Some(dom) = find(doms, domid) else {
                self.active_doms.remove(i);
                continue;
            };
            let n = i64::from(dom.active_count.max(1));
            let weight = i64::from(dom.params.weight);
            let cap = i64::from(dom.params.cap);
            weight_left -= weight * n;

            // At most one period per active vCPU, more only to pay back a negative balance.
            let mut peak = n * cpt;
            if prev_balance < 0 {
                peak += (-prev_balance * weight * n + weight_total - 1) / weight_total;
            }
            let mut vcpu_cap = 0;
            if cap != 0 {
                let dom_cap = (cap * cpt + 99) / 100;
                peak = peak.min(dom_cap);
                vcpu_cap = (dom_cap + n - 1) / n;
            }
            let mut fair = (credit_total * weight * n + weight_total - 1) / weight_total;
            let mut pos = i;
            if fair < peak {
                extra = true;
            } else {
                if weight_left > 0 {
                    // What this domain cannot use goes to the ones after it.
                    credit_total += ((fair - peak) * weight_total + weight_left - 1) / weight_left;
                }
                if extra {
                    // Keep domains that could take more near the head.
                    self.active_doms.remove(i);
                    self.active_doms.insert(0, domid);
                    pos = 0;
                }
                fair = peak;
            }
            let per_vcpu = (fair + n - 1) / n;

            for slot in 0..dom.vcpus.len() {
                let Some(v) = dom.vcpus.get_mut(slot) else {
                    break;
                };
                if !v.active {
                    continue;
                }
                v.credit = v.credit.saturating_add(per_vcpu);
                if v.credit < 0 {
                    v.pri = Priority::Over;
                    if cap != 0 && v.credit < -vcpu_cap && !v.parked {
                        v.parked = true;
                        v.park_changed = true;
                        parks_changed = true;
                    }
                    v.credit = v.credit.max(-cpt);
                } else {
                    v.pri = Priority::Under;
                    if v.parked {
                        v.parked = false;
                        v.park_changed = true;
                        parks_changed = true;
                    }
                    if v.credit > cpt {
                        // Idle for a while: stop earning, keep half as a head start.
                        v.credit /= 2;
                        let keep = v.credit;
                        balance += keep;
                        self.stop_in_loop(dom, slot);
                        continue;
                    }
                }
                balance += v.credit;
            }

            let removed = dom.active_count == 0;
            if removed {
                self.active_doms.remove(pos);
            }
            if !removed {
                i += 1;
            }
        }
        self.credit_balance = balance;
        parks_changed
    }

    /// `stop` without touching `active_doms` (the loop in `run` removes the domain itself).
    fn stop_in_loop(&mut self, dom: &mut SchedDom, slot: usize) {
        if let Some(v) = dom.vcpus.get_mut(slot)
            && v.active
        {
            v.active = false;
            dom.active_count = dom.active_count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::entity::SchedVcpu;
    use crate::sched::params::DomParams;

    fn dom(domid: DomId, weight: u32, cap: u32, nvcpus: u32) -> SchedDom {
        let mut d = SchedDom::new(domid, DomParams { weight, cap });
        for n in 0..nvcpus {
            d.vcpus.push(SchedVcpu::new(n, 0));
        }
        d
    }

    fn activate_all(acct: &mut Accounting, doms: &mut [SchedDom]) {
        for d in doms.iter_mut() {
            for slot in 0..d.vcpus.len() {
                acct.start(d, slot);
            }
        }
    }

    #[test]
    fn credits_split_by_weight() {
        let mut doms = [dom(1, 512, 0, 1), dom(2, 256, 0, 1)];
        let mut acct = Accounting::new();
        acct.reserve_for(2).unwrap();
        activate_all(&mut acct, &mut doms);
        assert_eq!(acct.active_domains(), [2, 1]);
        assert!(!acct.run(&mut doms, 300, 1));
        assert_eq!(doms[0].vcpus[0].credit, 200);
        assert_eq!(doms[1].vcpus[0].credit, 100);
        assert_eq!(acct.credit_balance(), 300);
    }

    #[test]
    fn idle_vcpu_leaves_the_active_list_with_half() {
        let mut doms = [dom(1, 256, 0, 1)];
        let mut acct = Accounting::new();
        acct.reserve_for(1).unwrap();
        activate_all(&mut acct, &mut doms);
        acct.run(&mut doms, 300, 1); // 300: not above one period yet
        assert_eq!(doms[0].vcpus[0].credit, 300);
        assert!(doms[0].vcpus[0].active);
        acct.run(&mut doms, 300, 1); // 600 > 300: stops earning, keeps 300
        assert_eq!(doms[0].vcpus[0].credit, 300);
        assert!(!doms[0].vcpus[0].active);
        assert_eq!(doms[0].active_count, 0);
        assert!(acct.active_domains().is_empty());
        // Nobody active: nothing handed out, balance reset.
        assert!(!acct.run(&mut doms, 300, 1));
        assert_eq!(doms[0].vcpus[0].credit, 300);
        assert_eq!(acct.credit_balance(), 0);
    }

    #[test]
    fn cap_limits_credits_and_parks_in_debt() {
        let mut doms = [dom(1, 256, 25, 1)];
        let mut acct = Accounting::new();
        acct.reserve_for(1).unwrap();
        activate_all(&mut acct, &mut doms);
        doms[0].vcpus[0].credit = -300; // ran a whole period
        assert!(acct.run(&mut doms, 300, 1));
        let v = &doms[0].vcpus[0];
        assert_eq!(v.credit, -225); // only 75 (25% of 300) handed out
        assert!(v.parked && v.park_changed);
        assert_eq!(v.pri, Priority::Over);
        doms[0].vcpus[0].park_changed = false;
        assert!(!acct.run(&mut doms, 300, 1)); // -150
        assert!(!acct.run(&mut doms, 300, 1)); // -75
        assert!(acct.run(&mut doms, 300, 1)); // 0: unparked
        let v = &doms[0].vcpus[0];
        assert_eq!(v.credit, 0);
        assert!(!v.parked && v.park_changed);
        assert_eq!(v.pri, Priority::Under);
    }

    #[test]
    fn debt_is_bounded_by_one_period() {
        let mut doms = [dom(1, 256, 0, 1)];
        let mut acct = Accounting::new();
        acct.reserve_for(1).unwrap();
        activate_all(&mut acct, &mut doms);
        doms[0].vcpus[0].credit = -5000;
        acct.run(&mut doms, 300, 1);
        assert_eq!(doms[0].vcpus[0].credit, -300);
        assert!(!doms[0].vcpus[0].parked); // uncapped domains are never parked
    }

    #[test]
    fn multi_vcpu_domain_shares_evenly() {
        let mut doms = [dom(1, 256, 0, 2), dom(2, 256, 0, 1)];
        let mut acct = Accounting::new();
        acct.reserve_for(2).unwrap();
        activate_all(&mut acct, &mut doms);
        for d in doms.iter_mut() {
            for v in d.vcpus.iter_mut() {
                v.credit = -300;
            }
        }
        acct.run(&mut doms, 300, 2); // 600 credits, 3 vCPUs of equal weight
        assert!(
            doms.iter()
                .all(|d| d.vcpus.iter().all(|v| v.credit == -100))
        );
    }
}
