//! multicall for the memory tests: batches of entries made only by constructors that vouch for them.
// Each constructor makes an entry whose call is as safe as the matching wrapper elsewhere in
// `arch` (same policy); the lifetime ties the entry to the buffers its arguments point to. The
// hypervisor writes each entry's result, hence the UnsafeCell.

use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::ptr;

use hypercall_abi::domid::DomId;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::{HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START, PAGE_SHIFT};
use hypercall_abi::memory::{XENMEM_CURRENT_RESERVATION, XENMEM_MAXIMUM_RESERVATION};
use hypercall_abi::mmu::{MMU_MACHPHYS_UPDATE, MmuUpdate, MmuextOp, PTE_ADDR_MASK};
use hypercall_abi::multicall::MulticallEntry;
use hypercall_abi::version::XenVersionCmd;

use super::calls::{Declined, hc};
use super::cpu;
use super::frames;
use super::mmu_calls;
use super::window::{self, Slot};

/// Most entries one batch may hold.
pub const MAX_ENTRIES: usize = 16;

/// One multicall entry (laid out exactly as `multicall_entry`).
#[repr(transparent)]
pub struct Entry<'a>(UnsafeCell<MulticallEntry>, PhantomData<&'a ()>);

impl<'a> Entry<'a> {
    fn new(op: Hypercall, args: [u64; 6]) -> Self {
        Self::raw(op as u64, args)
    }

    fn raw(op: u64, args: [u64; 6]) -> Self {
        Entry(
            UnsafeCell::new(MulticallEntry {
                op,
                result: RESULT_UNWRITTEN,
                args,
            }),
            PhantomData,
        )
    }

    fn get(&self) -> MulticallEntry {
        // SAFETY: the entry is only written by the hypervisor during a multicall, which has
        // returned before any read here (one vCPU); volatile because it writes behind Rust.
        unsafe { ptr::read_volatile(self.0.get()) }
    }

    /// The result the hypervisor wrote ([`RESULT_UNWRITTEN`] if it wrote none).
    pub fn result(&self) -> u64 {
        self.get().result
    }

    /// xen_version(`cmd`, NULL) for XENVER_version, XENVER_pagesize or an undefined command.
    pub fn xen_version(cmd: u64) -> Option<Self> {
        let allowed = match XenVersionCmd::try_from(cmd) {
            Ok(XenVersionCmd::Version | XenVersionCmd::Pagesize) => true,
            Ok(_) => false,
            Err(_) => true,
        };
        allowed.then(|| Self::new(Hypercall::XenVersion, [cmd, 0, 0, 0, 0, 0]))
    }

    /// Hypercall number `nr`, which the ABI must not define, with zero arguments.
    pub fn unknown(nr: u64) -> Option<Self> {
        Hypercall::from_nr(nr)
            .is_none()
            .then(|| Self::raw(nr, [0; 6]))
    }

    /// memory_op current_reservation or maximum_reservation of `*domid`.
    pub fn reservation_query(cmd: u32, domid: &'a DomId) -> Option<Self> {
        let ok = cmd == XENMEM_CURRENT_RESERVATION || cmd == XENMEM_MAXIMUM_RESERVATION;
        ok.then(|| {
            let domid = domid as *const DomId as u64;
            Self::new(Hypercall::MemoryOp, [u64::from(cmd), domid, 0, 0, 0, 0])
        })
    }

    /// mmu_update of `reqs` with counter `done`: only M2P updates and entries of frames
    /// outside the initial mapping.
    pub fn mmu_update(
        reqs: &'a [MmuUpdate],
        done: &'a Cell<u32>,
        foreigndom: u32,
    ) -> Result<Self, Declined> {
        let ok = reqs.iter().all(|r| {
            r.ptr & 7 == MMU_MACHPHYS_UPDATE
                || !frames::is_kernel_frame((r.ptr & PTE_ADDR_MASK) >> PAGE_SHIFT)
        });
        if !ok {
            return Err(Declined("mmu_update of a kernel frame"));
        }
        Ok(Self::new(
            Hypercall::MmuUpdate,
            [
                reqs.as_ptr() as u64,
                reqs.len() as u64,
                done.as_ptr() as u64,
                u64::from(foreigndom),
                0,
                0,
            ],
        ))
    }

