//! Machine memory: frames, their owners and types, and the checks on what guests write to them.

pub mod descriptor;
pub mod frame_alloc;
pub mod frame_table;
pub mod page_memory;
pub mod page_type;
pub mod pte;
