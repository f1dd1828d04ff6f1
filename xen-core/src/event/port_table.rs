//! A domain's event channel ports: their states, notify vCPUs, and the VIRQ/PIRQ lookups.

use super::virq::Virq;
use alloc::vec::Vec;
use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::{EVTCHN_2L_NR_CHANNELS, EvtchnPort};

/// Ports are added in buckets of this many, as Xen does (a page of `struct evtchn`).
pub const PORTS_PER_BUCKET: u32 = 64;

/// What a port is bound to (Xen's `ECS_*` states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortState {
    /// Available for allocation.
    Free,
    /// Never allocated: port 0.
    Reserved,
    /// Waiting for `remote_dom` to bind to it.
    Unbound {
        /// The only domain allowed to bind.
        remote_dom: DomId,
    },
    /// Connected to `remote_port` of `remote_dom` (possibly this domain).
    Interdomain {
        /// The other end's domain.
        remote_dom: DomId,
        /// The other end's port.
        remote_port: EvtchnPort,
    },
    /// Bound to a physical IRQ.
    Pirq(u32),
    /// Bound to a VIRQ.
    Virq(Virq),
    /// An inter-vCPU interrupt within the domain.
    Ipi,
}

impl PortState {
    /// Whether the port is in use (neither free nor reserved).
    pub const fn is_open(self) -> bool {
        !matches!(self, PortState::Free | PortState::Reserved)
    }
}

/// One port: its state and the vCPU its events go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channel {
    /// What the port is bound to.
    pub state: PortState,
    /// vCPU notified when the port becomes pending.
    pub notify_vcpu: u32,
}

const FREE: Channel = Channel {
    state: PortState::Free,
    notify_vcpu: 0,
};

/// Sizes a [`PortTable`] takes from its domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLimits {
    /// Highest port the domain may use (Xen's `max_evtchn_port`; `u32::MAX`
    /// for no limit). The 2-level ABI caps it at 4095 in any case.
    pub max_evtchn_port: u32,
    /// vCPUs of the domain (ids `0..nr_vcpus`); at least 1.
    pub nr_vcpus: u32,
    /// PIRQs the domain may bind (ids `0..nr_pirqs`).
    pub nr_pirqs: u32,
}

/// A domain's ports. Port 0 is reserved; ports are allocated lowest first and
/// the table grows a bucket at a time up to the domain's limit. The caller
/// holds the domain's event lock around every use.
#[derive(Debug)]
pub struct PortTable {
    domid: DomId,
    /// Number of usable port numbers: ports `0..limit`.
    limit: u32,
    nr_vcpus: u32,
    nr_pirqs: u32,
    /// Allocated ports (a multiple of `PORTS_PER_BUCKET`); `len` is Xen's `valid_evtchns`.
    channels: Vec<Channel>,
    /// Per vCPU, the port bound to each VIRQ (0: none). Global VIRQs live in vCPU 0's row.
    virq_ports: Vec<[EvtchnPort; Virq::COUNT]>,
    /// `(pirq, port)` sorted by pirq.
    pirq_ports: Vec<(u32, EvtchnPort)>,
    /// Ports neither free nor reserved.
    active: u32,
    dying: bool,
    #[cfg(test)]
    pub(crate) fail_alloc: bool,
}

impl PortTable {
    /// A table for `domid` with its first bucket and port 0 reserved (Xen's
    /// `evtchn_init`). Fails with `ENOMEM` when memory runs out and `EINVAL`
    /// for a domain without vCPUs.
    pub fn new(domid: DomId, limits: TableLimits) -> Result<PortTable, Errno> {
        if limits.nr_vcpus == 0 {
            return Err(Errno::Inval);
        }
        let limit = limits
            .max_evtchn_port
            .saturating_add(1)
            .min(EVTCHN_2L_NR_CHANNELS);
        let mut virq_ports = Vec::new();
        virq_ports
            .try_reserve_exact(limits.nr_vcpus as usize)
            .map_err(|_| Errno::NoMem)?;
        virq_ports.resize(limits.nr_vcpus as usize, [0; Virq::COUNT]);
        let mut table = PortTable {
            domid,
            limit,
            nr_vcpus: limits.nr_vcpus,
            nr_pirqs: limits.nr_pirqs,
            channels: Vec::new(),
            virq_ports,
            pirq_ports: Vec::new(),
            active: 0,
            dying: false,
            #[cfg(test)]
            fail_alloc: false,
        };
        table.grow()?;
        if let Some(c) = table.channels.first_mut() {
            c.state = PortState::Reserved;
        }
        Ok(table)
    }

