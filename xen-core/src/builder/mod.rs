//! The domain builder: reading a PV kernel image, laying out its memory, its first page tables.

pub mod boot_layout;
pub mod image;
pub mod initial_tables;
