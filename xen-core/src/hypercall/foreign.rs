//! Which domain a hypercall acts on when the caller names one (Xen's get_pg_owner).

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_SELF, DomId};

/// The domain `domid` names for a caller `self_id`. Like Xen, a caller naming itself by its own
/// id instead of `DOMID_SELF` is refused with -ESRCH. Only the caller exists today (more
/// domains come with issue 4), so every other id is -ESRCH as well.
pub fn resolve(self_id: DomId, domid: DomId) -> Result<DomId, Errno> {
    if domid == DOMID_SELF {
        Ok(self_id)
    } else {
        Err(Errno::Srch)
    }
}
