//! The event_channel_op operations as Xen 4.17 answers them, acting on locked port tables.

// Each function checks everything before it changes anything, so an error
// leaves the tables as they were (apart from a bucket grown by the port
// allocation, as in Xen). Domain lookup (ESRCH) and permission checks are the
// caller's; so are kicking vCPUs and waking pollers, which the returned
// `Delivery` values ask for.

use super::port_table::{PortState, PortTable};
use super::two_level::{self, Delivery, EventBits};
use super::virq::Virq;
use hypercall_abi::Errno;
use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::{
    EVTCHNSTAT_CLOSED, EVTCHNSTAT_INTERDOMAIN, EVTCHNSTAT_IPI, EVTCHNSTAT_PIRQ, EVTCHNSTAT_UNBOUND,
    EVTCHNSTAT_VIRQ, EvtchnPort, EvtchnStatus,
};

/// The remote end of `bind_interdomain`.
pub enum Peer<'a> {
    /// The calling domain binds to one of its own unbound ports.
    SelfDomain,
    /// Another domain's table, locked by the caller alongside the local one.
    Other(&'a mut PortTable),
}

/// `EVTCHNOP_alloc_unbound`: a new port in `table` that only `remote_dom` may
/// bind to (`remote_dom` already resolved from DOMID_SELF to the caller).
pub fn alloc_unbound(table: &mut PortTable, remote_dom: DomId) -> Result<EvtchnPort, Errno> {
    let port = table.alloc_port()?;
    table.occupy(port, PortState::Unbound { remote_dom }, 0)?;
    Ok(port)
}

/// `EVTCHNOP_bind_interdomain`: connects a new local port to `remote_port`,
/// which must be unbound and waiting for the local domain. As Xen does, the
/// new local port is then marked pending (notifications sent to the unbound
/// port may have been lost); the [`Delivery`] is for the local domain.
///
/// Errors in Xen's order: the local allocation (`ENOSPC`, `ENOMEM`, `EINVAL`
/// when dying), then `EINVAL` for a remote port that is invalid, not unbound,
/// or meant for another domain.
pub fn bind_interdomain<B: EventBits + ?Sized>(
    local: &mut PortTable,
    local_bits: &B,
    peer: Peer<'_>,
    remote_port: EvtchnPort,
) -> Result<(EvtchnPort, Delivery), Errno> {
    let ldom = local.domid();
    let lport = local.alloc_port()?;
    let waits_for_us = |t: &PortTable| {
        t.channel(remote_port).map(|c| c.state) == Some(PortState::Unbound { remote_dom: ldom })
    };
    match peer {
        Peer::SelfDomain => {
            if !waits_for_us(local) {
                return Err(Errno::Inval);
            }
            local.occupy(lport, interdomain(ldom, remote_port), 0)?;
            if local.rebind(remote_port, interdomain(ldom, lport)).is_err() {
                local.release(lport);
                return Err(Errno::Inval);
            }
        }
        Peer::Other(remote) => {
            let rdom = remote.domid();
            if rdom == ldom || !waits_for_us(remote) {
                return Err(Errno::Inval);
            }
            local.occupy(lport, interdomain(rdom, remote_port), 0)?;
            if remote
                .rebind(remote_port, interdomain(ldom, lport))
                .is_err()
            {
                local.release(lport);
                return Err(Errno::Inval);
            }
        }
    }
    let vcpu = local.channel(lport).map_or(0, |c| c.notify_vcpu);
    Ok((lport, two_level::set_pending(local_bits, vcpu, lport)))
}

fn interdomain(remote_dom: DomId, remote_port: EvtchnPort) -> PortState {
    PortState::Interdomain {
        remote_dom,
        remote_port,
    }
}

/// `EVTCHNOP_bind_virq`: binds `virq` on `vcpu`. `EINVAL` for a global VIRQ
/// on a vCPU other than 0, `ENOENT` for a missing vCPU, `EEXIST` when the
/// VIRQ is already bound there, then the allocation's errors.
pub fn bind_virq(table: &mut PortTable, virq: Virq, vcpu: u32) -> Result<EvtchnPort, Errno> {
    if virq.is_global() && vcpu != 0 {
        return Err(Errno::Inval);
    }
    if !table.has_vcpu(vcpu) {
        return Err(Errno::NoEnt);
    }
    if table.virq_port(vcpu, virq).is_some() {
        return Err(Errno::Exist);
    }
    let port = table.alloc_port()?;
    table.occupy(port, PortState::Virq(virq), vcpu)?;
    Ok(port)
}

/// `EVTCHNOP_bind_ipi`: a port that signals `vcpu` of the same domain.
/// `ENOENT` for a missing vCPU, then the allocation's errors.
pub fn bind_ipi(table: &mut PortTable, vcpu: u32) -> Result<EvtchnPort, Errno> {
    if !table.has_vcpu(vcpu) {
        return Err(Errno::NoEnt);
    }
    let port = table.alloc_port()?;
    table.occupy(port, PortState::Ipi, vcpu)?;
    Ok(port)
}

/// `EVTCHNOP_bind_pirq`, table part only: the caller has checked that the
/// domain may use `pirq` (`EPERM`) and binds the IRQ itself (closing the port
/// again if that fails). `EINVAL` for `pirq >= nr_pirqs`, `EEXIST` when
/// already bound, then the allocation's errors. Notifies vCPU 0.
pub fn bind_pirq(table: &mut PortTable, pirq: u32) -> Result<EvtchnPort, Errno> {
    if pirq >= table.nr_pirqs() {
        return Err(Errno::Inval);
    }
    if table.pirq_port(pirq).is_some() {
        return Err(Errno::Exist);
    }
    let port = table.alloc_port()?;
    table.occupy(port, PortState::Pirq(pirq), 0)?;
    Ok(port)
}

