//! domu=ticker: yields in a loop, printing a tick now and then, until its console input says "stop".

use crate::arch::x86_64::{console_front, xen};
use crate::console::kprintln;

/// Yields between two tick lines.
const YIELDS_PER_TICK: u64 = 20_000;
/// Ticks after which the ticker gives up waiting to be stopped (and crashes).
const MAX_TICKS: u64 = 100_000;

/// Runs until told to stop, then powers off.
pub fn run() -> ! {
    kprintln!("ticker: running");
    let mut input: heapless::Vec<u8, 64> = heapless::Vec::new();
    let mut yields = 0u64;
    let mut ticks = 0u64;
    loop {
        let _ = xen::sched_yield();
        yields += 1;
        if yields.is_multiple_of(YIELDS_PER_TICK) {
            ticks += 1;
            kprintln!("ticker: tick {}", ticks);
            if ticks >= MAX_TICKS {
                kprintln!("ticker: never told to stop");
                xen::crash();
            }
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
            kprintln!("ticker: stopping after {} ticks", ticks);
            xen::power_off();
        }
    }
}
