//! multicall: a batch of hypercalls in one entry, each with its own result.

use core::sync::atomic::{AtomicBool, Ordering};

use hypercall_abi::Errno;
use hypercall_abi::hypercall::{Hypercall, NR_HYPERCALLS};
use hypercall_abi::multicall::MulticallEntry;
use xen_core::guest_regs::GuestRegs;

use super::dispatch::{Call, EXIT_RESCHEDULE, Exit, HYPERCALL_TABLE};
use crate::arch::x86_64::uaccess::{read_guest, write_guest};

/// Size of one entry in the guest's array.
const ENTRY_SIZE: u64 = 64;
/// Offset of `result` in an entry.
const RESULT_OFFSET: u64 = 8;

/// Set while a batch runs: a multicall inside a multicall is refused, as in Xen.
static IN_MULTICALL: AtomicBool = AtomicBool::new(false);

/// Handles multicall(calls, count). Each entry's hypercall runs with the entry's arguments and
/// its result is stored in the entry. A fault reading or writing an entry ends the batch with
/// -EFAULT. An iret in the batch returns to the guest at once, as in Xen.
pub fn multicall(call: &mut Call<'_>, calls: u64, count: u64) -> Result<u64, Errno> {
    if IN_MULTICALL.swap(true, Ordering::Relaxed) {
        return Err(Errno::Inval);
    }
    let result = run_batch(call, calls, count as u32);
    IN_MULTICALL.store(false, Ordering::Relaxed);
    result
}

fn run_batch(call: &mut Call<'_>, calls: u64, count: u32) -> Result<u64, Errno> {
    let result = run_entries(call, calls, count);
    // An entry that stopped the vCPU (a block, a yield to another, a DomU's shutdown) takes
    // effect once the batch is over, as in Xen, where the vCPU is descheduled on the way out.
    if STOPPED.swap(false, Ordering::Relaxed) {
        call.exit = Exit::Reschedule;
    }
    result
}

/// Set by an entry whose handler asked to reschedule.
static STOPPED: AtomicBool = AtomicBool::new(false);

fn run_entries(call: &mut Call<'_>, calls: u64, count: u32) -> Result<u64, Errno> {
    for i in 0..u64::from(count) {
        let at = calls.checked_add(i * ENTRY_SIZE).ok_or(Errno::Fault)?;
        let entry = read_guest::<MulticallEntry>(at)?;
        if entry.op == Hypercall::Iret as u64 {
            // The iret acts on the caller's own frame; the batch ends there.
            return super::iret::iret(call);
        }
        let result = if entry.op < NR_HYPERCALLS as u64 {
            let mut regs = GuestRegs {
                rax: entry.op,
                rdi: entry.args[0],
                rsi: entry.args[1],
                rdx: entry.args[2],
                r10: entry.args[3],
                r8: entry.args[4],
                r9: entry.args[5],
                rsp: call.regs.rsp,
                ..GuestRegs::default()
            };
            // A call that stops the machine (shutdown of Dom0) does not come back.
            if HYPERCALL_TABLE[entry.op as usize](&mut regs) == EXIT_RESCHEDULE {
                STOPPED.store(true, Ordering::Relaxed);
            }
            regs.rax
        } else {
            Errno::NoSys.to_ret() as u64
        };
        write_guest(at + RESULT_OFFSET, &result)?;
    }
    Ok(0)
}
