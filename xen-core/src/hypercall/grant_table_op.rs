//! grant_table_op: map, unmap and copy in batches, setup_table, query_size, set/get_version.
//!
//! The shape of the call follows Xen 4.17's `do_grant_table_op` (the checks are in
//! `xen_core::grant::request` and `xen_core::grant::ops`): a batch's array must lie in guest
//! memory (-EFAULT before anything runs); each element is read, done, and written back (map:
//! the whole element; unmap and copy: its status), a fault there ends the call with -EFAULT
//! after the elements before it took effect. Unmaps are completed (references and pins
//! dropped) after one TLB flush per 32 elements, as in Xen. setup_table, query_size and
//! get_version name a domain as Xen's `rcu_lock_domain_by_any_id` does (DOMID_SELF or the
//! caller's own id; another domain only for the control domain). Nothing is preempted.

use core::mem::{offset_of, size_of};

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::grant_table::{
    GNTST_BAD_DOMAIN, GNTST_BAD_VIRT_ADDR, GNTST_OKAY, GNTST_PERMISSION_DENIED, GnttabCopy,
    GnttabGetVersion, GnttabMapGrantRef, GnttabQuerySize, GnttabSetVersion, GnttabSetupTable,
    GnttabUnmapGrantRef,
};
use hypercall_abi::layout::guest_range_ok;
use xen_core::grant::ops::{self, GrantTables, PendingUnmap};
use xen_core::grant::request::{
    CopyRequest, GrantOp, MapRequest, SetupTableRequest, UnmapRequest, decode_op,
    get_version_domain, query_size_domain, set_version_wanted,
};
use xen_core::grant::table::DEFAULT_MAX_GRANT_FRAMES;

use super::dispatch::{Call, Exit};
use crate::arch::x86_64::cpu;
use crate::arch::x86_64::uaccess::{Pod, read_guest, write_guest};
use crate::grant_glue::with_grants;
use crate::hypervisor::{State, with_state};
use hypercall_abi::hypercall::Hypercall;
use xen_core::guest_regs::SYSCALL_INSN_LEN;

/// Unmaps completed per TLB flush (Xen's `GNTTAB_UNMAP_BATCH_SIZE`).
const UNMAP_BATCH: usize = 32;

/// Map, unmap and copy elements done per call before the hypercall continues itself (Xen
/// preempts these batches too): a hostile count cannot hold the CPU from other domains.
const OPS_PER_CALL: u32 = 512;

/// Handles grant_table_op(cmd, uop, count). Xen reads `cmd` and `count` as 32-bit values.
/// A map, unmap or copy batch longer than [`OPS_PER_CALL`] continues itself, as Xen's
/// hypercall continuation does: RIP goes back to the `syscall` with the rest of the array in
/// RSI and its length in RDX. Inside a multicall (a frame of its own, nothing to continue) the
/// whole batch is taken at once.
pub fn grant_table_op(call: &mut Call<'_>, cmd: u64, uop: u64, count: u64) -> Result<u64, Errno> {
    let count = count as u32;
    let op = decode_op(cmd as u32, count)?;
    let element_size = match op {
        GrantOp::MapGrantRef => size_of::<GnttabMapGrantRef>(),
        GrantOp::UnmapGrantRef => size_of::<GnttabUnmapGrantRef>(),
        GrantOp::Copy => size_of::<GnttabCopy>(),
        _ => 0,
    };
    let now = if element_size != 0 && call.regs.is_partial() {
        count.min(OPS_PER_CALL)
    } else {
        count
    };
    let result = match op {
        GrantOp::MapGrantRef => map(uop, now),
        GrantOp::UnmapGrantRef => unmap(uop, now),
        GrantOp::Copy => copy(uop, now),
        other => other_op(other, uop),
    }?;
    if now < count {
        call.regs.rewind_rip(SYSCALL_INSN_LEN);
        // Within the array checked by this call's part, plus one element: no overflow.
        call.regs.rsi = uop + u64::from(now) * element_size as u64;
        call.regs.rdx = u64::from(count - now);
        call.exit = Exit::Iret;
        return Ok(Hypercall::GrantTableOp as u64);
    }
    Ok(result)
}

