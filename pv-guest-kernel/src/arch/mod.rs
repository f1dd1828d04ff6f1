//! Architecture-specific code: the only place in this kernel with `unsafe` and assembly.
pub mod x86_64;
