//! The memory conformance guests (MMU, reservations, multicall) pass on xen-core and Xen 4.17.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417, succeeds_on_xen_core};

#[test]
fn mmu_conforms_on_xen_core() {
    succeeds_on_xen_core("conform=mmu");
}

#[test]
fn mmu_conforms_on_xen_417() {
    succeeds_on_xen_417("conform=mmu");
}

#[test]
fn memory_conforms_on_xen_core() {
    succeeds_on_xen_core("conform=memory");
}

#[test]
fn memory_conforms_on_xen_417() {
    succeeds_on_xen_417("conform=memory");
}

#[test]
fn multicall_conforms_on_xen_core() {
    succeeds_on_xen_core("conform=multicall");
}

#[test]
fn multicall_conforms_on_xen_417() {
    succeeds_on_xen_417("conform=multicall");
}