    /// mmuext_op of `ops` with counter `done`, under the policy of `mmu_calls::mmuext_op`.
    pub fn mmuext(
        ops: &'a [MmuextOp],
        done: &'a Cell<u32>,
        domid: DomId,
    ) -> Result<Self, Declined> {
        let cr3_mfn = cpu::read_cr3().map(|cr3| cr3 >> PAGE_SHIFT);
        ops.iter()
            .try_for_each(|op| mmu_calls::check_mmuext(op, cr3_mfn))?;
        Ok(Self::new(
            Hypercall::MmuextOp,
            [
                ops.as_ptr() as u64,
                ops.len() as u64,
                done.as_ptr() as u64,
                u64::from(domid),
                0,
                0,
            ],
        ))
    }

    /// update_va_mapping of window slot `slot` with `pte` and `uvmf`.
    pub fn update_va_mapping(slot: Slot, pte: u64, uvmf: u64) -> Self {
        Self::new(Hypercall::UpdateVaMapping, [slot.va(), pte, uvmf, 0, 0, 0])
    }

    /// A nested multicall of `inner`, which may not hold update_va_mapping entries (their
    /// effect on the window would go unrecorded).
    pub fn multicall(inner: &'a [Entry<'a>]) -> Option<Self> {
        let uvm = Hypercall::UpdateVaMapping as u64;
        if inner.len() > MAX_ENTRIES || inner.iter().any(|e| e.get().op == uvm) {
            return None;
        }
        Some(Self::new(
            Hypercall::Multicall,
            [inner.as_ptr() as u64, inner.len() as u64, 0, 0, 0, 0],
        ))
    }
}

/// What an entry's `result` holds before the hypervisor writes it.
pub const RESULT_UNWRITTEN: u64 = 0x5EED_5EED_5EED_5EED;

/// Runs `entries` as one multicall; `None` (no call) for more than [`MAX_ENTRIES`].
pub fn multicall(entries: &[Entry<'_>]) -> Option<i64> {
    if entries.len() > MAX_ENTRIES {
        return None;
    }
    // The window slots the batch remaps, with the PTE and flags, taken before the call.
    let uvm = Hypercall::UpdateVaMapping as u64;
    let mut remaps: [Option<(Slot, u64, u64)>; MAX_ENTRIES] = [None; MAX_ENTRIES];
    for (remap, e) in remaps.iter_mut().zip(entries) {
        let e = e.get();
        if e.op == uvm {
            *remap = window::slot_of_va(e.args[0]).map(|s| (s, e.args[1], e.args[2]));
        }
    }
    // SAFETY: every entry was made by a constructor above, whose call is safe under the same
    // policy as the matching wrapper, with argument buffers that live as long as the entry;
    // the hypervisor writes each entry's result (UnsafeCell).
    let ret = unsafe {
        hc(
            Hypercall::Multicall,
            entries.as_ptr() as u64,
            entries.len() as u64,
            0,
            0,
            0,
        )
    };
    for (remap, e) in remaps.iter().zip(entries) {
        if let Some((slot, pte, uvmf)) = *remap {
            if e.result() == 0 {
                window::note_pte(slot, pte, window::flushes_locally(uvmf));
            } else {
                window::note_pte(slot, 0, false);
            }
        }
    }
    Some(ret)
}

/// multicall of `nr` entries at `list`, which must lie in the hypervisor's range (an error
/// case). `None` (no call) otherwise.
pub fn multicall_hypervisor_list(list: u64, nr: u64) -> Option<i64> {
    if !(HYPERVISOR_VIRT_START..HYPERVISOR_VIRT_END).contains(&list) {
        return None;
    }
    // SAFETY: the list is not memory of ours: nothing of ours is read or written through it.
    Some(unsafe { hc(Hypercall::Multicall, list, nr, 0, 0, 0) })
}
