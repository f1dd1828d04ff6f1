//! The isolation checks by name (`isolate=<name>`), and running one.

use hypercall_abi::start_info::StartInfo;

use super::{
    dpl0_descriptor, foreign_frame, free_mapped, hypervisor_frame, pin_overflow, self_map,
    writable_pagetable,
};
use crate::conform_mm::guest;

/// One isolation check: something a hostile guest tries that the hypervisor must refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Mapping a frame of the hypervisor.
    HypervisorFrame,
    /// Mapping a frame of RAM the guest does not own.
    ForeignFrame,
    /// Making one of its page tables writable.
    WritablePagetable,
    /// Pinning a table that maps itself writable.
    SelfMap,
    /// Loading a descriptor with DPL 0.
    Dpl0Descriptor,
    /// Freeing a frame that is still mapped.
    FreeMapped,
    /// Overflowing a count with repeated pins.
    PinOverflow,
}

/// Every check with its name.
const CHECKS: [(&str, Check); 7] = [
    ("hypervisor_frame", Check::HypervisorFrame),
    ("foreign_frame", Check::ForeignFrame),
    ("writable_pagetable", Check::WritablePagetable),
    ("self_map", Check::SelfMap),
    ("dpl0_descriptor", Check::Dpl0Descriptor),
    ("free_mapped", Check::FreeMapped),
    ("pin_overflow", Check::PinOverflow),
];

impl Check {
    /// The check named by the word `isolate=<name>`.
    pub fn from_word(word: &[u8]) -> Option<Check> {
        let name = word.strip_prefix(b"isolate=")?;
        CHECKS
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|&(_, c)| c)
    }
}

/// Runs `check`, prints the verdict and powers off.
pub fn run(check: Check, start_info: &'static StartInfo, p2m: &'static [u64]) -> ! {
    let name = match check {
        Check::HypervisorFrame => "isolate=hypervisor_frame",
        Check::ForeignFrame => "isolate=foreign_frame",
        Check::WritablePagetable => "isolate=writable_pagetable",
        Check::SelfMap => "isolate=self_map",
        Check::Dpl0Descriptor => "isolate=dpl0_descriptor",
        Check::FreeMapped => "isolate=free_mapped",
        Check::PinOverflow => "isolate=pin_overflow",
    };
    guest::run(name, start_info, p2m, |ctx, report| match check {
        Check::HypervisorFrame => hypervisor_frame::run(ctx, report),
        Check::ForeignFrame => foreign_frame::run(ctx, report),
        Check::WritablePagetable => writable_pagetable::run(ctx, report),
        Check::SelfMap => self_map::run(ctx, report),
        Check::Dpl0Descriptor => dpl0_descriptor::run(ctx, report),
        Check::FreeMapped => free_mapped::run(ctx, report),
        Check::PinOverflow => pin_overflow::run(ctx, report),
    })
}
