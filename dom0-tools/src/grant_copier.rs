//! What the split-driver backends move data with: a batch of GNTTABOP_copy operations, each with its own status.
// Dom0 issues the batch as one grant_table_op hypercall; host tests copy between in-memory pages.
// The hypercall failing as a whole (a bad argument array, -EFAULT...) is the `Err`; a single
// operation failing (a bad grant reference, a page overrun...) leaves its `status` below
// GNTST_OKAY and the others done.

use hypercall_abi::errno::Errno;
use hypercall_abi::grant_table::GnttabCopy;

/// Runs GNTTABOP_copy batches.
pub trait GrantCopier {
    /// Performs every operation of `ops` in order, setting each one's `status` (`GNTST_*`);
    /// `Err` if the batch as a whole was refused (no status is then meaningful).
    fn copy(&mut self, ops: &mut [GnttabCopy]) -> Result<(), Errno>;
}
