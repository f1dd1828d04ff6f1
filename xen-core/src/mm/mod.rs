//! Machine memory: the frame allocator, the frame table of owners and types, and PTE checks.

pub mod frame_alloc;
pub mod frame_table;
pub mod pte;
