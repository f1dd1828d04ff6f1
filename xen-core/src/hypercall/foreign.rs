//! Which domain a hypercall acts on when the caller names one (Xen's get_pg_owner and friends).

use hypercall_abi::Errno;
use hypercall_abi::domid::{DOMID_IO, DOMID_SELF, DOMID_XEN, DomId};

use crate::hypervisor::State;

/// The page owner `domid` names for the running domain of `st` (Xen's get_pg_owner). A caller
/// naming itself by its own id instead of `DOMID_SELF` is refused with -ESRCH, as in Xen. The
/// control domain may name another domain (a builder mapping and pinning a new domain's
/// frames) and the pseudo-domains DOMID_IO and DOMID_XEN, which own no RAM frame here, so a
/// mapping through them is refused frame by frame (-EBUSY), as in Xen. An unknown domain is
/// -ESRCH, as is a dying one; a known one named without the privilege is -EPERM.
pub fn page_owner(st: &State<'_>, domid: DomId) -> Result<DomId, Errno> {
    let privileged = st.dom.is_control();
    match domid {
        DOMID_SELF => Ok(st.dom.id),
        DOMID_IO | DOMID_XEN if privileged => Ok(domid),
        DOMID_IO | DOMID_XEN => Err(Errno::Perm),
        id if id == st.dom.id => Err(Errno::Srch),
        // A dying domain's memory is being given back: nothing may map or pin more of it.
        id if st.domains.get(id).is_none_or(|d| d.dying) => Err(Errno::Srch),
        id if privileged => Ok(id),
        _ => Err(Errno::Perm),
    }
}

/// The domain `domid` names where the caller may also use its own id (Xen's
/// rcu_lock_domain_by_any_id): `None` when there is no such domain.
pub fn any_id(st: &State<'_>, domid: DomId) -> Option<DomId> {
    if domid == DOMID_SELF || domid == st.dom.id {
        Some(st.dom.id)
    } else {
        st.domains.get(domid).map(|d| d.id)
    }
}