/// The grant operations that take one structure.
fn other_op(op: GrantOp, uop: u64) -> Result<u64, Errno> {
    match op {
        GrantOp::SetupTable => setup_table(uop),
        GrantOp::QuerySize => query_size(uop),
        GrantOp::SetVersion => set_version(uop),
        GrantOp::GetVersion => get_version(uop),
        // Taken by grant_table_op.
        GrantOp::MapGrantRef | GrantOp::UnmapGrantRef | GrantOp::Copy => Err(Errno::Inval),
    }
}

/// The address of element `i` of a `T` array at `uop`.
fn element<T>(uop: u64, i: u32) -> u64 {
    uop + u64::from(i) * size_of::<T>() as u64
}

/// A batch of `count` `T`s at `uop` must lie in guest memory.
fn check_array<T: Pod>(uop: u64, count: u32) -> Result<(), Errno> {
    if guest_range_ok(uop, u64::from(count) * size_of::<T>() as u64) {
        Ok(())
    } else {
        Err(Errno::Fault)
    }
}

/// Writes a `GNTST_*` status at `at`.
fn write_status(at: u64, status: i16) -> Result<(), Errno> {
    write_guest(at, &(status as u16))
}

fn map(uop: u64, count: u32) -> Result<u64, Errno> {
    check_array::<GnttabMapGrantRef>(uop, count)?;
    for i in 0..count {
        let at = element::<GnttabMapGrantRef>(uop, i);
        let mut op = read_guest::<GnttabMapGrantRef>(at)?;
        let result = MapRequest::decode(&op).and_then(|req| {
            with_state(|mut st| {
                with_grants(&mut st, |env, maptrack| {
                    let mapper = env.current();
                    ops::map_grant_ref(env, maptrack, mapper, &req)
                })
            })
        });
        match result {
            Ok(mapped) => {
                op.status = GNTST_OKAY;
                op.handle = mapped.handle;
                op.dev_bus_addr = mapped.dev_bus_addr();
            }
            Err(status) => op.status = status,
        }
        write_guest(at, &op)?;
    }
    Ok(0)
}

/// Flushes the TLB, then drops what the unmapped mappings in `pending` still held.
fn complete(pending: &mut heapless::Vec<PendingUnmap, UNMAP_BATCH>) {
    if pending.is_empty() {
        return;
    }
    // Grant PTEs may be global (application_map) and, with contains_pte, at an address we do
    // not know: flush everything.
    cpu::flush_tlb_global();
    let done = core::mem::take(pending);
    let mut granters = heapless::Vec::<DomId, UNMAP_BATCH>::new();
    for p in &done {
        if !granters.contains(&p.granter()) {
            // At most one per pending unmap: room for all.
            let _ = granters.push(p.granter());
        }
    }
    with_state(|mut st| {
        with_grants(&mut st, |env, _| {
            for p in done {
                ops::finish_unmap(env, p);
            }
        });
        // A destroyed granter whose last mapped grant this was is finished now.
        for granter in granters {
            crate::hypercall::domain_lifecycle::reap(&mut st, granter);
        }
    });
}

