//! The isolation guests: every hostile attempt is refused, alike on xen-core and on Xen 4.17.

#![forbid(unsafe_code)]

use tests::guest_verdict::{succeeds_on_xen_417, succeeds_on_xen_core};

/// Isolation: mapping a hypervisor frame.
#[test]
fn hypervisor_frame_is_refused_on_xen_core() {
    succeeds_on_xen_core("isolate=hypervisor_frame");
}

/// Isolation: mapping a hypervisor frame, on the reference.
#[test]
fn hypervisor_frame_is_refused_on_xen_417() {
    succeeds_on_xen_417("isolate=hypervisor_frame");
}

/// Isolation: mapping RAM the guest does not own.
#[test]
fn foreign_frame_is_refused_on_xen_core() {
    succeeds_on_xen_core("isolate=foreign_frame");
}

/// Isolation: mapping RAM the guest does not own, on the reference.
#[test]
fn foreign_frame_is_refused_on_xen_417() {
    succeeds_on_xen_417("isolate=foreign_frame");
}

/// Isolation: making one of its page tables writable.
#[test]
fn writable_pagetable_is_refused_on_xen_core() {
    succeeds_on_xen_core("isolate=writable_pagetable");
}

/// Isolation: making one of its page tables writable, on the reference.
#[test]
fn writable_pagetable_is_refused_on_xen_417() {
    succeeds_on_xen_417("isolate=writable_pagetable");
}

/// Isolation: pinning a table that maps itself writable.
#[test]
fn self_map_is_refused_on_xen_core() {
    succeeds_on_xen_core("isolate=self_map");
}

/// Isolation: pinning a table that maps itself writable, on the reference.
#[test]
fn self_map_is_refused_on_xen_417() {
    succeeds_on_xen_417("isolate=self_map");
}

/// Isolation: loading a descriptor with DPL 0.
#[test]
fn dpl0_descriptor_is_refused_on_xen_core() {
    succeeds_on_xen_core("isolate=dpl0_descriptor");
}

/// Isolation: loading a descriptor with DPL 0, on the reference.
#[test]
fn dpl0_descriptor_is_refused_on_xen_417() {
    succeeds_on_xen_417("isolate=dpl0_descriptor");
}

/// Isolation: freeing a frame that is still mapped.
#[test]
fn free_mapped_is_refused_on_xen_core() {
    succeeds_on_xen_core("isolate=free_mapped");
}

/// Isolation: freeing a frame that is still mapped, on the reference.
#[test]
fn free_mapped_is_refused_on_xen_417() {
    succeeds_on_xen_417("isolate=free_mapped");
}

/// Isolation: overflowing a count with repeated pins.
#[test]
fn pin_overflow_is_refused_on_xen_core() {
    succeeds_on_xen_core("isolate=pin_overflow");
}

/// Isolation: overflowing a count with repeated pins, on the reference.
#[test]
fn pin_overflow_is_refused_on_xen_417() {
    succeeds_on_xen_417("isolate=pin_overflow");
}
