//! The credit scheduler: per-domain weights and caps, credits, boost, CPU-time accounting.

pub mod account;
pub mod cpumask;
pub mod credit;
pub mod entity;
pub mod params;
pub mod priority;
pub mod runq;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
