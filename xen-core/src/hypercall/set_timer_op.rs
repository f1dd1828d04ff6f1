//! set_timer_op: the calling vCPU's one-shot timer, in absolute system time.

use hypercall_abi::Errno;

use crate::arch::x86_64::tsc;
use crate::hypervisor::with_state;
use crate::time_glue;

/// Handles set_timer_op(timeout): 0 stops the timer; otherwise VIRQ_TIMER comes once system
/// time reaches `timeout` (at once if it has), or 100 ms from now for a timeout that is
/// negative or 2^50 ns or more away, as in Xen. Always succeeds.
pub fn set_timer_op(timeout: u64) -> Result<u64, Errno> {
    with_state(|st| {
        st.dom.time.timers.set_timer_op(timeout, tsc::now_ns());
        time_glue::arm(st.dom, true);
    });
    Ok(0)
}
