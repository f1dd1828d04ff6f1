//! Xen's active grant entry: the frame a pinned grant refers to, who uses it, and its pin counts.
//!
//! The pin word packs four 8-bit counters as Xen's `active_grant_entry.pin` does: writable host
//! mappings (bits 7:0), read-only host mappings (15:8), writable and read-only device mappings
//! (23:16, 31:24; never used here, device mappings are refused). Copies in progress count as
//! host pins. No counter may reach 128: a new pin is refused while any counter has bit 7 set.

use hypercall_abi::domid::DomId;

/// One writable host mapping (Xen's `GNTPIN_hstw_inc`).
pub const PIN_HOST_RW: u32 = 1 << 0;
/// One read-only host mapping (`GNTPIN_hstr_inc`).
pub const PIN_HOST_RO: u32 = 1 << 8;
/// One writable device mapping (`GNTPIN_devw_inc`).
pub const PIN_DEV_RW: u32 = 1 << 16;
/// One read-only device mapping (`GNTPIN_devr_inc`).
pub const PIN_DEV_RO: u32 = 1 << 24;
/// The writable counters (host and device).
pub const PIN_WRITERS_MASK: u32 = (0xFF * PIN_HOST_RW) | (0xFF * PIN_DEV_RW);
/// The top bit of every counter: set in any of them refuses further pins.
pub const PIN_OVERFLOW_GUARD: u32 = 0x8080_8080;

/// The hypervisor's own record of a grant in use. While unpinned its `domid` and `frame` mean
/// nothing and are not exposed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActiveEntry {
    pin: u32,
    domid: DomId,
    frame: u64,
}

impl ActiveEntry {
    /// The packed pin counters.
    pub const fn pin(&self) -> u32 {
        self.pin
    }

    /// Some mapping or copy uses the grant.
    pub const fn is_pinned(&self) -> bool {
        self.pin != 0
    }

    /// Writable host mappings (and writable copies in progress).
    pub const fn host_rw(&self) -> u32 {
        self.pin & 0xFF
    }

    /// Read-only host mappings (and read-only copies in progress).
    pub const fn host_ro(&self) -> u32 {
        (self.pin >> 8) & 0xFF
    }

    /// Some writable pin is held.
    pub const fn has_writers(&self) -> bool {
        self.pin & PIN_WRITERS_MASK != 0
    }

    /// The domain using the grant, while pinned.
    pub const fn user(&self) -> Option<DomId> {
        if self.is_pinned() {
            Some(self.domid)
        } else {
            None
        }
    }

    /// The granted frame, while pinned.
    pub const fn frame(&self) -> Option<u64> {
        if self.is_pinned() {
            Some(self.frame)
        } else {
            None
        }
    }

    /// May `user` add a pin? Always when unpinned; when pinned only the same domain, and only
    /// while no counter is near overflow.
    pub const fn may_pin(&self, user: DomId) -> bool {
        !self.is_pinned() || (self.domid == user && self.pin & PIN_OVERFLOW_GUARD == 0)
    }

    /// Records who uses which frame; only meaningful on an unpinned entry, before its first pin.
    pub(crate) fn start(&mut self, user: DomId, frame: u64) {
        if !self.is_pinned() {
            self.domid = user;
            self.frame = frame;
        }
    }

    /// Adds one host pin. The caller checked [`Self::may_pin`], so no counter overflows.
    pub(crate) fn add_host(&mut self, readonly: bool) {
        self.pin += if readonly { PIN_HOST_RO } else { PIN_HOST_RW };
    }

    /// Drops one host pin; false (and nothing changed) when that counter is already 0.
    pub(crate) fn drop_host(&mut self, readonly: bool) -> bool {
        let (unit, count) = if readonly {
            (PIN_HOST_RO, self.host_ro())
        } else {
            (PIN_HOST_RW, self.host_rw())
        };
        if count == 0 {
            return false;
        }
        self.pin -= unit;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_units_match_xen() {
        assert_eq!(PIN_HOST_RW, 0x1);
        assert_eq!(PIN_HOST_RO, 0x100);
        assert_eq!(PIN_DEV_RW, 0x1_0000);
        assert_eq!(PIN_DEV_RO, 0x100_0000);
        assert_eq!(PIN_WRITERS_MASK, 0x00FF_00FF);
    }

    #[test]
    fn counts_and_identity_follow_the_pins() {
        let mut a = ActiveEntry::default();
        assert!(!a.is_pinned());
        assert_eq!(a.user(), None);
        assert!(a.may_pin(5));
        a.start(5, 0x99);
        a.add_host(true);
        a.add_host(false);
        a.add_host(true);
        assert_eq!((a.host_ro(), a.host_rw()), (2, 1));
        assert_eq!(a.user(), Some(5));
        assert_eq!(a.frame(), Some(0x99));
        assert!(a.has_writers());
        assert!(!a.may_pin(6));
        // A second start while pinned changes nothing.
        a.start(6, 0x11);
        assert_eq!((a.user(), a.frame()), (Some(5), Some(0x99)));
        assert!(a.drop_host(false));
        assert!(!a.has_writers());
        assert!(!a.drop_host(false));
        assert!(a.drop_host(true) && a.drop_host(true));
        assert!(!a.drop_host(true));
        assert_eq!(a.pin(), 0);
        assert_eq!(a.frame(), None);
    }

    #[test]
    fn a_counter_at_128_refuses_more_pins() {
        let mut a = ActiveEntry::default();
        a.start(1, 2);
        for _ in 0..127 {
            assert!(a.may_pin(1));
            a.add_host(true);
        }
        assert!(a.may_pin(1));
        a.add_host(true);
        assert_eq!(a.host_ro(), 128);
        assert!(!a.may_pin(1));
    }
}
