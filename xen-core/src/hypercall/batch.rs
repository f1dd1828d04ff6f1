//! The batch shape mmu_update and mmuext_op share: a guest array run in order, `*pdone` = done.

use hypercall_abi::Errno;
use hypercall_abi::layout::guest_range_ok;
use hypercall_abi::mmu::MMU_UPDATE_PREEMPTED;

use crate::arch::x86_64::uaccess::{Pod, read_guest, write_guest};

/// Checks a batch of `count` `T`s at guest address `items` before anything runs: a continuation
/// count is -EINVAL (xen-core finishes every batch in one go, so it never hands one out) and an
/// array outside guest memory is -EFAULT, as in Xen. Returns the count as Xen reads it.
pub fn check<T: Pod>(items: u64, count: u64) -> Result<u32, Errno> {
    let count = count as u32;
    if count & MMU_UPDATE_PREEMPTED != 0 {
        return Err(Errno::Inval);
    }
    if !guest_range_ok(items, u64::from(count) * size_of::<T>() as u64) {
        return Err(Errno::Fault);
    }
    Ok(count)
}

/// Runs `each` on the `count` items (already [`check`]ed) in order, stops at the first error
/// and stores in `*pdone` how many took effect. As in Xen, a bad `pdone` pointer does not change
/// the result.
pub fn run<T: Pod>(
    items: u64,
    count: u32,
    pdone: u64,
    mut each: impl FnMut(T) -> Result<(), Errno>,
) -> Result<u64, Errno> {
    let mut done: u32 = 0;
    let mut result = Ok(0);
    for i in 0..u64::from(count) {
        if let Err(e) = read_guest::<T>(items + i * size_of::<T>() as u64).and_then(&mut each) {
            result = Err(e);
            break;
        }
        done += 1;
    }
    if pdone != 0 {
        let _ = write_guest(pdone, &done);
    }
    result
}
