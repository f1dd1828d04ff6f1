//! Exceptions, callbacks and returns of PV guests: the frame logic, free of hardware.

pub mod bounce;
pub mod decode;
pub mod iret;
