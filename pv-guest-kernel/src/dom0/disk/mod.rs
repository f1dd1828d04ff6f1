//! Dom0's physical disk: found and opened at boot (ATA PIO on the primary IDE channel), named `/dev/hda*`, and its self-test.
pub mod irq;
pub mod open;
pub mod selftest;
