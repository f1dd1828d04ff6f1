//! How the page-type core reads and writes the frames it checks (host tests drive it with a mock).

use hypercall_abi::domid::DomId;

/// Access to the contents of machine frames, and the hypervisor's side of a frame's life.
///
/// The page-type core only ever passes frames described by the frame table and indices below
/// 512.
pub trait PageMemory {
    /// Entry `index` (0..512) of frame `mfn`, as a u64 (page-table entry or descriptor).
    fn read(&self, mfn: u64, index: usize) -> u64;
    /// Stores entry `index` of frame `mfn`.
    fn write(&mut self, mfn: u64, index: usize, value: u64);
    /// The hypervisor's own L4 entries (slot, value) copied into every guest L4 on validation.
    /// Slots outside 256..=271 are ignored; hypervisor slots not listed are written as 0.
    fn xen_l4_slots(&self) -> &[(usize, u64)];
    /// The last reference to `mfn` (owned by `owner`) went: give the frame back. Its frame-table
    /// entry is already reset (owner `None`). The frame may still sit in a TLB: flush before
    /// handing it to anyone else.
    fn free(&mut self, mfn: u64, owner: DomId);
    /// May `dom` choose cache attributes (PWT, PCD, PAT) in its L1 entries? Xen allows it to a
    /// domain with I/O capabilities (Dom0). No by default.
    fn cache_attrs_allowed(&self, _dom: DomId) -> bool {
        false
    }
}
