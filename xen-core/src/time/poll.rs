//! SCHEDOP_poll as Xen 4.17 answers it: the argument checks, the port scan, the wake rule.
//!
//! Xen's order: more than 128 ports is -EINVAL; a port array outside guest space is -EFAULT;
//! an event already deliverable (upcall pending and not masked) returns 0 at once; then each
//! port in turn: unreadable -EFAULT, not a port that can be polled -EINVAL, already pending
//! returns 0 (the ports after it are not looked at). Otherwise the vCPU blocks until one of
//! the ports becomes pending, an event is kicked to it (its upcall_pending goes from 0 to 1),
//! or the timeout (absolute system time; 0 is none) passes. Xen wakes a poller of several
//! ports when any port of its domain becomes pending; xen-core only for the listed ones (the
//! guest polls again either way).

use hypercall_abi::Errno;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::sched::SchedPoll;

/// The most ports one poll may name (Xen's "fairly arbitrary limit").
pub const MAX_POLL_PORTS: u32 = 128;

/// A checked SCHEDOP_poll argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollRequest {
    /// Guest address of the `u32` port array.
    pub ports: u64,
    /// Number of ports, at most [`MAX_POLL_PORTS`].
    pub nr_ports: u32,
    /// Absolute system time to give up at.
    pub timeout: Option<u64>,
}

impl PollRequest {
    /// Checks the guest's `sched_poll` (read once): `Errno::Inval` for too many ports,
    /// `Errno::Fault` for an array that is not in guest space.
    pub fn decode(p: &SchedPoll) -> Result<Self, Errno> {
        if p.nr_ports > MAX_POLL_PORTS {
            return Err(Errno::Inval);
        }
        if !guest_range_ok(p.ports, u64::from(p.nr_ports) * 4) {
            return Err(Errno::Fault);
        }
        Ok(PollRequest {
            ports: p.ports,
            nr_ports: p.nr_ports,
            timeout: (p.timeout != 0).then_some(p.timeout),
        })
    }
}

/// The ports of a poll that blocked, read once from the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollPorts {
    ports: [u32; MAX_POLL_PORTS as usize],
    len: usize,
}

/// How a poll goes on after its port scan.
// Made once per poll on the hypercall's stack and moved once; boxing the ports would allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollScan {
    /// A listed port is pending already: the poll returns 0.
    Pending,
    /// None is: the vCPU blocks on these ports.
    Block(PollPorts),
}

impl PollPorts {
    /// Scans `req`'s ports in order: `read(i)` reads port `i` from the guest (`Errno::Fault`
    /// when it cannot), `poll(port)` says whether it is pending (`Errno::Inval` for a port
    /// that cannot be polled). Stops at the first error or pending port, as Xen does.
    pub fn scan(
        req: &PollRequest,
        mut read: impl FnMut(u32) -> Result<u32, Errno>,
        mut poll: impl FnMut(u32) -> Result<bool, Errno>,
    ) -> Result<PollScan, Errno> {
        let mut out = PollPorts {
            ports: [0; MAX_POLL_PORTS as usize],
            len: 0,
        };
        for (i, slot) in (0..req.nr_ports).zip(out.ports.iter_mut()) {
            let port = read(i)?;
            if poll(port)? {
                return Ok(PollScan::Pending);
            }
            *slot = port;
            out.len += 1;
        }
        Ok(PollScan::Block(out))
    }

    /// The ports, in the guest's order.
    pub fn ports(&self) -> &[u32] {
        self.ports.get(..self.len).unwrap_or(&[])
    }
}

/// What wakes a blocked poller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollWait {
    /// The listed ports.
    pub ports: PollPorts,
    /// Its upcall_pending was already set when it blocked (masked): only a change from 0 to 1
    /// kicks a vCPU, so that flag no longer wakes it.
    pub upcall_was_pending: bool,
}

