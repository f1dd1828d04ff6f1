//! The 8254 PIT's channel 2 as a stopwatch: a short window to calibrate other clocks against.
//!
//! Channel 2 (the speaker's, with its gate and output on port 0x61) runs in mode 0: after the
//! count is loaded it counts down at [`PIT_HZ`] and its output rises at zero. No interrupt is
//! involved; channel 0 and the PICs are left as they are (masked).

use super::platform::{inb, outb};

/// The PIT's input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;
/// Counts in a 10 ms window (11931.82, rounded).
pub const COUNTS_10MS: u16 = 11_932;

const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
/// Port B of the old keyboard controller: channel 2's gate and output, the speaker.
const PORT_B: u16 = 0x61;
const PORT_B_GATE2: u8 = 1 << 0;
const PORT_B_SPEAKER: u8 = 1 << 1;
const PORT_B_OUT2: u8 = 1 << 5;
/// Channel 2 (bits 7-6 = 10), low then high byte (bits 5-4 = 11), mode 0 (bits 3-1 = 000),
/// binary (bit 0 = 0).
const CMD_CHANNEL2_MODE0: u8 = 0xb0;

/// Polls of the output before giving up: far more than a 10 ms window takes on QEMU (with or
/// without `-icount`) or on hardware, where a port read takes about a microsecond; on a
/// machine without a PIT the wait lasts seconds.
const MAX_POLLS: u64 = 50_000_000;

/// Runs one window of `counts` PIT counts (at least 1). `sample` is called right after the
/// count is loaded (the countdown starts at the next PIT clock) and again right after the
/// output is seen high; both results are returned. `None` if the output never rises (no PIT).
/// Called at boot with interrupts off; the speaker stays silent.
pub fn window<S>(counts: u16, mut sample: impl FnMut() -> S) -> Option<(S, S)> {
    let counts = counts.max(1);
    // SAFETY: channel 2 and port B belong to xen-core (guests are never granted them), nothing
    // else uses them at boot, and the sequence only gates channel 2 with the speaker off; port
    // B is put back as it was.
    unsafe {
        let port_b = inb(PORT_B);
        outb(PORT_B, (port_b & !PORT_B_SPEAKER) | PORT_B_GATE2);
        outb(COMMAND, CMD_CHANNEL2_MODE0);
        outb(CHANNEL2_DATA, counts as u8);
        outb(CHANNEL2_DATA, (counts >> 8) as u8);
        let start = sample();
        let mut polls = 0u64;
        while inb(PORT_B) & PORT_B_OUT2 == 0 {
            polls += 1;
            if polls == MAX_POLLS {
                outb(PORT_B, port_b);
                return None;
            }
        }
        let end = sample();
        outb(PORT_B, port_b);
        Some((start, end))
    }
}
