//! The v1 grant entry a guest shares with us: one-time reads and GTF_reading/GTF_writing by compare-and-swap.
//!
//! A v1 entry is 8 bytes in a frame the granting guest can write at any time: `flags` (u16),
//! `domid` (u16), `frame` (u32). Xen treats `flags` and `domid` as one 32-bit word so that it can
//! check both and set the in-use bits in one compare-and-swap (`_set_status_v1`), and reads
//! `frame` only once that succeeded. Facts relied on, in our words:
//! - An entry that is not pinned yet must be of type `GTF_permit_access` (for a mapping also
//!   without `GTF_sub_page`) and name the domain asking; an entry already pinned is not checked
//!   again (the active entry is the reference).
//! - A writable use sets `GTF_reading | GTF_writing` and is refused when `GTF_readonly` is set,
//!   even if the entry is already pinned; a read-only use sets `GTF_reading`.
//! - The compare-and-swap is attempted at most five times; a guest that keeps changing the word
//!   in between makes the request fail with `GNTST_general_error` (no livelock).
//! - Every refusal here is `GNTST_general_error`, Xen's status for all of them.
//! - When a use ends, `GTF_writing` is cleared once no writable pin is left and `GTF_reading`
//!   once no pin at all is left (an atomic clear of just those bits).

use hypercall_abi::domid::DomId;
use hypercall_abi::grant_table::{
    GNTST_GENERAL_ERROR, GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_SUB_PAGE, GTF_TYPE_MASK,
    GTF_WRITING,
};

/// Bytes of one v1 grant entry.
pub const ENTRY_BYTES: usize = 8;
/// v1 grant entries in one 4 KiB shared frame.
pub const ENTRIES_PER_FRAME: u32 = 512;
/// Compare-and-swap attempts on one entry before the guest is taken to be misbehaving.
pub const CMPXCHG_ATTEMPTS: u32 = 5;

/// Where one grant entry lives: a shared frame and the byte offset of the entry in it
/// (a multiple of [`ENTRY_BYTES`] below 4096).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntrySlot {
    /// Machine frame of the shared grant table page.
    pub mfn: u64,
    /// Byte offset of the entry in that frame.
    pub offset: usize,
}

/// The first 32 bits of an entry: `flags` in bits 15:0 and `domid` in bits 31:16 (x86 is
/// little endian, so this is the word at the entry's address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `GTF_*`.
    pub flags: u16,
    /// The domain the grant is for.
    pub domid: DomId,
}

impl Header {
    /// Splits the 32-bit word.
    pub const fn from_raw(raw: u32) -> Self {
        Header {
            flags: raw as u16,
            domid: (raw >> 16) as u16,
        }
    }

    /// The 32-bit word.
    pub const fn raw(self) -> u32 {
        (self.flags as u32) | ((self.domid as u32) << 16)
    }
}

/// Access to grant entries in frames shared with a (possibly hostile) guest. Each call is one
/// atomic access of guest-visible memory; the binary implements it over the direct map, host
/// tests over a mock that can race.
pub trait GrantEntries {
    /// Reads the header word (flags and domid) of the entry, once.
    fn read_header(&self, slot: EntrySlot) -> u32;
    /// Reads the `frame` field of the entry, once.
    fn read_frame(&self, slot: EntrySlot) -> u32;
    /// Atomically replaces the header word by `new` if it still is `old`; otherwise leaves it
    /// and returns the value found.
    fn cmpxchg_header(&mut self, slot: EntrySlot, old: u32, new: u32) -> Result<(), u32>;
    /// Atomically clears `bits` in the entry's flags, leaving the other bits as the guest has
    /// them.
    fn clear_flags(&mut self, slot: EntrySlot, bits: u16);
}

/// How an entry is about to be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryUse {
    /// The domain that maps or copies.
    pub user: DomId,
    /// Read-only use (else read-write).
    pub readonly: bool,
    /// A mapping (sub-page grants refused) rather than a copy.
    pub mapping: bool,
    /// The grant already has an active pin (type and domid then not checked again).
    pub pinned: bool,
}

