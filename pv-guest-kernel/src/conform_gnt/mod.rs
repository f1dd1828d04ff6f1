//! The grant-table conformance guest (conform=grants): grant_table_op on self-grants, as Xen 4.17 answers Dom0.
pub mod copy;
pub mod grants;
pub mod map;
pub mod setup;
