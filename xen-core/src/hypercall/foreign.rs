//! Which domain a hypercall acts on when the caller names one (Xen's get_pg_owner and friends).

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_IO, DOMID_SELF, DOMID_XEN, DomId};

/// The page owner `domid` names for a caller `self_id` (Xen's get_pg_owner). A caller naming
/// itself by its own id instead of `DOMID_SELF` is refused with -ESRCH, as in Xen. The control
/// domain may name the pseudo-domains DOMID_IO and DOMID_XEN; they own no RAM frame here, so a
/// mapping through them is refused frame by frame (-EBUSY), as in Xen. Only the caller exists
/// today (more domains come with issue 4): every other id is -ESRCH.
pub fn page_owner(self_id: DomId, privileged: bool, domid: DomId) -> Result<DomId, Errno> {
    match domid {
        DOMID_SELF => Ok(self_id),
        DOMID_IO | DOMID_XEN if privileged => Ok(domid),
        DOMID_IO | DOMID_XEN => Err(Errno::Perm),
        _ => Err(Errno::Srch),
    }
}

/// The domain `domid` names where the caller may also use its own id (Xen's
/// rcu_lock_domain_by_any_id): `None` when there is no such domain.
pub fn any_id(self_id: DomId, domid: DomId) -> Option<DomId> {
    (domid == DOMID_SELF || domid == self_id).then_some(self_id)
}
