//! Domain ids and the reserved ids above `DOMID_FIRST_RESERVED`.

/// A domain id (`domid_t`).
pub type DomId = u16;

/// First id that is not an ordinary domain.
pub const DOMID_FIRST_RESERVED: DomId = 0x7FF0;
/// The calling domain.
pub const DOMID_SELF: DomId = 0x7FF0;
/// I/O memory pseudo-domain.
pub const DOMID_IO: DomId = 0x7FF1;
/// The hypervisor pseudo-domain.
pub const DOMID_XEN: DomId = 0x7FF2;
/// Owner of shared (copy-on-write) pages.
pub const DOMID_COW: DomId = 0x7FF3;
/// No domain / unknown owner.
pub const DOMID_INVALID: DomId = 0x7FF4;
/// The idle domain.
pub const DOMID_IDLE: DomId = 0x7FFF;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_xen_h() {
        assert_eq!(DOMID_FIRST_RESERVED, 0x7FF0);
        assert_eq!(DOMID_SELF, 0x7FF0);
        assert_eq!(DOMID_IO, 0x7FF1);
        assert_eq!(DOMID_XEN, 0x7FF2);
        assert_eq!(DOMID_COW, 0x7FF3);
        assert_eq!(DOMID_INVALID, 0x7FF4);
        assert_eq!(DOMID_IDLE, 0x7FFF);
        assert_eq!(size_of::<DomId>(), 2);
    }
}
