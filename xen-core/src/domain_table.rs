//! The domains by id: Xen's domain list, with Xen's rule for handing out new domain ids.
// Slots are indexed by domid, so a lookup is one bounds check. The running domain lives out of
// its slot ([`DomainTable::take`]; its id stays reserved) until another one runs, which lets a
// handler hold it and other domains mutably at the same time without aliasing.

use alloc::boxed::Box;
use alloc::vec::Vec;

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_FIRST_RESERVED, DomId};

/// Domains of type `T` by id.
pub struct DomainTable<T> {
    slots: Vec<Slot<T>>,
    /// Where the search for the next free id starts (Xen's rover: ids are not reused at once).
    rover: DomId,
}

enum Slot<T> {
    Free,
    Present(Box<T>),
    /// Taken out by [`DomainTable::take`]; the id stays in use.
    Out,
}

impl<T> Default for DomainTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> DomainTable<T> {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            slots: Vec::new(),
            rover: 0,
        }
    }

    fn slot(&self, id: DomId) -> Option<&Slot<T>> {
        self.slots.get(usize::from(id))
    }

    /// Whether `id` names a domain (present or taken out).
    pub fn contains(&self, id: DomId) -> bool {
        matches!(self.slot(id), Some(Slot::Present(_) | Slot::Out))
    }

    /// Puts `dom` at `id`: `-EINVAL` for a reserved id, `-EEXIST` if it is taken, `-ENOMEM`
    /// if the table cannot grow.
    pub fn insert(&mut self, id: DomId, dom: Box<T>) -> Result<(), Errno> {
        if id >= DOMID_FIRST_RESERVED {
            return Err(Errno::Inval);
        }
        if self.contains(id) {
            return Err(Errno::Exist);
        }
        let index = usize::from(id);
        if index >= self.slots.len() {
            self.slots
                .try_reserve(index + 1 - self.slots.len())
                .map_err(|_| Errno::NoMem)?;
            self.slots.resize_with(index + 1, || Slot::Free);
        }
        self.slots[index] = Slot::Present(dom);
        Ok(())
    }

    /// A free id for a new domain, as Xen picks it: the first free one after the last handed
    /// out, wrapping to 1 (0 is the first domain's), `-ENOMEM` when all are taken. The id is
    /// not reserved until [`insert`](Self::insert).
    pub fn alloc_id(&mut self) -> Result<DomId, Errno> {
        let span = DOMID_FIRST_RESERVED - 1;
        for step in 0..span {
            let id = 1 + (self.rover + step) % span;
            if !self.contains(id) {
                self.rover = id;
                return Ok(id);
            }
        }
        Err(Errno::NoMem)
    }

    /// The domain `id`, unless it is absent or taken out.
    pub fn get(&self, id: DomId) -> Option<&T> {
        match self.slot(id)? {
            Slot::Present(d) => Some(d),
            _ => None,
        }
    }

    /// The domain `id` mutably, unless it is absent or taken out.
    pub fn get_mut(&mut self, id: DomId) -> Option<&mut T> {
        match self.slots.get_mut(usize::from(id))? {
            Slot::Present(d) => Some(d),
            _ => None,
        }
    }

    /// Takes domain `id` out of its slot (the id stays in use) until [`put_back`](Self::put_back).
    pub fn take(&mut self, id: DomId) -> Option<Box<T>> {
        let slot = self.slots.get_mut(usize::from(id))?;
        match core::mem::replace(slot, Slot::Out) {
            Slot::Present(d) => Some(d),
            other => {
                *slot = other;
                None
            }
        }
    }

    /// Returns a domain taken out with [`take`](Self::take). Returns it back if `id` was not
    /// taken out.
    pub fn put_back(&mut self, id: DomId, dom: Box<T>) -> Result<(), Box<T>> {
        match self.slots.get_mut(usize::from(id)) {
            Some(slot @ Slot::Out) => {
                *slot = Slot::Present(dom);
                Ok(())
            }
            _ => Err(dom),
        }
    }

    /// Removes domain `id` (present or taken out) and frees its id. Returns it if present.
    pub fn remove(&mut self, id: DomId) -> Option<Box<T>> {
        let slot = self.slots.get_mut(usize::from(id))?;
        match core::mem::replace(slot, Slot::Free) {
            Slot::Present(d) => Some(d),
            _ => None,
        }
    }

    /// The ids in use, in increasing order (taken-out ones included).
    pub fn ids(&self) -> impl Iterator<Item = DomId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s, Slot::Free))
            .map(|(i, _)| i as DomId)
    }

    /// The present domains with their ids, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (DomId, &T)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            Slot::Present(d) => Some((i as DomId, &**d)),
            _ => None,
        })
    }

    /// The present domains mutably, in increasing order of id.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (DomId, &mut T)> + '_ {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Present(d) => Some((i as DomId, &mut **d)),
                _ => None,
            })
    }

    /// How many ids are in use.
    pub fn len(&self) -> usize {
        self.ids().count()
    }

    /// Whether no id is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ids: &[DomId]) -> DomainTable<u32> {
        let mut t = DomainTable::new();
        for &id in ids {
            t.insert(id, Box::new(u32::from(id) * 10)).unwrap();
        }
        t
    }

    #[test]
    fn insert_get_and_remove() {
        let mut t = table(&[0, 3]);
        assert_eq!(t.get(0), Some(&0));
        assert_eq!(t.get(3), Some(&30));
        assert_eq!(t.get(1), None);
        assert_eq!(t.get(9999), None);
        assert_eq!(t.insert(3, Box::new(1)), Err(Errno::Exist));
        assert_eq!(
            t.insert(DOMID_FIRST_RESERVED, Box::new(1)),
            Err(Errno::Inval)
        );
        assert_eq!(t.insert(u16::MAX, Box::new(1)), Err(Errno::Inval));
        assert_eq!(t.ids().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(t.remove(3).map(|b| *b), Some(30));
        assert_eq!(t.remove(3), None);
        assert_eq!(t.len(), 1);
        assert!(!t.is_empty());
    }

    #[test]
    fn ids_are_handed_out_after_the_last_and_wrap() {
        let mut t = table(&[0]);
        assert_eq!(t.alloc_id(), Ok(1));
        t.insert(1, Box::new(1)).unwrap();
        assert_eq!(t.alloc_id(), Ok(2));
        t.insert(2, Box::new(2)).unwrap();
        t.remove(1);
        // Not reused at once: the rover moves on.
        assert_eq!(t.alloc_id(), Ok(3));
        t.rover = DOMID_FIRST_RESERVED - 1;
        assert_eq!(t.alloc_id(), Ok(1), "wraps past the reserved range to 1");
    }

    #[test]
    fn a_full_table_has_no_id_left() {
        let mut t = DomainTable::new();
        for id in 0..DOMID_FIRST_RESERVED {
            t.insert(id, Box::new(0u8)).unwrap();
        }
        assert_eq!(t.alloc_id(), Err(Errno::NoMem));
    }

    #[test]
    fn a_taken_domain_keeps_its_id_until_put_back() {
        let mut t = table(&[0, 1]);
        let d0 = t.take(0).unwrap();
        assert!(t.contains(0));
        assert_eq!(t.get(0), None);
        assert!(t.take(0).is_none(), "cannot be taken twice");
        assert_eq!(t.insert(0, Box::new(5)), Err(Errno::Exist));
        assert_eq!(t.ids().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(t.iter().map(|(id, _)| id).collect::<Vec<_>>(), [1]);
        *t.get_mut(1).unwrap() += 1;
        assert_eq!(t.put_back(1, Box::new(7)).map_err(|b| *b), Err(7));
        t.put_back(0, d0).unwrap();
        assert_eq!(t.get(0), Some(&0));
        assert_eq!(t.get(1), Some(&11));
    }
}