/// `EVTCHNOP_close`: frees `port` and clears its pending bit. When it was
/// connected to another domain, that end goes back to unbound, waiting for
/// this domain: pass that domain's table as `peer` (see
/// [`PortTable::interdomain_peer`]), or `None` only when the domain no longer
/// exists. Returns the state the port had, so the caller can unbind a PIRQ.
///
/// `EINVAL` for an invalid, free or reserved port, and for a `peer` that is
/// not the port's remote domain (the binding changed while the caller locked
/// the tables; nothing is changed).
pub fn close<B: EventBits + ?Sized>(
    local: &mut PortTable,
    local_bits: &B,
    peer: Option<&mut PortTable>,
    port: EvtchnPort,
) -> Result<PortState, Errno> {
    let ldom = local.domid();
    let state = local.channel(port).ok_or(Errno::Inval)?.state;
    match state {
        PortState::Free | PortState::Reserved => return Err(Errno::Inval),
        PortState::Interdomain {
            remote_dom,
            remote_port,
        } if remote_dom == ldom => {
            unlink(local, remote_port, ldom, port);
        }
        PortState::Interdomain {
            remote_dom,
            remote_port,
        } => match peer {
            Some(remote) if remote.domid() == remote_dom => {
                unlink(remote, remote_port, ldom, port);
            }
            Some(_) => return Err(Errno::Inval),
            None => {}
        },
        _ => {}
    }
    two_level::clear_pending(local_bits, port);
    local.release(port).ok_or(Errno::Inval)
}

/// Puts `table`'s `port` back to unbound for `dom` if it is still connected
/// to `dom`'s `dom_port`.
fn unlink(table: &mut PortTable, port: EvtchnPort, dom: DomId, dom_port: EvtchnPort) {
    if table.channel(port).map(|c| c.state) == Some(interdomain(dom, dom_port)) {
        // Cannot fail: the port is interdomain and the new state is unbound.
        let _ = table.rebind(port, PortState::Unbound { remote_dom: dom });
    }
}

/// An interdomain send the caller completes under the remote domain's lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteSend {
    /// Domain to notify.
    pub to_dom: DomId,
    /// Its port.
    pub to_port: EvtchnPort,
    /// The sending domain.
    pub from_dom: DomId,
    /// The sending port.
    pub from_port: EvtchnPort,
}

/// What [`send`] did or leaves to the caller.
#[must_use = "act on the delivery or complete the remote send"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Done within the sending domain (IPI, interdomain to itself, or dropped
    /// on an unbound port): the delivery is for the sending domain.
    Local(Delivery),
    /// Interdomain: lock `to_dom`'s table and call [`deliver_remote`].
    Remote(RemoteSend),
}

/// `EVTCHNOP_send`. Interdomain ports signal the remote end (in two steps, so
/// the caller never holds two domains' locks for a send), IPI ports their own
/// vCPU, and unbound ports drop the event and succeed, as in Xen. `EINVAL`
/// for an invalid port or any other state.
pub fn send<B: EventBits + ?Sized>(
    local: &PortTable,
    local_bits: &B,
    port: EvtchnPort,
) -> Result<SendOutcome, Errno> {
    let ldom = local.domid();
    let c = *local.channel(port).ok_or(Errno::Inval)?;
    match c.state {
        PortState::Interdomain {
            remote_dom,
            remote_port,
        } => {
            let remote = RemoteSend {
                to_dom: remote_dom,
                to_port: remote_port,
                from_dom: ldom,
                from_port: port,
            };
            if remote_dom == ldom {
                Ok(SendOutcome::Local(deliver_remote(
                    local, local_bits, remote,
                )))
            } else {
                Ok(SendOutcome::Remote(remote))
            }
        }
        PortState::Ipi => Ok(SendOutcome::Local(two_level::set_pending(
            local_bits,
            c.notify_vcpu,
            port,
        ))),
        PortState::Unbound { .. } => Ok(SendOutcome::Local(Delivery::NONE)),
        _ => Err(Errno::Inval),
    }
}

/// Second step of an interdomain [`send`]: marks `send.to_port` pending in
/// `remote` (the table of `send.to_dom`) for its notify vCPU. Does nothing if
/// the port is no longer connected to the sender's port (it was closed in
/// between: the event is dropped as on an unbound port).
pub fn deliver_remote<B: EventBits + ?Sized>(
    remote: &PortTable,
    remote_bits: &B,
    send: RemoteSend,
) -> Delivery {
    if remote.domid() != send.to_dom {
        return Delivery::NONE;
    }
    match remote.channel(send.to_port) {
        Some(c) if c.state == interdomain(send.from_dom, send.from_port) => {
            two_level::set_pending(remote_bits, c.notify_vcpu, send.to_port)
        }
        _ => Delivery::NONE,
    }
}

