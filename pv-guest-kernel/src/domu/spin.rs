//! domu=spin: a CPU-bound DomU that counts in a loop, without hypercalls, until its console input says "stop".

use core::hint::black_box;

use crate::arch::x86_64::{console_front, xen};
use crate::console::kprintln;

/// Loop turns between two looks at the console input (a look is a few ring reads, no
/// hypercall: the spinner never gives the CPU away by itself).
const TURNS_PER_LOOK: u64 = 1 << 16;

/// Spins until told to stop, then says how far it counted and powers off.
pub fn run() -> ! {
    kprintln!("spin: running");
    let mut input: heapless::Vec<u8, 64> = heapless::Vec::new();
    let mut turns = 0u64;
    loop {
        for _ in 0..TURNS_PER_LOOK {
            turns = black_box(turns + 1);
        }
        let mut buf = [0u8; 16];
        let n = console_front::read_input(&mut buf);
        for &b in &buf[..n] {
            if input.is_full() {
                input.clear();
            }
            let _ = input.push(b);
        }
        if input.windows(4).any(|w| w == b"stop") {
            kprintln!("spin: stopping after {} turns", turns);
            xen::power_off();
        }
    }
}