/// Marks the entry in use as Xen's `_set_status_v1` does: checks it (see the module
/// documentation) and sets `GTF_reading`, plus `GTF_writing` for a writable use, by
/// compare-and-swap, at most [`CMPXCHG_ATTEMPTS`] times. `Err(GNTST_general_error)` leaves the
/// entry as the guest has it.
pub fn mark_in_use<E: GrantEntries + ?Sized>(
    entries: &mut E,
    slot: EntrySlot,
    how: EntryUse,
) -> Result<(), i16> {
    let type_mask = if how.mapping {
        GTF_TYPE_MASK | GTF_SUB_PAGE
    } else {
        GTF_TYPE_MASK
    };
    let mut seen = entries.read_header(slot);
    for _ in 0..CMPXCHG_ATTEMPTS {
        let header = Header::from_raw(seen);
        if !how.pinned
            && (header.flags & type_mask != GTF_PERMIT_ACCESS || header.domid != how.user)
        {
            return Err(GNTST_GENERAL_ERROR);
        }
        let mut flags = header.flags | GTF_READING;
        if !how.readonly {
            if header.flags & GTF_READONLY != 0 {
                return Err(GNTST_GENERAL_ERROR);
            }
            flags |= GTF_WRITING;
        }
        let new = Header { flags, ..header }.raw();
        match entries.cmpxchg_header(slot, seen, new) {
            Ok(()) => return Ok(()),
            Err(current) => seen = current,
        }
    }
    Err(GNTST_GENERAL_ERROR)
}

