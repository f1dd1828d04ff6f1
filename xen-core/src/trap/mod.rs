//! Exceptions, callbacks and returns of PV guests: the frame logic, free of hardware.

pub mod bounce;
pub mod debug_regs;
pub mod decode;
pub mod insn;
pub mod iret;
pub mod msr;
pub mod port_io;
pub mod priv_op;
pub mod pte_write;