fn unmap(uop: u64, count: u32) -> Result<u64, Errno> {
    check_array::<GnttabUnmapGrantRef>(uop, count)?;
    let mut pending = heapless::Vec::<PendingUnmap, UNMAP_BATCH>::new();
    let mut result = Ok(0);
    for i in 0..count {
        let at = element::<GnttabUnmapGrantRef>(uop, i);
        let op = match read_guest::<GnttabUnmapGrantRef>(at) {
            Ok(op) => op,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let req = UnmapRequest::decode(&op);
        if pending.is_full() {
            complete(&mut pending);
        }
        let status = match with_state(|mut st| {
            with_grants(&mut st, |env, maptrack| {
                let mapper = env.current();
                ops::unmap_grant_ref(env, maptrack, mapper, &req)
            })
        }) {
            Ok(Some(p)) => {
                // Room was made above.
                let _ = pending.push(p);
                GNTST_OKAY
            }
            Ok(None) => GNTST_OKAY,
            Err(status) => status,
        };
        if let Err(e) = write_status(at + offset_of!(GnttabUnmapGrantRef, status) as u64, status) {
            result = Err(e);
            break;
        }
    }
    complete(&mut pending);
    result
}

fn copy(uop: u64, count: u32) -> Result<u64, Errno> {
    check_array::<GnttabCopy>(uop, count)?;
    for i in 0..count {
        let at = element::<GnttabCopy>(uop, i);
        let req = CopyRequest::decode(&read_guest::<GnttabCopy>(at)?);
        let status = match with_state(|mut st| {
            with_grants(&mut st, |env, _| {
                let current = env.current();
                ops::copy(env, current, &req)
            })
        }) {
            Ok(()) => GNTST_OKAY,
            Err(status) => status,
        };
        write_status(at + offset_of!(GnttabCopy, status) as u64, status)?;
    }
    Ok(0)
}

/// Why a named domain cannot be acted on.
enum Refused {
    /// No such domain.
    Missing,
    /// Not the caller's, and the caller is not the control domain.
    Denied,
}

/// The domain `dom` names for setup_table, query_size and get_version (Xen's
/// `rcu_lock_domain_by_any_id`, then XSM's target check).
fn target(st: &State<'_>, dom: DomId) -> Result<DomId, Refused> {
    if dom == DOMID_SELF || dom == st.dom.id {
        Ok(st.dom.id)
    } else if st.domains.get(dom).is_none() {
        Err(Refused::Missing)
    } else if !st.dom.is_control() {
        Err(Refused::Denied)
    } else {
        Ok(dom)
    }
}

fn setup_table(uop: u64) -> Result<u64, Errno> {
    let req = SetupTableRequest::decode(&read_guest::<GnttabSetupTable>(uop)?);
    if !guest_range_ok(req.frame_list, u64::from(req.nr_frames) * 8) {
        return Err(Errno::Fault);
    }
    let mut frames = [0u64; DEFAULT_MAX_GRANT_FRAMES as usize];
    let outcome = with_state(|mut st| match target(&st, req.dom) {
        Err(Refused::Missing) => Err(GNTST_BAD_DOMAIN),
        Err(Refused::Denied) => Err(GNTST_PERMISSION_DENIED),
        Ok(dom) => with_grants(&mut st, |env, _| {
            env.setup_table(dom, req.nr_frames, &mut frames)
        }),
    });
    let status = match outcome {
        Ok(n) => frames
            .iter()
            .take(n)
            .enumerate()
            .try_for_each(|(i, mfn)| write_guest(req.frame_list + i as u64 * 8, mfn))
            .map_or(GNTST_BAD_VIRT_ADDR, |()| GNTST_OKAY),
        Err(status) => status,
    };
    write_status(uop + offset_of!(GnttabSetupTable, status) as u64, status)?;
    Ok(0)
}

fn query_size(uop: u64) -> Result<u64, Errno> {
    let mut op = read_guest::<GnttabQuerySize>(uop)?;
    let outcome = with_state(|mut st| match target(&st, query_size_domain(&op)) {
        Err(Refused::Missing) => Err(GNTST_BAD_DOMAIN),
        Err(Refused::Denied) => Err(GNTST_PERMISSION_DENIED),
        Ok(dom) => with_grants(&mut st, |env, _| {
            env.with_table(dom, |table, _| ops::query_size(table))
                .ok_or(GNTST_BAD_DOMAIN)
        }),
    });
    match outcome {
        Ok((nr_frames, max_nr_frames)) => {
            op.nr_frames = nr_frames;
            op.max_nr_frames = max_nr_frames;
            op.status = GNTST_OKAY;
        }
        Err(status) => op.status = status,
    }
    write_guest(uop, &op)?;
    Ok(0)
}

fn set_version(uop: u64) -> Result<u64, Errno> {
    let mut op = read_guest::<GnttabSetVersion>(uop)?;
    let set = with_state(|st| st.dom.grants.table.set_version(set_version_wanted(&op)));
    op.version = set.version;
    write_guest(uop, &op)?;
    set.result.map(|()| 0)
}

fn get_version(uop: u64) -> Result<u64, Errno> {
    let op = read_guest::<GnttabGetVersion>(uop)?;
    let version = with_state(|mut st| match target(&st, get_version_domain(&op)) {
        Err(Refused::Missing) => Err(Errno::Srch),
        Err(Refused::Denied) => Err(Errno::Perm),
        Ok(dom) => with_grants(&mut st, |env, _| ops::get_version(env, dom)),
    })?;
    write_guest(uop + offset_of!(GnttabGetVersion, version) as u64, &version)?;
    Ok(0)
}