impl PollWait {
    /// Whether the poller wakes: a listed port is pending (`pending(port)`), an event was
    /// kicked to it (`upcall_pending` now, not before), or its timeout passed.
    pub fn wakes(
        &self,
        pending: impl Fn(u32) -> bool,
        upcall_pending: bool,
        timed_out: bool,
    ) -> bool {
        timed_out
            || (upcall_pending && !self.upcall_was_pending)
            || self.ports.ports().iter().any(|&p| pending(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypercall_abi::layout::HYPERVISOR_VIRT_START;

    fn poll_arg(ports: u64, nr_ports: u32, timeout: u64) -> SchedPoll {
        SchedPoll {
            ports,
            nr_ports,
            pad: 0,
            timeout,
        }
    }

    #[test]
    fn decode_checks_count_then_range() {
        let ok = PollRequest::decode(&poll_arg(0x1000, 128, 5)).unwrap();
        assert_eq!(ok.nr_ports, 128);
        assert_eq!(ok.timeout, Some(5));
        assert_eq!(
            PollRequest::decode(&poll_arg(0x1000, 1, 0))
                .unwrap()
                .timeout,
            None
        );
        assert_eq!(
            PollRequest::decode(&poll_arg(0x1000, 129, 0)),
            Err(Errno::Inval)
        );
        // The count is checked before the address.
        assert_eq!(
            PollRequest::decode(&poll_arg(HYPERVISOR_VIRT_START, u32::MAX, 0)),
            Err(Errno::Inval)
        );
        assert_eq!(
            PollRequest::decode(&poll_arg(HYPERVISOR_VIRT_START, 1, 0)),
            Err(Errno::Fault)
        );
        assert_eq!(
            PollRequest::decode(&poll_arg(HYPERVISOR_VIRT_START - 4, 2, 0)),
            Err(Errno::Fault)
        );
        // No ports: any address that is a valid empty range.
        assert!(PollRequest::decode(&poll_arg(0, 0, 0)).is_ok());
    }

    #[test]
    fn scan_stops_at_the_first_error_or_pending_port() {
        let req = PollRequest {
            ports: 0x1000,
            nr_ports: 4,
            timeout: None,
        };
        let guest = [3u32, 9, 5000, 7];
        let mut read_count = 0;
        let r = PollPorts::scan(
            &req,
            |i| {
                read_count += 1;
                Ok(guest[i as usize])
            },
            |p| {
                if p >= 4096 {
                    Err(Errno::Inval)
                } else {
                    Ok(false)
                }
            },
        );
        assert_eq!(r, Err(Errno::Inval));
        assert_eq!(read_count, 3);
        let r = PollPorts::scan(&req, |i| Ok(guest[i as usize]), |p| Ok(p == 9));
        assert_eq!(r, Ok(PollScan::Pending));
        let r = PollPorts::scan(
            &req,
            |i| if i == 1 { Err(Errno::Fault) } else { Ok(1) },
            |_| Ok(false),
        );
        assert_eq!(r, Err(Errno::Fault));
        let two = PollRequest { nr_ports: 2, ..req };
        match PollPorts::scan(&two, |i| Ok(guest[i as usize]), |_| Ok(false)) {
            Ok(PollScan::Block(p)) => assert_eq!(p.ports(), [3, 9]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wake_rule() {
        let req = PollRequest {
            ports: 0x1000,
            nr_ports: 2,
            timeout: Some(1),
        };
        let Ok(PollScan::Block(ports)) = PollPorts::scan(&req, |i| Ok(i + 5), |_| Ok(false)) else {
            panic!("no block")
        };
        let w = PollWait {
            ports,
            upcall_was_pending: false,
        };
        assert!(!w.wakes(|_| false, false, false));
        assert!(w.wakes(|_| false, false, true));
        assert!(w.wakes(|p| p == 6, false, false));
        assert!(!w.wakes(|p| p == 7, false, false));
        assert!(w.wakes(|_| false, true, false));
        // A flag already set when the poll began wakes nothing.
        let stale = PollWait {
            upcall_was_pending: true,
            ..w
        };
        assert!(!stale.wakes(|_| false, true, false));
        assert!(stale.wakes(|p| p == 5, true, false));
    }
}
