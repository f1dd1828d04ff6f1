//! Hardware access: the only place where `unsafe` is normal.

pub mod x86_64;
