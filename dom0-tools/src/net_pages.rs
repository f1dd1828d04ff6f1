//! The pages a network driver end keeps its packet buffers in, by index: read and written through `PageAccess`.
// Netback's staging pages (Dom0 frames that GNTTABOP_copy fills from, or empties into, the
// guest's grants) and netfront's granted buffers are both plain pages of the end's own memory.
// The engines only ever pass offsets and lengths that stay inside one page.

use hypercall_abi::grant_table::GrantRef;

/// Bytes in a page.
pub const PAGE: usize = 4096;

/// An end's own pages, by index.
pub trait PageAccess {
    /// Copies `buf.len()` bytes from `offset` of page `page` (`offset + buf.len() <= PAGE`).
    fn read(&self, page: usize, offset: usize, buf: &mut [u8]);
    /// Copies `data` to `offset` of page `page` (`offset + data.len() <= PAGE`).
    fn write(&mut self, page: usize, offset: usize, data: &[u8]);
}

/// A Dom0 page netback stages packets in: its index for `PageAccess` and the frame number
/// GNTTABOP_copy names it by (a PV Dom0's machine frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StagingPage {
    /// Index for `PageAccess`.
    pub page: usize,
    /// Frame number for GNTTABOP_copy.
    pub frame: u64,
}

/// A guest page netfront keeps one packet buffer in, granted to the backend domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantedPage {
    /// Index for `PageAccess`.
    pub page: usize,
    /// The grant the backend copies through.
    pub gref: GrantRef,
}
