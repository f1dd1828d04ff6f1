//! What every isolation guest shares: window slots, a refusal check, and the "unharmed" check.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::memory::XENMEM_CURRENT_RESERVATION;
use hypercall_abi::mmu::PteFlags;
use hypercall_abi::version::XenVersionCmd;

use crate::arch::x86_64::frames::{self, FreeFrame};
use crate::arch::x86_64::memory;
use crate::arch::x86_64::memory_calls;
use crate::arch::x86_64::window::Slot;
use crate::arch::x86_64::xen;
use crate::conform_mm::guest::take_frames;
use crate::conform_mm::pattern;
use crate::conform_mm::tables::{self, expect_done};
use crate::selftest::report::{Detail, Outcome, Ret, expect_eq, fail};

/// Window slot used to write frames.
pub const W: Slot = slot(0);
/// Window slot used to read frames and tables.
pub const R: Slot = slot(1);
/// Window slot the attempts try to remap.
pub const T: Slot = slot(2);
/// Window slot for `read_through`'s check of a test L4.
pub const C: Slot = slot(4);
/// Window slot holding the sentinel page.
const S: Slot = slot(6);

const fn slot(i: usize) -> Slot {
    match Slot::get(i) {
        Some(s) => s,
        None => panic!("no such window slot"),
    }
}

/// Pattern seed of the sentinel page.
const SENTINEL_SEED: u64 = 0x5E;
/// Number of L4 entries compared.
const L4_ENTRIES: usize = 512;

/// The call was refused with `errno` (and, for an update_va_mapping, the slot's mapping was
/// undone if a faulty hypervisor accepted it).
pub fn refused(what: &str, ret: i64, errno: Errno) -> Outcome {
    if ret != errno.to_ret() {
        fail!(
            "{} returned {}, expected {}",
            what,
            Ret(ret),
            Ret(errno.to_ret())
        );
    }
    Ok(())
}

/// Maps `mfn` at the attempt slot, writable or not: the result, the slot unmapped again if
/// the mapping was accepted.
pub fn try_map(mfn: u64, writable: bool) -> i64 {
    let ret = T.map_frame(mfn, writable);
    if ret == 0 {
        let _ = T.unmap();
    }
    ret
}

/// A free frame, zeroed with clear_page and pinned as a table of `level`.
pub fn pinned_empty(level: u8) -> Result<FreeFrame, Detail> {
    let [frame] = take_frames::<1>()?;
    expect_done("clear_page", tables::clear(frame.mfn)?, 1)?;
    expect_done("pin", tables::pin(level, frame.mfn)?, 1)?;
    Ok(frame)
}

/// The guest's state at the start, to compare with at the end.
pub struct Sentinel {
    frame: FreeFrame,
    version: i64,
    pages: i64,
    l4: [u64; L4_ENTRIES],
}

fn current_pages() -> i64 {
    memory_calls::reservation_query(XENMEM_CURRENT_RESERVATION, DOMID_SELF).unwrap_or(i64::MIN)
}

impl Sentinel {
    /// Fills a free frame with a pattern (left mapped read-only at slot S) and records the
    /// version, the reservation and our L4.
    pub fn new() -> Result<Self, Detail> {
        let [frame] = take_frames::<1>()?;
        pattern::fill(W, frame.mfn, SENTINEL_SEED)?;
        let ret = S.map_frame(frame.mfn, false);
        if ret != 0 {
            fail!("mapping the sentinel returned {}", Ret(ret));
        }
        let mut l4 = [0u64; L4_ENTRIES];
        for (i, e) in l4.iter_mut().enumerate() {
            *e = memory::initial_l4_entry(i).unwrap_or(0);
        }
        Ok(Sentinel {
            frame,
            version: xen::xen_version_plain(XenVersionCmd::Version as u64),
            pages: current_pages(),
            l4,
        })
    }

    /// The guest is unharmed: hypercalls work, the sentinel page is intact (and its M2P entry
    /// too), our L4 is as it was, and we hold `page_delta` more pages than at the start.
    pub fn unharmed(&self, page_delta: i64) -> Outcome {
        let version = xen::xen_version_plain(XenVersionCmd::Version as u64);
        if version != self.version {
            fail!("xen_version now returns {}", Ret(version));
        }
        pattern::compare(S, "sentinel page", |i| pattern::word(SENTINEL_SEED, i))?;
        // The CPU sets accessed and dirty bits as it walks: those may differ.
        let ad = PteFlags::ACCESSED.bits() | PteFlags::DIRTY.bits();
        for (i, &e) in self.l4.iter().enumerate() {
            let now = memory::initial_l4_entry(i).unwrap_or(0);
            if now & !ad != e & !ad {
                fail!("L4 slot {} changed from {:#x} to {:#x}", i, e, now);
            }
        }
        let pages = current_pages();
        if pages != self.pages + page_delta {
            fail!(
                "current_reservation is {}, expected {}",
                Ret(pages),
                self.pages + page_delta
            );
        }
        let m2p = frames::m2p(self.frame.mfn).unwrap_or(u64::MAX);
        expect_eq("sentinel M2P entry", m2p, self.frame.pfn)
    }
}
