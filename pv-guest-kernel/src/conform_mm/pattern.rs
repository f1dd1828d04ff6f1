//! Recognisable page contents: fill a frame with a seeded pattern and check it back.

use crate::arch::x86_64::window::{Slot, WORDS};
use crate::selftest::report::{Outcome, Ret, expect_eq, fail};

/// Word `i` of the pattern with `seed`.
pub fn word(seed: u64, i: usize) -> u64 {
    (seed << 48) ^ 0x0050_4154_0000_0000 ^ (i as u64).wrapping_mul(0x0001_0003_0007_000F)
}

/// Maps `mfn` read-write at `slot`, fills it with the pattern `seed` and unmaps it again.
pub fn fill(slot: Slot, mfn: u64, seed: u64) -> Outcome {
    super::tables::write_frame(slot, mfn, |i| word(seed, i))
}

/// Reads every word through `slot` (mapped already) and compares with `value(i)`.
pub fn compare(slot: Slot, what: &str, value: impl Fn(usize) -> u64) -> Outcome {
    for i in 0..WORDS {
        match slot.read(i) {
            Some(w) if w == value(i) => {}
            Some(w) => fail!("{} word {} is {:#x}, expected {:#x}", what, i, w, value(i)),
            None => fail!("{} word {} unreadable", what, i),
        }
    }
    Ok(())
}

/// Maps `mfn` read-only at `slot` and checks it holds `value(i)` in word `i`; unmaps it.
pub fn check(slot: Slot, mfn: u64, what: &str, value: impl Fn(usize) -> u64) -> Outcome {
    let ret = slot.map_frame(mfn, false);
    if ret != 0 {
        fail!("mapping {} read-only returned {}", what, Ret(ret));
    }
    let outcome = compare(slot, what, value);
    let unmapped = slot.unmap();
    outcome?;
    expect_eq("unmap result", unmapped as u64, 0)
}