    /// The owning domain.
    pub fn domid(&self) -> DomId {
        self.domid
    }

    /// vCPUs of the domain.
    pub fn nr_vcpus(&self) -> u32 {
        self.nr_vcpus
    }

    /// PIRQs the domain may bind.
    pub fn nr_pirqs(&self) -> u32 {
        self.nr_pirqs
    }

    /// Whether `vcpu` exists (Xen answers `ENOENT` when not).
    pub fn has_vcpu(&self, vcpu: u32) -> bool {
        vcpu < self.nr_vcpus
    }

    /// Ports the domain may ever use (`min(max_evtchn_port + 1, 4096)`).
    pub fn port_limit(&self) -> u32 {
        self.limit
    }

    /// Ports allocated so far (Xen's `valid_evtchns`): ports below it are valid.
    pub fn valid_ports(&self) -> u32 {
        self.channels.len() as u32
    }

    /// Ports in use (neither free nor reserved).
    pub fn active_ports(&self) -> u32 {
        self.active
    }

    /// Whether `port` is below [`valid_ports`](Self::valid_ports) (Xen's `port_is_valid`).
    pub fn is_valid(&self, port: EvtchnPort) -> bool {
        port < self.valid_ports()
    }

    /// The channel at `port`, `None` for an invalid port.
    pub fn channel(&self, port: EvtchnPort) -> Option<&Channel> {
        self.channels.get(usize::try_from(port).ok()?)
    }

