//! The raw hypercall helper shared by the memory-test wrappers (window, MMU, memory, descriptors).

use hypercall_abi::Errno;
use hypercall_abi::hypercall::Hypercall;

use super::hypercall::call;

/// Calls hypercall `nr` (which has a callable stub) with five arguments; -ENOSYS if it has
/// none.
///
/// # Safety
/// As for [`call`]: the arguments satisfy the hypercall's contract and its effects break
/// nothing the kernel relies on.
pub(super) unsafe fn hc(nr: Hypercall, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    // SAFETY: forwarded to the caller.
    unsafe { call(nr as u8, a1, a2, a3, a4, a5) }.unwrap_or(Errno::NoSys.to_ret())
}

/// Why a wrapper declined to make a call: the request would touch the kernel's own frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declined(pub &'static str);
