//! A domain's PIRQs: which GSI each is mapped to, chosen and checked as Xen 4.17's map_pirq/unmap_pirq do.
//
// Only GSIs are mapped (xen-core has no MSIs), so a domain has at most one PIRQ per GSI and
// the table is a fixed array indexed by GSI. A PIRQ unmapped while an event channel is still
// bound to it stays behind as "stale" (Xen's forced unbind): it delivers nothing, and its GSI
// cannot be mapped again until the port is closed. As in Xen, unmapping also takes the
// domain's access to the IRQ away: that GSI cannot be mapped again (`EPERM`).

use hypercall_abi::Errno;
use hypercall_abi::physdev::XENIRQSTAT_NEEDS_EOI;

use super::lines::{self, NR_GSIS, NR_ISA_IRQS};

/// One GSI's PIRQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    pirq: u32,
    /// False once unmapped while bound (until the port is closed).
    live: bool,
}

/// What [`PirqTable::unmap`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// The GSI the PIRQ was mapped to.
    pub gsi: u32,
    /// A port was bound to it: the line must be let go of (the port stays, delivering nothing).
    pub was_bound: bool,
}

/// A domain's PIRQ to GSI mappings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PirqTable {
    by_gsi: [Option<Entry>; NR_GSIS as usize],
    /// GSIs whose access an unmap took away (bit per GSI).
    revoked: u32,
}
const _: () = assert!(NR_GSIS <= u32::BITS);

impl PirqTable {
    /// A table with nothing mapped.
    pub const fn new() -> PirqTable {
        PirqTable {
            by_gsi: [None; NR_GSIS as usize],
            revoked: 0,
        }
    }

    /// The GSI `pirq` is mapped to (not counting a stale one).
    pub fn gsi_of(&self, pirq: u32) -> Option<u32> {
        self.find(pirq).filter(|(_, e)| e.live).map(|(gsi, _)| gsi)
    }

    /// The PIRQ GSI `gsi` is mapped to (not counting a stale one).
    pub fn pirq_of_gsi(&self, gsi: u32) -> Option<u32> {
        self.by_gsi
            .get(gsi as usize)
            .copied()
            .flatten()
            .filter(|e| e.live)
            .map(|e| e.pirq)
    }

    /// The GSIs with a live mapping, with their PIRQs.
    pub fn mapped(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..NR_GSIS).filter_map(|gsi| self.pirq_of_gsi(gsi).map(|pirq| (gsi, pirq)))
    }

    fn find(&self, pirq: u32) -> Option<(u32, Entry)> {
        (0..NR_GSIS).find_map(|gsi| match self.by_gsi[gsi as usize] {
            Some(e) if e.pirq == pirq => Some((gsi, e)),
            _ => None,
        })
    }

    /// PHYSDEVOP_map_pirq of type GSI for a domain with `nr_pirqs` PIRQs, once the caller
    /// checked the domain and the permission: maps GSI `index` to PIRQ `want`, or with
    /// `want` < 0 to the PIRQ it already has, else the first free one from 16 up to the GSIs'
    /// end, then from the top down (Xen's `get_free_pirq`). Returns the PIRQ.
    ///
    /// Errors in Xen's order: `EINVAL` for a GSI out of range (on xen-core: beyond the ISA
    /// IRQs, the only lines it has); `EBUSY` when the GSI's PIRQ was unmapped but is still
    /// bound, `EEXIST` when the GSI has another PIRQ, `ENOSPC` with none free; `EPERM` for the
    /// timer's GSI (no domain may have it) and for a GSI unmapped before; `EINVAL` for a PIRQ out of range; `EEXIST` for a
    /// PIRQ that holds another GSI (where Xen answers 0 and maps nothing). Nothing changes on
    /// error.
    pub fn map_gsi(&mut self, index: i32, want: i32, nr_pirqs: u32) -> Result<u32, Errno> {
        let gsi = u32::try_from(index).map_err(|_| Errno::Inval)?;
        if gsi >= NR_ISA_IRQS {
            return Err(Errno::Inval);
        }
        let current = self.by_gsi[gsi as usize];
        let pirq = match (u32::try_from(want), current) {
            (Err(_), Some(e)) if !e.live => return Err(Errno::Busy),
            (Err(_), Some(e)) => e.pirq,
            (Err(_), None) => self.free_pirq(nr_pirqs).ok_or(Errno::NoSpc)?,
            (Ok(want), Some(e)) if want != e.pirq => return Err(Errno::Exist),
            (Ok(want), _) => want,
        };
        if !lines::access_permitted(gsi) || self.revoked & (1 << gsi) != 0 {
            return Err(Errno::Perm);
        }
        if pirq >= nr_pirqs {
            return Err(Errno::Inval);
        }
        match self.find(pirq) {
            Some((other, _)) if other != gsi => Err(Errno::Exist),
            _ => {
                self.by_gsi[gsi as usize] = Some(Entry { pirq, live: true });
                Ok(pirq)
            }
        }
    }

    fn free_pirq(&self, nr_pirqs: u32) -> Option<u32> {
        let taken = |p: u32| self.find(p).is_some();
        (NR_ISA_IRQS..NR_GSIS.min(nr_pirqs))
            .find(|&p| !taken(p))
            .or_else(|| (NR_GSIS..nr_pirqs).rev().find(|&p| !taken(p)))
    }

    /// PHYSDEVOP_unmap_pirq of `pirq` (a C int) once the caller checked the domain and the
    /// permission; `bound` says whether a port is bound to it. `EINVAL` for a PIRQ out of
    /// range or not mapped (a stale one included). A bound PIRQ goes stale; either way the
    /// domain loses access to the GSI.
    pub fn unmap(&mut self, pirq: i32, nr_pirqs: u32, bound: bool) -> Result<Unmapped, Errno> {
        let pirq = u32::try_from(pirq)
            .ok()
            .filter(|&p| p < nr_pirqs)
            .ok_or(Errno::Inval)?;
        let gsi = self.gsi_of(pirq).ok_or(Errno::Inval)?;
        self.by_gsi[gsi as usize] = bound.then_some(Entry { pirq, live: false });
        self.revoked |= 1 << gsi;
        Ok(Unmapped {
            gsi,
            was_bound: bound,
        })
    }

    /// A port bound to `pirq` was closed: a stale PIRQ goes away. Returns the GSI whose line
    /// the port held, when the PIRQ is still mapped.
    pub fn unbound(&mut self, pirq: u32) -> Option<u32> {
        let (gsi, e) = self.find(pirq)?;
        if e.live {
            return Some(gsi);
        }
        self.by_gsi[gsi as usize] = None;
        None
    }

    /// EVTCHNOP_bind_pirq's checks before a port is allocated: `EINVAL` for a PIRQ out of
    /// range, `EPERM` for one not mapped (the domain has no access to its IRQ). Returns its
    /// GSI.
    pub fn bindable(&self, pirq: u32, nr_pirqs: u32) -> Result<u32, Errno> {
        if pirq >= nr_pirqs {
            return Err(Errno::Inval);
        }
        self.gsi_of(pirq).ok_or(Errno::Perm)
    }

    /// PHYSDEVOP_eoi's checks: `EINVAL` for a PIRQ out of range or one the domain knows
    /// nothing of (neither mapped, nor stale, nor `bound`).
    pub fn eoi(&self, pirq: u32, nr_pirqs: u32, bound: bool) -> Result<(), Errno> {
        if pirq >= nr_pirqs || (self.find(pirq).is_none() && !bound) {
            return Err(Errno::Inval);
        }
        Ok(())
    }
}