    /// Ports that are in use, in increasing order.
    pub fn open_ports(&self) -> impl Iterator<Item = EvtchnPort> + '_ {
        (0..self.valid_ports()).filter(|&p| self.channel(p).is_some_and(|c| c.state.is_open()))
    }

    /// The port `virq` is bound to on `vcpu` (global VIRQs: on vCPU 0, whatever
    /// `vcpu` says), `None` when unbound.
    pub fn virq_port(&self, vcpu: u32, virq: Virq) -> Option<EvtchnPort> {
        let row = if virq.is_global() { 0 } else { vcpu };
        let port = *self.virq_ports.get(row as usize)?.get(virq.index())?;
        (port != 0).then_some(port)
    }

    /// The port `pirq` is bound to, `None` when unbound.
    pub fn pirq_port(&self, pirq: u32) -> Option<EvtchnPort> {
        let i = self.pirq_ports.binary_search_by_key(&pirq, |e| e.0).ok()?;
        self.pirq_ports.get(i).map(|e| e.1)
    }

    /// The other domain `port` is connected to, when `port` is interdomain and
    /// the other end is not this domain: the table the caller must lock too
    /// before closing the port.
    pub fn interdomain_peer(&self, port: EvtchnPort) -> Option<DomId> {
        match self.channel(port)?.state {
            PortState::Interdomain { remote_dom, .. } if remote_dom != self.domid => {
                Some(remote_dom)
            }
            _ => None,
        }
    }

    /// Marks the domain dying: no more ports are allocated (`EINVAL`).
    pub fn set_dying(&mut self) {
        self.dying = true;
    }

    /// Whether [`set_dying`](Self::set_dying) was called.
    pub fn is_dying(&self) -> bool {
        self.dying
    }

    /// Adds one bucket of free ports.
    fn grow(&mut self) -> Result<(), Errno> {
        #[cfg(test)]
        if self.fail_alloc {
            return Err(Errno::NoMem);
        }
        self.channels
            .try_reserve_exact(PORTS_PER_BUCKET as usize)
            .map_err(|_| Errno::NoMem)?;
        let len = self.channels.len() + PORTS_PER_BUCKET as usize;
        self.channels.resize(len, FREE);
        Ok(())
    }

    /// The lowest free port within the limit, growing the table by a bucket
    /// when all valid ports are taken (Xen's `get_free_port`). The port stays
    /// free until [`occupy`](Self::occupy): an operation failing later leaves
    /// nothing behind but the bucket. `EINVAL` when dying, `ENOSPC` when full,
    /// `ENOMEM` when the bucket cannot be allocated.
    pub(super) fn alloc_port(&mut self) -> Result<EvtchnPort, Errno> {
        if self.dying {
            return Err(Errno::Inval);
        }
        let scan = self.valid_ports().min(self.limit);
        if let Some(port) =
            (0..scan).find(|&p| self.channel(p).is_some_and(|c| c.state == FREE.state))
        {
            return Ok(port);
        }
        let port = self.valid_ports();
        if port >= self.limit {
            return Err(Errno::NoSpc);
        }
        self.grow()?;
        Ok(port)
    }

    /// Binds the free `port` (from [`alloc_port`](Self::alloc_port)) to
    /// `state`, notifying `notify_vcpu`, and records VIRQ and PIRQ bindings.
    /// `ENOMEM` when the PIRQ index cannot grow; `EINVAL` if the port is not
    /// free, `state` is not an open state, or a VIRQ/PIRQ slot is taken.
    pub(super) fn occupy(
        &mut self,
        port: EvtchnPort,
        state: PortState,
        notify_vcpu: u32,
    ) -> Result<(), Errno> {
        if !state.is_open() || self.channel(port).map(|c| c.state) != Some(PortState::Free) {
            return Err(Errno::Inval);
        }
        match state {
            PortState::Virq(virq) => {
                let row = if virq.is_global() { 0 } else { notify_vcpu };
                let slot = self
                    .virq_ports
                    .get_mut(row as usize)
                    .and_then(|r| r.get_mut(virq.index()))
                    .ok_or(Errno::Inval)?;
                if *slot != 0 {
                    return Err(Errno::Inval);
                }
                *slot = port;
            }
            PortState::Pirq(pirq) => {
                let Err(at) = self.pirq_ports.binary_search_by_key(&pirq, |e| e.0) else {
                    return Err(Errno::Inval);
                };
                self.pirq_ports.try_reserve(1).map_err(|_| Errno::NoMem)?;
                self.pirq_ports.insert(at, (pirq, port));
            }
            _ => {}
        }
        if let Some(c) = self.channels.get_mut(port as usize) {
            *c = Channel { state, notify_vcpu };
            self.active += 1;
        }
        Ok(())
    }

    /// Changes an open port's state between unbound and interdomain.
    /// `EINVAL` unless both the old and the new state are one of those.
    pub(super) fn rebind(&mut self, port: EvtchnPort, state: PortState) -> Result<(), Errno> {
        let linkable =
            |s: PortState| matches!(s, PortState::Unbound { .. } | PortState::Interdomain { .. });
        let c = self
            .channels
            .get_mut(usize::try_from(port).map_err(|_| Errno::Inval)?)
            .ok_or(Errno::Inval)?;
        if !linkable(c.state) || !linkable(state) {
            return Err(Errno::Inval);
        }
        c.state = state;
        Ok(())
    }

    /// Sets the vCPU an open port notifies. `EINVAL` for a free or reserved
    /// port, a missing vCPU, or a per-vCPU VIRQ (whose slot is tied to its vCPU).
    pub(super) fn set_notify_vcpu(&mut self, port: EvtchnPort, vcpu: u32) -> Result<(), Errno> {
        if !self.has_vcpu(vcpu) {
            return Err(Errno::Inval);
        }
        let c = self
            .channels
            .get_mut(usize::try_from(port).map_err(|_| Errno::Inval)?)
            .ok_or(Errno::Inval)?;
        match c.state {
            PortState::Free | PortState::Reserved => Err(Errno::Inval),
            PortState::Virq(v) if !v.is_global() => Err(Errno::Inval),
            _ => {
                c.notify_vcpu = vcpu;
                Ok(())
            }
        }
    }

    /// Frees an open port: forgets its VIRQ/PIRQ binding and resets its notify
    /// vCPU to 0 (Xen's `evtchn_free`). Returns the state it had, `None` if the
    /// port was invalid, free or reserved (and is left alone).
    pub(super) fn release(&mut self, port: EvtchnPort) -> Option<PortState> {
        let c = *self.channel(port)?;
        if !c.state.is_open() {
            return None;
        }
        match c.state {
            PortState::Virq(virq) => {
                let row = if virq.is_global() { 0 } else { c.notify_vcpu };
                if let Some(slot) = self
                    .virq_ports
                    .get_mut(row as usize)
                    .and_then(|r| r.get_mut(virq.index()))
                    && *slot == port
                {
                    *slot = 0;
                }
            }
            PortState::Pirq(pirq) => {
                if let Ok(i) = self.pirq_ports.binary_search_by_key(&pirq, |e| e.0) {
                    self.pirq_ports.remove(i);
                }
            }
            _ => {}
        }
        if let Some(slot) = self.channels.get_mut(port as usize) {
            *slot = FREE;
        }
        self.active = self.active.saturating_sub(1);
        Some(c.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_port: u32) -> TableLimits {
        TableLimits {
            max_evtchn_port: max_port,
            nr_vcpus: 2,
            nr_pirqs: 16,
        }
    }

    #[test]
    fn new_table_has_one_bucket_and_port_0_reserved() {
        let t = PortTable::new(3, limits(u32::MAX)).unwrap();
        assert_eq!(t.domid(), 3);
        assert_eq!(t.valid_ports(), PORTS_PER_BUCKET);
        assert_eq!(t.port_limit(), 4096);
        assert_eq!(t.channel(0).unwrap().state, PortState::Reserved);
        assert_eq!(t.channel(1).unwrap().state, PortState::Free);
        assert_eq!(t.channel(64), None);
        assert_eq!(t.channel(u32::MAX), None);
        assert_eq!(t.active_ports(), 0);
        assert_eq!(t.open_ports().count(), 0);
    }

    #[test]
    fn zero_vcpus_is_rejected() {
        let l = TableLimits {
            nr_vcpus: 0,
            ..limits(10)
        };
        assert_eq!(PortTable::new(1, l).unwrap_err(), Errno::Inval);
    }

    #[test]
    fn allocation_is_lowest_free_first() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        for want in 1..5 {
            let p = t.alloc_port().unwrap();
            assert_eq!(p, want);
            t.occupy(p, PortState::Ipi, 0).unwrap();
        }
        assert_eq!(t.release(2), Some(PortState::Ipi));
        assert_eq!(t.alloc_port(), Ok(2));
        // alloc alone does not take the port.
        assert_eq!(t.alloc_port(), Ok(2));
        assert_eq!(t.active_ports(), 3);
    }

    #[test]
    fn table_grows_a_bucket_at_a_time_up_to_4096() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        for want in 1..4096 {
            let p = t.alloc_port().unwrap();
            assert_eq!(p, want);
            assert_eq!(
                t.valid_ports(),
                (want / PORTS_PER_BUCKET + 1) * PORTS_PER_BUCKET
            );
            t.occupy(p, PortState::Ipi, 1).unwrap();
        }
        assert_eq!(t.valid_ports(), 4096);
        assert_eq!(t.alloc_port(), Err(Errno::NoSpc));
        assert_eq!(t.active_ports(), 4095);
        assert_eq!(t.release(4095), Some(PortState::Ipi));
        assert_eq!(t.alloc_port(), Ok(4095));
    }

    #[test]
    fn max_evtchn_port_limits_allocation() {
        let mut t = PortTable::new(1, limits(3)).unwrap();
        assert_eq!(t.port_limit(), 4);
        for _ in 0..3 {
            let p = t.alloc_port().unwrap();
            t.occupy(p, PortState::Ipi, 0).unwrap();
        }
        // Ports 4..63 exist but are above the limit.
        assert_eq!(t.alloc_port(), Err(Errno::NoSpc));
        let mut t = PortTable::new(1, limits(0)).unwrap();
        assert_eq!(t.alloc_port(), Err(Errno::NoSpc));
        let mut t = PortTable::new(1, limits(64)).unwrap();
        for want in 1..=64 {
            let p = t.alloc_port().unwrap();
            assert_eq!(p, want);
            t.occupy(p, PortState::Ipi, 0).unwrap();
        }
        assert_eq!(t.valid_ports(), 128);
        assert_eq!(t.alloc_port(), Err(Errno::NoSpc));
    }

    #[test]
    fn growth_failure_is_enomem_and_changes_nothing() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        for _ in 1..64 {
            let p = t.alloc_port().unwrap();
            t.occupy(p, PortState::Ipi, 0).unwrap();
        }
        t.fail_alloc = true;
        assert_eq!(t.alloc_port(), Err(Errno::NoMem));
        assert_eq!(t.valid_ports(), 64);
        t.fail_alloc = false;
        assert_eq!(t.alloc_port(), Ok(64));
    }

    #[test]
    fn dying_table_refuses_allocation() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        t.set_dying();
        assert!(t.is_dying());
        assert_eq!(t.alloc_port(), Err(Errno::Inval));
    }

    #[test]
    fn virq_and_pirq_indices_follow_occupy_and_release() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        t.occupy(1, PortState::Virq(Virq::TIMER), 1).unwrap();
        t.occupy(2, PortState::Virq(Virq::DOM_EXC), 0).unwrap();
        t.occupy(3, PortState::Pirq(9), 0).unwrap();
        t.occupy(4, PortState::Pirq(2), 0).unwrap();
        assert_eq!(t.virq_port(1, Virq::TIMER), Some(1));
        assert_eq!(t.virq_port(0, Virq::TIMER), None);
        assert_eq!(t.virq_port(0, Virq::DOM_EXC), Some(2));
        assert_eq!(
            t.virq_port(1, Virq::DOM_EXC),
            Some(2),
            "global: vCPU 0's row"
        );
        assert_eq!(t.virq_port(7, Virq::TIMER), None);
        assert_eq!(t.pirq_port(9), Some(3));
        assert_eq!(t.pirq_port(2), Some(4));
        assert_eq!(t.pirq_port(3), None);
        // Slots already taken.
        assert_eq!(
            t.occupy(5, PortState::Virq(Virq::TIMER), 1),
            Err(Errno::Inval)
        );
        assert_eq!(t.occupy(5, PortState::Pirq(9), 0), Err(Errno::Inval));
        assert_eq!(t.channel(5).unwrap().state, PortState::Free);
        assert_eq!(t.release(1), Some(PortState::Virq(Virq::TIMER)));
        assert_eq!(t.release(3), Some(PortState::Pirq(9)));
        assert_eq!(t.virq_port(1, Virq::TIMER), None);
        assert_eq!(t.pirq_port(9), None);
        assert_eq!(t.pirq_port(2), Some(4));
        assert_eq!(t.active_ports(), 2);
    }

    #[test]
    fn occupy_and_release_refuse_bad_ports_and_states() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        assert_eq!(t.occupy(0, PortState::Ipi, 0), Err(Errno::Inval));
        assert_eq!(t.occupy(64, PortState::Ipi, 0), Err(Errno::Inval));
        assert_eq!(t.occupy(u32::MAX, PortState::Ipi, 0), Err(Errno::Inval));
        assert_eq!(t.occupy(1, PortState::Free, 0), Err(Errno::Inval));
        assert_eq!(t.occupy(1, PortState::Reserved, 0), Err(Errno::Inval));
        assert_eq!(
            t.occupy(1, PortState::Virq(Virq::TIMER), 9),
            Err(Errno::Inval)
        );
        t.occupy(1, PortState::Ipi, 0).unwrap();
        assert_eq!(t.occupy(1, PortState::Ipi, 0), Err(Errno::Inval));
        assert_eq!(t.release(0), None);
        assert_eq!(t.release(2), None);
        assert_eq!(t.release(u32::MAX), None);
        assert_eq!(t.channel(0).unwrap().state, PortState::Reserved);
        assert_eq!(t.active_ports(), 1);
    }

    #[test]
    fn rebind_only_links_unbound_and_interdomain() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        t.occupy(1, PortState::Unbound { remote_dom: 2 }, 0)
            .unwrap();
        t.occupy(2, PortState::Ipi, 0).unwrap();
        let inter = PortState::Interdomain {
            remote_dom: 2,
            remote_port: 7,
        };
        t.rebind(1, inter).unwrap();
        assert_eq!(t.channel(1).unwrap().state, inter);
        assert_eq!(t.interdomain_peer(1), Some(2));
        assert_eq!(t.rebind(2, inter), Err(Errno::Inval));
        assert_eq!(t.rebind(1, PortState::Ipi), Err(Errno::Inval));
        assert_eq!(t.rebind(3, inter), Err(Errno::Inval));
        assert_eq!(t.rebind(u32::MAX, inter), Err(Errno::Inval));
        t.rebind(1, PortState::Unbound { remote_dom: 2 }).unwrap();
        assert_eq!(t.interdomain_peer(1), None);
    }

    #[test]
    fn interdomain_peer_ignores_loopback() {
        let mut t = PortTable::new(4, limits(u32::MAX)).unwrap();
        t.occupy(
            1,
            PortState::Interdomain {
                remote_dom: 4,
                remote_port: 2,
            },
            0,
        )
        .unwrap();
        assert_eq!(t.interdomain_peer(1), None);
        assert_eq!(t.interdomain_peer(u32::MAX), None);
    }

    #[test]
    fn notify_vcpu_changes_are_checked() {
        let mut t = PortTable::new(1, limits(u32::MAX)).unwrap();
        t.occupy(1, PortState::Ipi, 0).unwrap();
        t.occupy(2, PortState::Virq(Virq::TIMER), 0).unwrap();
        t.set_notify_vcpu(1, 1).unwrap();
        assert_eq!(t.channel(1).unwrap().notify_vcpu, 1);
        assert_eq!(t.set_notify_vcpu(1, 2), Err(Errno::Inval));
        assert_eq!(t.set_notify_vcpu(2, 1), Err(Errno::Inval));
        assert_eq!(t.set_notify_vcpu(0, 1), Err(Errno::Inval));
        assert_eq!(t.set_notify_vcpu(3, 1), Err(Errno::Inval));
        // Freed ports go back to vCPU 0.
        t.release(1);
        assert_eq!(t.channel(1).unwrap().notify_vcpu, 0);
    }
}
