//! A domain's grant state: its own table (as a granter) and its maptrack (as a mapper).

use hypercall_abi::Errno;

use super::maptrack::Maptrack;
use super::table::{GrantLimits, GrantTable, SharedFrameAlloc};

/// What every domain carries for grants. The caller holds the domain's lock for every use.
#[derive(Debug)]
pub struct DomainGrants {
    /// The entries it grants to others, in frames shared with it.
    pub table: GrantTable,
    /// The grants of others (or its own) that it has mapped, by handle.
    pub maptrack: Maptrack,
}

impl DomainGrants {
    /// A fresh table of one shared frame and an empty maptrack, both bounded by `limits`
    /// (Xen's `grant_table_init`). -ENOMEM, with nothing kept, when the frame cannot be had.
    pub fn new(limits: GrantLimits, alloc: &mut impl SharedFrameAlloc) -> Result<Self, Errno> {
        Ok(DomainGrants {
            table: GrantTable::new(limits, alloc)?,
            maptrack: Maptrack::new(limits.max_maptrack_frames()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::mock::Frames;

    #[test]
    fn limits_reach_both_halves() {
        let mut alloc = Frames::new(40);
        let limits = GrantLimits::new(3, 2).unwrap();
        let g = DomainGrants::new(limits, &mut alloc).unwrap();
        assert_eq!(g.table.frames(), &[40]);
        assert_eq!(g.table.max_frames(), 3);
        assert_eq!(g.maptrack.capacity(), 512);
        assert_eq!(g.maptrack.in_use(), 0);
    }

    #[test]
    fn no_memory_no_grants() {
        let mut alloc = Frames::new(40);
        alloc.budget = Some(0);
        assert!(matches!(
            DomainGrants::new(GrantLimits::DEFAULT, &mut alloc),
            Err(Errno::NoMem)
        ));
    }
}