/// `EVTCHNOP_status`: fills `out.status`, `out.vcpu` and, by state, `out.u`.
/// Free and reserved ports (within the allocated buckets) report closed;
/// `EINVAL` for an invalid port.
pub fn status(table: &PortTable, port: EvtchnPort, out: &mut EvtchnStatus) -> Result<(), Errno> {
    let c = table.channel(port).ok_or(Errno::Inval)?;
    out.status = match c.state {
        PortState::Free | PortState::Reserved => EVTCHNSTAT_CLOSED,
        PortState::Unbound { remote_dom } => {
            out.set_unbound(remote_dom);
            EVTCHNSTAT_UNBOUND
        }
        PortState::Interdomain {
            remote_dom,
            remote_port,
        } => {
            out.set_interdomain(remote_dom, remote_port);
            EVTCHNSTAT_INTERDOMAIN
        }
        PortState::Pirq(pirq) => {
            out.set_irq(pirq);
            EVTCHNSTAT_PIRQ
        }
        PortState::Virq(virq) => {
            out.set_irq(virq.raw());
            EVTCHNSTAT_VIRQ
        }
        PortState::Ipi => EVTCHNSTAT_IPI,
    };
    out.vcpu = c.notify_vcpu;
    Ok(())
}

/// `EVTCHNOP_bind_vcpu`: sends `port`'s future events to `vcpu`. Allowed for
/// global VIRQs, unbound, interdomain and PIRQ ports (the caller moves a
/// PIRQ's affinity); `ENOENT` for a missing vCPU first, then `EINVAL` for an
/// invalid port or any other state.
pub fn bind_vcpu(table: &mut PortTable, port: EvtchnPort, vcpu: u32) -> Result<(), Errno> {
    if !table.has_vcpu(vcpu) {
        return Err(Errno::NoEnt);
    }
    match table.channel(port).ok_or(Errno::Inval)?.state {
        PortState::Virq(v) if v.is_global() => table.set_notify_vcpu(port, vcpu),
        PortState::Unbound { .. } | PortState::Interdomain { .. } | PortState::Pirq(_) => {
            table.set_notify_vcpu(port, vcpu)
        }
        _ => Err(Errno::Inval),
    }
}

/// `EVTCHNOP_unmask`: clears the mask bit and redelivers a pending event to
/// the port's notify vCPU (any valid port, as Xen does). `EINVAL` for an
/// invalid port.
pub fn unmask<B: EventBits + ?Sized>(
    table: &PortTable,
    bits: &B,
    port: EvtchnPort,
) -> Result<Delivery, Errno> {
    let c = table.channel(port).ok_or(Errno::Inval)?;
    Ok(two_level::unmask(bits, c.notify_vcpu, port))
}

/// Whether `port` is pending, for SCHEDOP_poll; `EINVAL` for an invalid port.
pub fn is_pending<B: EventBits + ?Sized>(
    table: &PortTable,
    bits: &B,
    port: EvtchnPort,
) -> Result<bool, Errno> {
    if !table.is_valid(port) {
        return Err(Errno::Inval);
    }
    Ok(two_level::is_pending(bits, port))
}

/// Access to other domains' tables while closing every port of one.
pub trait PeerTables {
    /// Calls `f` with `dom`'s table locked, or with `None` when `dom` no longer exists.
    fn with_table(&mut self, dom: DomId, f: &mut dyn FnMut(Option<&mut PortTable>));

    /// Told about each port closed and the state it had (e.g. to unbind a PIRQ).
    fn closed(&mut self, _port: EvtchnPort, _was: PortState) {}
}