/// PHYSDEVOP_irq_status_query of `pirq` (a C int) for a domain with `nr_pirqs` PIRQs: its
/// `XENIRQSTAT_*` flags. Like Xen for a PV domain, every PIRQ in range needs an EOI (the
/// guest does not use an EOI bitmap) and none is shared; `EINVAL` out of range.
pub fn status_query(pirq: u32, nr_pirqs: u32) -> Result<u32, Errno> {
    if i32::try_from(pirq).is_err() || pirq >= nr_pirqs {
        return Err(Errno::Inval);
    }
    Ok(XENIRQSTAT_NEEDS_EOI)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NR: u32 = 280;

    #[test]
    fn any_pirq_is_the_first_free_from_16_then_from_the_top() {
        let mut t = PirqTable::new();
        assert_eq!(t.map_gsi(14, -1, NR), Ok(16));
        assert_eq!(t.map_gsi(15, -1, NR), Ok(17));
        assert_eq!(t.gsi_of(16), Some(14));
        assert_eq!(t.pirq_of_gsi(15), Some(17));
        // Again: the PIRQ it has.
        assert_eq!(t.map_gsi(14, -1, NR), Ok(16));
        let mut t = PirqTable::new();
        for gsi in [1, 3, 5, 6, 7, 8, 9, 10] {
            t.map_gsi(gsi, -1, NR).unwrap();
        }
        assert_eq!(t.mapped().map(|(_, p)| p).max(), Some(23));
        assert_eq!(t.map_gsi(11, -1, NR), Ok(NR - 1));
        assert_eq!(t.map_gsi(12, -1, NR), Ok(NR - 2));
        // A small PIRQ space runs out.
        let mut t = PirqTable::new();
        assert_eq!(t.map_gsi(14, -1, 17), Ok(16));
        assert_eq!(t.map_gsi(15, -1, 17), Err(Errno::NoSpc));
        assert_eq!(t.pirq_of_gsi(15), None);
    }

    #[test]
    fn fixed_pirqs_and_conflicts() {
        let mut t = PirqTable::new();
        assert_eq!(t.map_gsi(14, 14, NR), Ok(14));
        assert_eq!(t.map_gsi(14, 14, NR), Ok(14), "the same mapping again");
        assert_eq!(t.map_gsi(14, 20, NR), Err(Errno::Exist));
        assert_eq!(
            t.map_gsi(15, 14, NR),
            Err(Errno::Exist),
            "PIRQ holds GSI 14"
        );
        assert_eq!(t.map_gsi(14, 100_000, NR), Err(Errno::Exist));
        assert_eq!(t.gsi_of(14), Some(14));
        assert_eq!(t.gsi_of(20), None);
        assert_eq!(t.pirq_of_gsi(15), None);
    }

    #[test]
    fn bad_gsis_and_pirqs_are_refused() {
        let mut t = PirqTable::new();
        for gsi in [-1, 16, 23, 24, 4096, i32::MAX, i32::MIN] {
            assert_eq!(t.map_gsi(gsi, -1, NR), Err(Errno::Inval), "GSI {gsi}");
        }
        for pirq in [NR as i32, 100_000, i32::MAX] {
            assert_eq!(t.map_gsi(14, pirq, NR), Err(Errno::Inval), "PIRQ {pirq}");
        }
        assert_eq!(t.map_gsi(0, -1, NR), Err(Errno::Perm));
        assert_eq!(t.map_gsi(0, 0, NR), Err(Errno::Perm));
        assert_eq!(t, PirqTable::new());
        // Xen's kept lines other than the timer's can be mapped (binding them fails).
        assert_eq!(t.map_gsi(2, -1, NR), Ok(16));
        assert_eq!(t.map_gsi(4, 4, NR), Ok(4));
    }

    #[test]
    fn unmap_and_stale_pirqs() {
        let mut t = PirqTable::new();
        t.map_gsi(14, 14, NR).unwrap();
        t.map_gsi(15, -1, NR).unwrap();
        for pirq in [-1, NR as i32, i32::MAX, 20] {
            assert_eq!(t.unmap(pirq, NR, false), Err(Errno::Inval), "PIRQ {pirq}");
        }
        assert_eq!(
            t.unmap(16, NR, false),
            Ok(Unmapped {
                gsi: 15,
                was_bound: false
            })
        );
        assert_eq!(t.unmap(16, NR, false), Err(Errno::Inval));
        // Unmapped while bound: stale until the port closes.
        assert_eq!(
            t.unmap(14, NR, true),
            Ok(Unmapped {
                gsi: 14,
                was_bound: true
            })
        );
        assert_eq!(t.gsi_of(14), None);
        assert_eq!(t.unmap(14, NR, true), Err(Errno::Inval));
        assert_eq!(t.map_gsi(14, -1, NR), Err(Errno::Busy));
        assert_eq!(t.map_gsi(14, 20, NR), Err(Errno::Exist));
        assert_eq!(t.bindable(14, NR), Err(Errno::Perm));
        assert_eq!(
            t.eoi(14, NR, false),
            Ok(()),
            "stale PIRQs still take an EOI"
        );
        assert_eq!(t.unbound(14), None);
        assert_eq!(t.eoi(14, NR, false), Err(Errno::Inval));
        // Both GSIs were unmapped: their access is gone.
        assert_eq!(t.map_gsi(14, -1, NR), Err(Errno::Perm));
        assert_eq!(t.map_gsi(15, 15, NR), Err(Errno::Perm));
        assert_eq!(t.map_gsi(13, -1, NR), Ok(16));
    }

    #[test]
    fn unbinding_a_live_pirq_names_its_line() {
        let mut t = PirqTable::new();
        t.map_gsi(14, 14, NR).unwrap();
        assert_eq!(t.unbound(14), Some(14));
        assert_eq!(t.gsi_of(14), Some(14), "still mapped");
        assert_eq!(t.unbound(99), None);
    }

    #[test]
    fn bind_and_eoi_checks() {
        let mut t = PirqTable::new();
        t.map_gsi(14, 14, NR).unwrap();
        assert_eq!(t.bindable(14, NR), Ok(14));
        assert_eq!(t.bindable(15, NR), Err(Errno::Perm));
        assert_eq!(t.bindable(NR, NR), Err(Errno::Inval));
        assert_eq!(t.bindable(u32::MAX, NR), Err(Errno::Inval));
        assert_eq!(t.eoi(14, NR, false), Ok(()));
        assert_eq!(t.eoi(20, NR, false), Err(Errno::Inval));
        assert_eq!(t.eoi(20, NR, true), Ok(()));
        assert_eq!(t.eoi(u32::MAX, NR, true), Err(Errno::Inval));
    }

    #[test]
    fn status_query_asks_for_eoi_in_range() {
        assert_eq!(status_query(0, NR), Ok(XENIRQSTAT_NEEDS_EOI));
        assert_eq!(status_query(NR - 1, NR), Ok(XENIRQSTAT_NEEDS_EOI));
        assert_eq!(status_query(NR, NR), Err(Errno::Inval));
        assert_eq!(status_query(u32::MAX, NR), Err(Errno::Inval));
        assert_eq!(status_query(1 << 31, u32::MAX), Err(Errno::Inval));
    }
}
