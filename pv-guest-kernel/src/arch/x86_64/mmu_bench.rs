//! Page-table writes, timed: mmu_update batches against the same writes trapped one by one.
// One pinned L1 table of our own, outside the initial mapping, maps one data frame at entries
// 0..MAX_BATCH; every measured write flips the accessed bit of one entry, so each is a real
// change that the hypervisor validates. Nothing runs through the table (it is linked into no
// L2), so no Rust object depends on what it maps.

use core::arch::asm;

use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::mmu::{MMU_NORMAL_PT_UPDATE, MmuUpdate, MmuextCmd, PteFlags};

use super::access;
use super::calls::hc;
use super::frames;
use super::mmu_calls;
use super::window::Slot;

/// The largest batch measured.
pub const MAX_BATCH: usize = 64;

/// The table, its data frame and the two request arrays (accessed bit set, and clear).
pub struct MmuBench {
    l1: u64,
    set: [MmuUpdate; MAX_BATCH],
    clear: [MmuUpdate; MAX_BATCH],
}

/// Why the benchmark could not run.
#[derive(Clone, Copy, Debug)]
pub struct NotMeasured(pub &'static str);

/// The entry mapping `data` read-only, with or without the accessed bit.
fn entry(data: u64, accessed: bool) -> u64 {
    let mut flags = PteFlags::PRESENT;
    if accessed {
        flags |= PteFlags::ACCESSED;
    }
    (data << 12) | flags.bits()
}

/// Takes two free frames, clears and pins the table and fills it once with mmu_update.
pub fn setup() -> Result<MmuBench, NotMeasured> {
    let l1 = frames::take_free().ok_or(NotMeasured("no free frame"))?.mfn;
    let data = frames::take_free().ok_or(NotMeasured("no free frame"))?.mfn;
    for (cmd, what) in [
        (MmuextCmd::ClearPage, "clear_page of the table refused"),
        (MmuextCmd::PinL1Table, "pinning the table refused"),
    ] {
        match mmu_calls::mmuext_one(cmd, l1, 0) {
            Ok(r) if r.ret == 0 => {}
            _ => return Err(NotMeasured(what)),
        }
    }
    let request = |i: usize, accessed| MmuUpdate {
        ptr: frames::entry_maddr(l1, i) | MMU_NORMAL_PT_UPDATE,
        val: entry(data, accessed),
    };
    let bench = MmuBench {
        l1,
        set: core::array::from_fn(|i| request(i, true)),
        clear: core::array::from_fn(|i| request(i, false)),
    };
    match mmu_calls::mmu_update(&bench.clear, u32::from(DOMID_SELF)) {
        Ok(r) if r.ret == 0 => Ok(bench),
        _ => Err(NotMeasured("filling the table refused")),
    }
}

/// The TSC (instructions under icount).
fn now() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the time-stamp counter.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

impl MmuBench {
    /// One mmu_update of the first `n` requests of `reqs`, with no done counter; its result.
    fn batch(reqs: &[MmuUpdate; MAX_BATCH], n: usize) -> i64 {
        // SAFETY: the hypervisor reads `n` <= MAX_BATCH live requests; each rewrites an entry
        // of our pinned benchmark table, which no address space uses (see the top).
        unsafe {
            hc(
                Hypercall::MmuUpdate,
                reqs.as_ptr() as u64,
                n.min(MAX_BATCH) as u64,
                0,
                u64::from(DOMID_SELF),
                0,
            )
        }
    }

    /// TSC ticks for `rounds` batches of `n` entries each, alternating the accessed bit.
    pub fn time_batches(&self, n: usize, rounds: u64) -> Result<u64, NotMeasured> {
        let start = now();
        for round in 0..rounds {
            let reqs = if round % 2 == 0 {
                &self.set
            } else {
                &self.clear
            };
            if Self::batch(reqs, n) != 0 {
                return Err(NotMeasured("mmu_update refused"));
            }
        }
        Ok(now() - start)
    }

    /// TSC ticks for `rounds` passes of `n` plain stores to the table mapped read-only at
    /// `slot`, each trapped and emulated by the hypervisor; the slot is unmapped afterwards.
    pub fn time_trapped(&self, slot: Slot, n: usize, rounds: u64) -> Result<u64, NotMeasured> {
        if slot.map_frame(self.l1, false) != 0 {
            return Err(NotMeasured("mapping the table read-only refused"));
        }
        let result = Self::stores(slot.va(), &self.set, &self.clear, n, rounds);
        let _ = slot.unmap();
        result.ok_or(NotMeasured("a trapped page-table write was not emulated"))
    }

    /// TSC ticks for the same stores to an ordinary writable page at `slot`: what a kernel
    /// that owns its page tables pays.
    pub fn time_native(&self, slot: Slot, n: usize, rounds: u64) -> Result<u64, NotMeasured> {
        let ticks = Self::stores(slot.va(), &self.set, &self.clear, n, rounds);
        ticks.ok_or(NotMeasured("a store to the window page faulted"))
    }

    fn stores(
        va: u64,
        set: &[MmuUpdate; MAX_BATCH],
        clear: &[MmuUpdate; MAX_BATCH],
        n: usize,
        rounds: u64,
    ) -> Option<u64> {
        let start = now();
        for round in 0..rounds {
            let reqs = if round % 2 == 0 { set } else { clear };
            for (i, req) in reqs.iter().take(n).enumerate() {
                // SAFETY: the slot maps either our benchmark table (read-only: the store traps
                // and the hypervisor validates it as an mmu_update) or a window page, which
                // holds no Rust object; a fault that is not emulated comes back as `false`.
                if !unsafe { access::write_u64(va + 8 * i as u64, req.val) } {
                    return None;
                }
            }
        }
        Some(now() - start)
    }
}