/// Clears the in-use bits that no pin covers any more, after a use of the entry ended (or
/// failed): `GTF_writing` when the use was writable and no writable pin is left, `GTF_reading`
/// when no pin is left.
pub fn clear_unused<E: GrantEntries + ?Sized>(
    entries: &mut E,
    slot: EntrySlot,
    readonly: bool,
    writers_left: bool,
    pins_left: bool,
) {
    let mut bits = 0;
    if !readonly && !writers_left {
        bits |= GTF_WRITING;
    }
    if !pins_left {
        bits |= GTF_READING;
    }
    if bits != 0 {
        entries.clear_flags(slot, bits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// One entry; `flips` are header values the "guest" stores just before each of our next
    /// compare-and-swaps.
    struct OneEntry {
        header: u32,
        frame: u32,
        flips: Vec<u32>,
        attempts: Cell<u32>,
    }

    impl GrantEntries for OneEntry {
        fn read_header(&self, _: EntrySlot) -> u32 {
            self.header
        }
        fn read_frame(&self, _: EntrySlot) -> u32 {
            self.frame
        }
        fn cmpxchg_header(&mut self, _: EntrySlot, old: u32, new: u32) -> Result<(), u32> {
            self.attempts.set(self.attempts.get() + 1);
            if !self.flips.is_empty() {
                self.header = self.flips.remove(0);
            }
            if self.header == old {
                self.header = new;
                Ok(())
            } else {
                Err(self.header)
            }
        }
        fn clear_flags(&mut self, _: EntrySlot, bits: u16) {
            self.header &= !u32::from(bits);
        }
    }

    const SLOT: EntrySlot = EntrySlot { mfn: 7, offset: 16 };

    fn entry(flags: u16, domid: DomId) -> OneEntry {
        OneEntry {
            header: Header { flags, domid }.raw(),
            frame: 0x1234,
            flips: Vec::new(),
            attempts: Cell::new(0),
        }
    }

    fn use_(user: DomId, readonly: bool) -> EntryUse {
        EntryUse {
            user,
            readonly,
            mapping: true,
            pinned: false,
        }
    }

    fn flags(e: &OneEntry) -> u16 {
        Header::from_raw(e.header).flags
    }

    #[test]
    fn header_word_is_flags_low_domid_high() {
        let h = Header {
            flags: 0x0019,
            domid: 0x0102,
        };
        assert_eq!(h.raw(), 0x0102_0019);
        assert_eq!(Header::from_raw(0x0102_0019), h);
    }

    #[test]
    fn read_only_use_sets_reading_only() {
        let mut e = entry(GTF_PERMIT_ACCESS, 3);
        assert_eq!(mark_in_use(&mut e, SLOT, use_(3, true)), Ok(()));
        assert_eq!(flags(&e), GTF_PERMIT_ACCESS | GTF_READING);
        assert_eq!(Header::from_raw(e.header).domid, 3);
    }

    #[test]
    fn writable_use_sets_reading_and_writing() {
        let mut e = entry(GTF_PERMIT_ACCESS, 3);
        assert_eq!(mark_in_use(&mut e, SLOT, use_(3, false)), Ok(()));
        assert_eq!(flags(&e), GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING);
    }

    #[test]
    fn refusals_leave_the_entry_alone() {
        let cases = [
            (GTF_PERMIT_ACCESS, 4, false),                // wrong domain
            (0, 3, true),                                 // not granted
            (GTF_PERMIT_ACCESS | GTF_READONLY, 3, false), // writable use of a read-only grant
            (GTF_PERMIT_ACCESS | GTF_SUB_PAGE, 3, true),  // sub-page grant mapped
            (2, 3, true),                                 // accept_transfer is not access
        ];
        for (f, domid, readonly) in cases {
            let mut e = entry(f, domid);
            let before = e.header;
            assert_eq!(
                mark_in_use(&mut e, SLOT, use_(3, readonly)),
                Err(GNTST_GENERAL_ERROR),
                "flags {f:#x}"
            );
            assert_eq!(e.header, before);
        }
    }

    #[test]
    fn sub_page_bit_is_only_refused_for_mappings() {
        let mut e = entry(GTF_PERMIT_ACCESS | GTF_SUB_PAGE, 3);
        let how = EntryUse {
            mapping: false,
            ..use_(3, true)
        };
        assert_eq!(mark_in_use(&mut e, SLOT, how), Ok(()));
    }

    #[test]
    fn pinned_entry_skips_type_and_domain_but_not_readonly() {
        let mut e = entry(0, 9);
        let how = EntryUse {
            pinned: true,
            ..use_(3, true)
        };
        assert_eq!(mark_in_use(&mut e, SLOT, how), Ok(()));
        let mut e = entry(GTF_PERMIT_ACCESS | GTF_READONLY, 3);
        let how = EntryUse {
            pinned: true,
            ..use_(3, false)
        };
        assert_eq!(mark_in_use(&mut e, SLOT, how), Err(GNTST_GENERAL_ERROR));
    }

    #[test]
    fn a_racing_guest_gets_four_retries_then_failure() {
        let base = Header {
            flags: GTF_PERMIT_ACCESS,
            domid: 3,
        }
        .raw();
        // The guest toggles a harmless bit before each of our first four attempts.
        let mut e = entry(GTF_PERMIT_ACCESS, 3);
        e.flips = vec![base | 0x20, base, base | 0x20, base | 0x40];
        assert_eq!(mark_in_use(&mut e, SLOT, use_(3, true)), Ok(()));
        assert_eq!(e.attempts.get(), 5);
        assert_eq!(flags(&e), GTF_PERMIT_ACCESS | GTF_READING | 0x40);
        // Five changes in a row: given up after five attempts, entry as the guest left it.
        let mut e = entry(GTF_PERMIT_ACCESS, 3);
        e.flips = vec![base | 0x20, base, base | 0x20, base, base | 0x20];
        assert_eq!(
            mark_in_use(&mut e, SLOT, use_(3, true)),
            Err(GNTST_GENERAL_ERROR)
        );
        assert_eq!(e.attempts.get(), 5);
        assert_eq!(e.header, base | 0x20);
    }

    #[test]
    fn a_race_is_rechecked_before_retrying() {
        // The guest makes the grant read-only under a writable use.
        let mut e = entry(GTF_PERMIT_ACCESS, 3);
        e.flips = vec![
            Header {
                flags: GTF_PERMIT_ACCESS | GTF_READONLY,
                domid: 3,
            }
            .raw(),
        ];
        assert_eq!(
            mark_in_use(&mut e, SLOT, use_(3, false)),
            Err(GNTST_GENERAL_ERROR)
        );
        assert_eq!(flags(&e) & (GTF_READING | GTF_WRITING), 0);
        // The guest revokes the grant.
        let mut e = entry(GTF_PERMIT_ACCESS, 3);
        e.flips = vec![0];
        assert_eq!(
            mark_in_use(&mut e, SLOT, use_(3, true)),
            Err(GNTST_GENERAL_ERROR)
        );
        assert_eq!(e.header, 0);
        assert_eq!(e.attempts.get(), 1);
    }

    #[test]
    fn clear_unused_clears_only_what_no_pin_covers() {
        let all = GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING | 0x40;
        let run = |readonly, writers_left, pins_left| {
            let mut e = entry(all, 3);
            clear_unused(&mut e, SLOT, readonly, writers_left, pins_left);
            flags(&e)
        };
        assert_eq!(run(false, false, false), GTF_PERMIT_ACCESS | 0x40);
        assert_eq!(run(false, false, true), all & !GTF_WRITING);
        assert_eq!(run(false, true, true), all);
        assert_eq!(run(true, false, true), all);
        assert_eq!(run(true, false, false), all & !GTF_READING);
    }
}
