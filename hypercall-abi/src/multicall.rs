//! multicall: one entry of the batch passed to the multicall hypercall.

use core::mem::{offset_of, size_of};

/// One call in a multicall batch (`struct multicall_entry`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MulticallEntry {
    /// Hypercall number.
    pub op: u64,
    /// Out: the call's return value.
    pub result: u64,
    /// Arguments 1-6.
    pub args: [u64; 6],
}
const _: () = assert!(size_of::<MulticallEntry>() == 64);
const _: () = assert!(offset_of!(MulticallEntry, op) == 0);
const _: () = assert!(offset_of!(MulticallEntry, result) == 8);
const _: () = assert!(offset_of!(MulticallEntry, args) == 16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_xen_h() {
        assert_eq!(size_of::<MulticallEntry>(), 64);
        assert_eq!(offset_of!(MulticallEntry, op), 0);
        assert_eq!(offset_of!(MulticallEntry, result), 8);
        assert_eq!(offset_of!(MulticallEntry, args), 16);
    }
}
