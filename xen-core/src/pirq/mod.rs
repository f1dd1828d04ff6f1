//! Physical IRQs for the hardware domain: which legacy lines it may have, its PIRQ table, and the physdev_op requests.

pub mod lines;
pub mod request;
pub mod table;
