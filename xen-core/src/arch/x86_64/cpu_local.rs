//! State owned by the (one) CPU: reachable without an atomic lock on the hypercall path.

use core::cell::{Cell, UnsafeCell};

/// A value only the current CPU touches, with interrupts off whenever xen-core runs. A use
/// that re-enters (a bug: only entries from guests use it, and they cannot nest) panics.
pub struct CpuLocal<T> {
    busy: Cell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: xen-core runs on one CPU with interrupts disabled, and the busy flag rules out
// re-entrance, so there is never more than one reference to the value.
unsafe impl<T> Sync for CpuLocal<T> {}

impl<T> CpuLocal<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        CpuLocal {
            busy: Cell::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with the value. If `f` never returns (the machine stops), it stays taken.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        assert!(!self.busy.replace(true), "CpuLocal re-entered");
        // SAFETY: the busy flag was clear, so no other reference exists (see the Sync impl).
        let result = f(unsafe { &mut *self.value.get() });
        self.busy.set(false);
        result
    }
}