/// `EVTCHNOP_reset` (2-level) and domain destruction (after
/// [`PortTable::set_dying`]): closes every open port as [`close`] does,
/// lowest first. `EAGAIN` if some port stayed open (a peer table that did not
/// match). Whether the caller may reset this domain is the caller's check.
pub fn reset<B: EventBits + ?Sized>(
    table: &mut PortTable,
    bits: &B,
    peers: &mut dyn PeerTables,
) -> Result<(), Errno> {
    for port in 1..table.valid_ports() {
        if !table.channel(port).is_some_and(|c| c.state.is_open()) {
            continue;
        }
        let result = match table.interdomain_peer(port) {
            Some(dom) => {
                let mut result = Err(Errno::Inval);
                peers.with_table(dom, &mut |peer| {
                    result = close(table, bits, peer, port);
                });
                result
            }
            None => close(table, bits, None, port),
        };
        if let Ok(was) = result {
            peers.closed(port, was);
        }
    }
    if table.active_ports() == 0 {
        Ok(())
    } else {
        Err(Errno::Again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::port_table::TableLimits;
    use crate::event::two_level::mock::MockBits;
    use std::collections::BTreeMap;
    use std::vec;
    use std::vec::Vec;

    const A: DomId = 1;
    const B: DomId = 2;
    const C: DomId = 3;

    fn table(dom: DomId) -> PortTable {
        PortTable::new(
            dom,
            TableLimits {
                max_evtchn_port: u32::MAX,
                nr_vcpus: 2,
                nr_pirqs: 32,
            },
        )
        .unwrap()
    }

    fn small_table(dom: DomId, max_port: u32) -> PortTable {
        PortTable::new(
            dom,
            TableLimits {
                max_evtchn_port: max_port,
                nr_vcpus: 2,
                nr_pirqs: 32,
            },
        )
        .unwrap()
    }

    fn state(t: &PortTable, port: EvtchnPort) -> PortState {
        t.channel(port).unwrap().state
    }

    const HOSTILE: [EvtchnPort; 5] = [0, 64, 4095, 4096, u32::MAX];

    /// A connects to B: B allocates an unbound port for A, A binds it.
    fn connect(a: &mut PortTable, ab: &MockBits, b: &mut PortTable) -> (EvtchnPort, EvtchnPort) {
        let bport = alloc_unbound(b, a.domid()).unwrap();
        let (aport, _) = bind_interdomain(a, ab, Peer::Other(b), bport).unwrap();
        (aport, bport)
    }

    #[test]
    fn alloc_unbound_success_and_errors() {
        let mut t = table(A);
        assert_eq!(alloc_unbound(&mut t, B), Ok(1));
        assert_eq!(alloc_unbound(&mut t, A), Ok(2));
        assert_eq!(state(&t, 1), PortState::Unbound { remote_dom: B });
        assert_eq!(t.channel(1).unwrap().notify_vcpu, 0);

        let mut full = small_table(A, 2);
        alloc_unbound(&mut full, B).unwrap();
        alloc_unbound(&mut full, B).unwrap();
        assert_eq!(alloc_unbound(&mut full, B), Err(Errno::NoSpc));

        let mut t = table(A);
        t.set_dying();
        assert_eq!(alloc_unbound(&mut t, B), Err(Errno::Inval));

        let mut t = table(A);
        for _ in 1..64 {
            alloc_unbound(&mut t, B).unwrap();
        }
        t.fail_alloc = true;
        assert_eq!(alloc_unbound(&mut t, B), Err(Errno::NoMem));
        assert_eq!(t.active_ports(), 63);
    }

    #[test]
    fn bind_interdomain_links_both_ends_and_marks_local_pending() {
        let (mut a, mut b) = (table(A), table(B));
        let ab = MockBits::new(2);
        let bport = alloc_unbound(&mut b, A).unwrap();
        alloc_unbound(&mut a, C).unwrap(); // a's port 1 is taken
        let (aport, d) = bind_interdomain(&mut a, &ab, Peer::Other(&mut b), bport).unwrap();
        assert_eq!(aport, 2);
        assert_eq!(state(&a, aport), interdomain(B, bport));
        assert_eq!(state(&b, bport), interdomain(A, aport));
        assert_eq!(d.kick, Some(0));
        assert_eq!(d.newly_pending, Some(aport));
        assert!(ab.pending(aport));
        assert_eq!(a.interdomain_peer(aport), Some(B));
        assert_eq!(b.interdomain_peer(bport), Some(A));
    }

    #[test]
    fn bind_interdomain_errors_change_nothing() {
        let (mut a, mut b) = (table(A), table(B));
        let ab = MockBits::new(2);
        let for_c = alloc_unbound(&mut b, C).unwrap();
        let ipi = bind_ipi(&mut b, 0).unwrap();
        let free = 10;
        for rport in HOSTILE.into_iter().chain([for_c, ipi, free]) {
            assert_eq!(
                bind_interdomain(&mut a, &ab, Peer::Other(&mut b), rport),
                Err(Errno::Inval),
                "remote port {rport}"
            );
        }
        // Already connected: a second bind to the same port fails.
        let (_, bport) = connect(&mut a, &ab, &mut b);
        let before = a.active_ports();
        assert_eq!(
            bind_interdomain(&mut a, &ab, Peer::Other(&mut b), bport),
            Err(Errno::Inval)
        );
        assert_eq!(a.active_ports(), before);
        assert_eq!(b.active_ports(), 3);
        assert_eq!(state(&b, for_c), PortState::Unbound { remote_dom: C });
        assert!(!ab.pending(2));
    }

    #[test]
    fn bind_interdomain_reports_local_allocation_failure_first() {
        let mut a = small_table(A, 1);
        let mut b = table(B);
        let ab = MockBits::new(2);
        alloc_unbound(&mut a, B).unwrap();
        let bport = alloc_unbound(&mut b, A).unwrap();
        assert_eq!(
            bind_interdomain(&mut a, &ab, Peer::Other(&mut b), u32::MAX),
            Err(Errno::NoSpc)
        );
        assert_eq!(
            bind_interdomain(&mut a, &ab, Peer::Other(&mut b), bport),
            Err(Errno::NoSpc)
        );
        assert_eq!(state(&b, bport), PortState::Unbound { remote_dom: A });
    }

    #[test]
    fn bind_interdomain_to_a_table_with_the_same_domid_is_refused() {
        let (mut a, mut a2) = (table(A), table(A));
        let ab = MockBits::new(2);
        let p = alloc_unbound(&mut a2, A).unwrap();
        assert_eq!(
            bind_interdomain(&mut a, &ab, Peer::Other(&mut a2), p),
            Err(Errno::Inval)
        );
        assert_eq!(state(&a2, p), PortState::Unbound { remote_dom: A });
    }

    #[test]
    fn binding_to_self_works_as_in_xen() {
        let mut a = table(A);
        let ab = MockBits::new(2);
        let r = alloc_unbound(&mut a, A).unwrap();
        let not_for_us = alloc_unbound(&mut a, B).unwrap();
        assert_eq!(
            bind_interdomain(&mut a, &ab, Peer::SelfDomain, not_for_us),
            Err(Errno::Inval)
        );
        let (l, d) = bind_interdomain(&mut a, &ab, Peer::SelfDomain, r).unwrap();
        assert_eq!(l, 3);
        assert_eq!(d.newly_pending, Some(3));
        assert_eq!(state(&a, l), interdomain(A, r));
        assert_eq!(state(&a, r), interdomain(A, l));
        assert_eq!(a.interdomain_peer(l), None);
        // Loopback send: each end signals the other, within the same domain.
        ab.guest_ack(0);
        ab.guest_clear(l);
        let SendOutcome::Local(d) = send(&a, &ab, l).unwrap() else {
            panic!("loopback send must be local");
        };
        assert_eq!(d.newly_pending, Some(r));
        assert_eq!(d.kick, Some(0));
        let SendOutcome::Local(d) = send(&a, &ab, r).unwrap() else {
            panic!("loopback send must be local");
        };
        assert_eq!(d.newly_pending, Some(l));
        // Closing one end leaves the other unbound for ourselves.
        assert_eq!(close(&mut a, &ab, None, l), Ok(interdomain(A, r)));
        assert_eq!(state(&a, r), PortState::Unbound { remote_dom: A });
        assert!(!ab.pending(l));
        // And it can be bound again.
        let (l2, _) = bind_interdomain(&mut a, &ab, Peer::SelfDomain, r).unwrap();
        assert_eq!(l2, l);
    }

    #[test]
    fn interdomain_ping_pong() {
        let (mut a, mut b) = (table(A), table(B));
        let (ab, bb) = (MockBits::new(2), MockBits::new(2));
        let (aport, bport) = connect(&mut a, &ab, &mut b);
        ab.guest_ack(0);
        ab.guest_clear(aport);
        bind_vcpu(&mut b, bport, 1).unwrap();
        for round in 0..5 {
            // A -> B
            let SendOutcome::Remote(r) = send(&a, &ab, aport).unwrap() else {
                panic!("interdomain send must be remote");
            };
            assert_eq!(
                r,
                RemoteSend {
                    to_dom: B,
                    to_port: bport,
                    from_dom: A,
                    from_port: aport
                }
            );
            let d = deliver_remote(&b, &bb, r);
            assert_eq!(d.kick, Some(1), "round {round}");
            assert_eq!(d.newly_pending, Some(bport));
            assert!(bb.pending(bport) && bb.upcall(1));
            // A second send before B handles it is coalesced.
            let SendOutcome::Remote(r2) = send(&a, &ab, aport).unwrap() else {
                panic!("interdomain send must be remote");
            };
            assert_eq!(deliver_remote(&b, &bb, r2), Delivery::NONE);
            bb.guest_ack(1);
            bb.guest_clear(bport);
            // B -> A
            let SendOutcome::Remote(r) = send(&b, &bb, bport).unwrap() else {
                panic!("interdomain send must be remote");
            };
            let d = deliver_remote(&a, &ab, r);
            assert_eq!(d.kick, Some(0));
            assert!(ab.pending(aport) && ab.upcall(0));
            ab.guest_ack(0);
            ab.guest_clear(aport);
        }
        assert!(!ab.pending(aport) && !bb.pending(bport));
    }

    #[test]
    fn deliver_remote_drops_stale_sends() {
        let (mut a, mut b) = (table(A), table(B));
        let (ab, bb) = (MockBits::new(2), MockBits::new(2));
        let (aport, bport) = connect(&mut a, &ab, &mut b);
        let SendOutcome::Remote(r) = send(&a, &ab, aport).unwrap() else {
            panic!("interdomain send must be remote");
        };
        // Wrong table.
        let c = table(C);
        assert_eq!(deliver_remote(&c, &bb, r), Delivery::NONE);
        // B closed its end in between.
        close(&mut b, &bb, Some(&mut a), bport).unwrap();
        assert_eq!(deliver_remote(&b, &bb, r), Delivery::NONE);
        // B's port reused for something else.
        bind_ipi(&mut b, 0).unwrap();
        assert_eq!(deliver_remote(&b, &bb, r), Delivery::NONE);
        assert!(!bb.pending(bport));
        // Hostile port numbers in a forged RemoteSend.
        for to_port in HOSTILE {
            let f = RemoteSend { to_port, ..r };
            assert_eq!(deliver_remote(&b, &bb, f), Delivery::NONE);
        }
    }

    #[test]
    fn closing_one_end_leaves_the_other_unbound_for_the_closer() {
        let (mut a, mut b) = (table(A), table(B));
        let (ab, bb) = (MockBits::new(2), MockBits::new(2));
        let (aport, bport) = connect(&mut a, &ab, &mut b);
        assert!(ab.pending(aport));
        assert_eq!(a.interdomain_peer(aport), Some(B));
        assert_eq!(
            close(&mut a, &ab, Some(&mut b), aport),
            Ok(interdomain(B, bport))
        );
        assert_eq!(state(&a, aport), PortState::Free);
        assert!(!ab.pending(aport), "freeing clears pending");
        assert_eq!(state(&b, bport), PortState::Unbound { remote_dom: A });
        // B's end still accepts sends, and drops them.
        assert_eq!(send(&b, &bb, bport), Ok(SendOutcome::Local(Delivery::NONE)));
        // A can connect again to the same port of B.
        let (aport2, _) = bind_interdomain(&mut a, &ab, Peer::Other(&mut b), bport).unwrap();
        assert_eq!(aport2, aport);
        // Now B closes first: A's end becomes unbound for B.
        assert_eq!(
            close(&mut b, &bb, Some(&mut a), bport),
            Ok(interdomain(A, aport2))
        );
        assert_eq!(state(&a, aport2), PortState::Unbound { remote_dom: B });
        assert_eq!(close(&mut a, &ab, None, aport2), Ok(unbound(B)));
        assert_eq!(a.active_ports(), 0);
        assert_eq!(b.active_ports(), 0);
    }

    fn unbound(remote_dom: DomId) -> PortState {
        PortState::Unbound { remote_dom }
    }

    #[test]
    fn close_with_the_wrong_peer_changes_nothing() {
        let (mut a, mut b, mut c) = (table(A), table(B), table(C));
        let ab = MockBits::new(2);
        let (aport, bport) = connect(&mut a, &ab, &mut b);
        assert_eq!(close(&mut a, &ab, Some(&mut c), aport), Err(Errno::Inval));
        assert_eq!(state(&a, aport), interdomain(B, bport));
        assert!(ab.pending(aport));
        // Peer gone: only the local end is freed.
        assert_eq!(close(&mut a, &ab, None, aport), Ok(interdomain(B, bport)));
        assert_eq!(state(&b, bport), interdomain(A, aport));
        // A peer that no longer points back is left alone.
        let other = bind_ipi(&mut a, 0).unwrap();
        assert_eq!(other, aport);
        let mut b2 = table(B);
        let p = alloc_unbound(&mut b2, A).unwrap();
        let (x, _) = bind_interdomain(&mut a, &ab, Peer::Other(&mut b2), p).unwrap();
        let mut stale = table(B);
        close(&mut a, &ab, Some(&mut stale), x).unwrap();
        assert_eq!(stale.active_ports(), 0);
    }

    #[test]
    fn close_errors_and_other_states() {
        let mut a = table(A);
        let ab = MockBits::new(2);
        for port in HOSTILE.into_iter().chain([1, 63]) {
            assert_eq!(close(&mut a, &ab, None, port), Err(Errno::Inval), "{port}");
        }
        assert_eq!(state(&a, 0), PortState::Reserved);
        let v = bind_virq(&mut a, Virq::TIMER, 1).unwrap();
        let p = bind_pirq(&mut a, 5).unwrap();
        let i = bind_ipi(&mut a, 1).unwrap();
        let u = alloc_unbound(&mut a, B).unwrap();
        assert_eq!(
            close(&mut a, &ab, None, v),
            Ok(PortState::Virq(Virq::TIMER))
        );
        assert_eq!(a.virq_port(1, Virq::TIMER), None);
        assert_eq!(bind_virq(&mut a, Virq::TIMER, 1), Ok(v));
        assert_eq!(close(&mut a, &ab, None, p), Ok(PortState::Pirq(5)));
        assert_eq!(a.pirq_port(5), None);
        assert_eq!(close(&mut a, &ab, None, i), Ok(PortState::Ipi));
        assert_eq!(close(&mut a, &ab, None, u), Ok(unbound(B)));
        assert_eq!(close(&mut a, &ab, None, u), Err(Errno::Inval));
        assert_eq!(a.active_ports(), 1);
    }

    #[test]
    fn send_by_state() {
        let mut a = table(A);
        let ab = MockBits::new(2);
        let ipi = bind_ipi(&mut a, 1).unwrap();
        let u = alloc_unbound(&mut a, B).unwrap();
        let v = bind_virq(&mut a, Virq::DOM_EXC, 0).unwrap();
        let p = bind_pirq(&mut a, 3).unwrap();
        let SendOutcome::Local(d) = send(&a, &ab, ipi).unwrap() else {
            panic!("IPI send must be local");
        };
        assert_eq!(d.kick, Some(1));
        assert!(ab.pending(ipi) && ab.upcall(1) && !ab.upcall(0));
        assert_eq!(send(&a, &ab, u), Ok(SendOutcome::Local(Delivery::NONE)));
        assert!(!ab.pending(u));
        for port in HOSTILE.into_iter().chain([v, p, 20]) {
            assert_eq!(send(&a, &ab, port), Err(Errno::Inval), "{port}");
        }
    }

    #[test]
    fn bind_virq_rules() {
        let mut a = table(A);
        assert_eq!(bind_virq(&mut a, Virq::TIMER, 1), Ok(1));
        assert_eq!(bind_virq(&mut a, Virq::TIMER, 1), Err(Errno::Exist));
        assert_eq!(bind_virq(&mut a, Virq::TIMER, 0), Ok(2));
        assert_eq!(bind_virq(&mut a, Virq::TIMER, 2), Err(Errno::NoEnt));
        assert_eq!(bind_virq(&mut a, Virq::TIMER, u32::MAX), Err(Errno::NoEnt));
        assert_eq!(bind_virq(&mut a, Virq::DOM_EXC, 1), Err(Errno::Inval));
        // Global check comes before the vCPU check, as in Xen.
        assert_eq!(bind_virq(&mut a, Virq::DOM_EXC, 9), Err(Errno::Inval));
        assert_eq!(bind_virq(&mut a, Virq::DOM_EXC, 0), Ok(3));
        assert_eq!(bind_virq(&mut a, Virq::DOM_EXC, 0), Err(Errno::Exist));
        assert_eq!(a.virq_port(1, Virq::TIMER), Some(1));
        assert_eq!(a.virq_port(0, Virq::TIMER), Some(2));
        assert_eq!(a.virq_port(0, Virq::DOM_EXC), Some(3));
        assert_eq!(a.channel(1).unwrap().notify_vcpu, 1);
        let mut full = small_table(A, 1);
        assert_eq!(bind_virq(&mut full, Virq::DEBUG, 0), Ok(1));
        assert_eq!(bind_virq(&mut full, Virq::TIMER, 0), Err(Errno::NoSpc));
        assert_eq!(full.virq_port(0, Virq::TIMER), None);
    }

    #[test]
    fn bind_ipi_and_pirq_rules() {
        let mut a = table(A);
        assert_eq!(bind_ipi(&mut a, 1), Ok(1));
        assert_eq!(a.channel(1).unwrap().notify_vcpu, 1);
        assert_eq!(bind_ipi(&mut a, 2), Err(Errno::NoEnt));
        assert_eq!(bind_ipi(&mut a, u32::MAX), Err(Errno::NoEnt));
        assert_eq!(bind_pirq(&mut a, 31), Ok(2));
        assert_eq!(bind_pirq(&mut a, 31), Err(Errno::Exist));
        assert_eq!(bind_pirq(&mut a, 32), Err(Errno::Inval));
        assert_eq!(bind_pirq(&mut a, u32::MAX), Err(Errno::Inval));
        assert_eq!(a.pirq_port(31), Some(2));
        let mut full = small_table(A, 0);
        assert_eq!(bind_ipi(&mut full, 0), Err(Errno::NoSpc));
        assert_eq!(bind_pirq(&mut full, 1), Err(Errno::NoSpc));
        assert_eq!(full.pirq_port(1), None);
    }

    #[test]
    fn status_reports_every_state() {
        let mut a = table(A);
        let mut b = table(B);
        let ab = MockBits::new(2);
        let u = alloc_unbound(&mut a, C).unwrap();
        let (i, bport) = connect(&mut a, &ab, &mut b);
        let p = bind_pirq(&mut a, 7).unwrap();
        let v = bind_virq(&mut a, Virq::TIMER, 1).unwrap();
        let ipi = bind_ipi(&mut a, 1).unwrap();
        let mut s = EvtchnStatus {
            dom: 0x7FF0,
            port: 0,
            ..Default::default()
        };
        let mut check = |port, st, vcpu, u: [u32; 2]| {
            status(&a, port, &mut s).unwrap();
            assert_eq!((s.status, s.vcpu), (st, vcpu), "port {port}");
            if st != EVTCHNSTAT_CLOSED && st != EVTCHNSTAT_IPI {
                assert_eq!(s.u, u, "port {port}");
            }
            assert_eq!(s.dom, 0x7FF0, "inputs are left alone");
        };
        check(0, EVTCHNSTAT_CLOSED, 0, [0, 0]);
        check(63, EVTCHNSTAT_CLOSED, 0, [0, 0]);
        check(u, EVTCHNSTAT_UNBOUND, 0, [u32::from(C), 0]);
        check(i, EVTCHNSTAT_INTERDOMAIN, 0, [u32::from(B), bport]);
        check(p, EVTCHNSTAT_PIRQ, 0, [7, 0]);
        check(v, EVTCHNSTAT_VIRQ, 1, [0, 0]);
        check(ipi, EVTCHNSTAT_IPI, 1, [0, 0]);
        let mut s = EvtchnStatus::default();
        for port in [64, 4096, u32::MAX] {
            assert_eq!(status(&a, port, &mut s), Err(Errno::Inval));
        }
        assert_eq!(s, EvtchnStatus::default());
    }

    #[test]
    fn bind_vcpu_rules_and_effect() {
        let (mut a, mut b) = (table(A), table(B));
        let (ab, bb) = (MockBits::new(2), MockBits::new(2));
        let (aport, bport) = connect(&mut a, &ab, &mut b);
        let u = alloc_unbound(&mut a, B).unwrap();
        let g = bind_virq(&mut a, Virq::DOM_EXC, 0).unwrap();
        let t = bind_virq(&mut a, Virq::TIMER, 0).unwrap();
        let i = bind_ipi(&mut a, 0).unwrap();
        let p = bind_pirq(&mut a, 1).unwrap();
        for port in [aport, u, g, p] {
            assert_eq!(bind_vcpu(&mut a, port, 1), Ok(()), "{port}");
            assert_eq!(a.channel(port).unwrap().notify_vcpu, 1);
        }
        for port in [t, i, 0, 40, 4096, u32::MAX] {
            assert_eq!(bind_vcpu(&mut a, port, 1), Err(Errno::Inval), "{port}");
        }
        // ENOENT wins over a bad port.
        assert_eq!(bind_vcpu(&mut a, u32::MAX, 2), Err(Errno::NoEnt));
        assert_eq!(bind_vcpu(&mut a, aport, 2), Err(Errno::NoEnt));
        // Events now go to vCPU 1.
        ab.guest_ack(0);
        ab.guest_clear(aport);
        let SendOutcome::Remote(r) = send(&b, &bb, bport).unwrap() else {
            panic!("interdomain send must be remote");
        };
        assert_eq!(deliver_remote(&a, &ab, r).kick, Some(1));
        assert!(ab.upcall(1) && !ab.upcall(0));
        // The global VIRQ keeps its slot on vCPU 0's row.
        assert_eq!(a.virq_port(0, Virq::DOM_EXC), Some(g));
    }

    #[test]
    fn unmask_redelivers_to_the_notify_vcpu() {
        let mut a = table(A);
        let ab = MockBits::new(2);
        let i = bind_ipi(&mut a, 1).unwrap();
        ab.set_mask(i, true);
        let SendOutcome::Local(d) = send(&a, &ab, i).unwrap() else {
            panic!("IPI send must be local");
        };
        assert_eq!(d.kick, None);
        assert!(!ab.upcall(1));
        let d = unmask(&a, &ab, i).unwrap();
        assert_eq!(d.kick, Some(1));
        assert!(ab.upcall(1));
        // Any valid port can be unmasked, even a free one or port 0.
        assert_eq!(unmask(&a, &ab, 0), Ok(Delivery::NONE));
        assert_eq!(unmask(&a, &ab, 63), Ok(Delivery::NONE));
        for port in [64, 4096, u32::MAX] {
            assert_eq!(unmask(&a, &ab, port), Err(Errno::Inval));
        }
    }

    #[test]
    fn is_pending_checks_the_port() {
        let mut a = table(A);
        let ab = MockBits::new(2);
        let i = bind_ipi(&mut a, 0).unwrap();
        assert_eq!(is_pending(&a, &ab, i), Ok(false));
        let _ = send(&a, &ab, i).unwrap();
        assert_eq!(is_pending(&a, &ab, i), Ok(true));
        assert_eq!(is_pending(&a, &ab, 64), Err(Errno::Inval));
        assert_eq!(is_pending(&a, &ab, u32::MAX), Err(Errno::Inval));
    }

    #[test]
    fn table_full_then_freed() {
        let mut a = table(A);
        for want in 1..4096 {
            assert_eq!(bind_ipi(&mut a, 0), Ok(want));
        }
        assert_eq!(bind_ipi(&mut a, 0), Err(Errno::NoSpc));
        assert_eq!(alloc_unbound(&mut a, B), Err(Errno::NoSpc));
        assert_eq!(bind_virq(&mut a, Virq::TIMER, 0), Err(Errno::NoSpc));
        let ab = MockBits::new(2);
        close(&mut a, &ab, None, 1000).unwrap();
        assert_eq!(alloc_unbound(&mut a, B), Ok(1000));
    }

    struct Registry {
        tables: BTreeMap<DomId, PortTable>,
        closed: Vec<(EvtchnPort, PortState)>,
    }

    impl PeerTables for Registry {
        fn with_table(&mut self, dom: DomId, f: &mut dyn FnMut(Option<&mut PortTable>)) {
            f(self.tables.get_mut(&dom));
        }
        fn closed(&mut self, port: EvtchnPort, was: PortState) {
            self.closed.push((port, was));
        }
    }

    #[test]
    fn reset_closes_everything_and_unbinds_peers() {
        let (mut a, mut b) = (table(A), table(B));
        let (ab, bb) = (MockBits::new(2), MockBits::new(2));
        let (aport, bport) = connect(&mut a, &ab, &mut b);
        let (bport2, aport2) = connect(&mut b, &bb, &mut a);
        let r = alloc_unbound(&mut a, A).unwrap();
        let (l, _) = bind_interdomain(&mut a, &ab, Peer::SelfDomain, r).unwrap();
        bind_virq(&mut a, Virq::TIMER, 1).unwrap();
        let p = bind_pirq(&mut a, 4).unwrap();
        let mut reg = Registry {
            tables: BTreeMap::from([(B, b)]),
            closed: Vec::new(),
        };
        assert_eq!(reset(&mut a, &ab, &mut reg), Ok(()));
        assert_eq!(a.active_ports(), 0);
        assert_eq!(a.open_ports().count(), 0);
        assert!((1..a.valid_ports()).all(|p| !ab.pending(p)));
        let b = &reg.tables[&B];
        assert_eq!(state(b, bport), unbound(A));
        assert_eq!(state(b, bport2), unbound(A));
        assert_eq!(reg.closed.len(), 6);
        assert!(reg.closed.contains(&(p, PortState::Pirq(4))));
        assert!(reg.closed.contains(&(aport, interdomain(B, bport))));
        assert!(reg.closed.contains(&(aport2, interdomain(B, bport2))));
        assert!(
            reg.closed.contains(&(l, interdomain(A, r)))
                || reg.closed.contains(&(r, interdomain(A, l)))
        );
        assert_eq!(a.virq_port(1, Virq::TIMER), None);
        // The table is usable again.
        assert_eq!(bind_ipi(&mut a, 0), Ok(1));
    }

    #[test]
    fn reset_with_missing_or_mismatched_peers() {
        let (mut a, mut b) = (table(A), table(B));
        let ab = MockBits::new(2);
        connect(&mut a, &ab, &mut b);
        // B is gone: A's end is still freed.
        let mut reg = Registry {
            tables: BTreeMap::new(),
            closed: Vec::new(),
        };
        assert_eq!(reset(&mut a, &ab, &mut reg), Ok(()));
        assert_eq!(a.active_ports(), 0);
        // The registry hands back a table that is not B: the port stays open.
        connect(&mut a, &ab, &mut b);
        struct Liar(PortTable);
        impl PeerTables for Liar {
            fn with_table(&mut self, _: DomId, f: &mut dyn FnMut(Option<&mut PortTable>)) {
                f(Some(&mut self.0));
            }
        }
        let mut liar = Liar(table(C));
        assert_eq!(reset(&mut a, &ab, &mut liar), Err(Errno::Again));
        assert_eq!(a.active_ports(), 1);
    }

    #[test]
    fn dying_domain_cannot_bind_but_can_close() {
        let mut a = table(A);
        let ab = MockBits::new(2);
        let i = bind_ipi(&mut a, 0).unwrap();
        a.set_dying();
        assert_eq!(bind_ipi(&mut a, 0), Err(Errno::Inval));
        assert_eq!(bind_virq(&mut a, Virq::TIMER, 0), Err(Errno::Inval));
        assert_eq!(bind_pirq(&mut a, 0), Err(Errno::Inval));
        let mut reg = Registry {
            tables: BTreeMap::new(),
            closed: Vec::new(),
        };
        assert_eq!(reset(&mut a, &ab, &mut reg), Ok(()));
        assert_eq!(reg.closed, vec![(i, PortState::Ipi)]);
    }
}
