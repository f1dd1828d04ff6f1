//! Boot-time bring-up of the clocks: the local APIC, the TSC and APIC timer rates, the RTC.

use super::platform::{Exit, exit_machine};
use super::{apic, pit, rtc, timer_irq, tsc, wallclock};

/// How far ahead the boot self-check arms the timer.
const SELF_CHECK_NS: u64 = 50_000;
/// How long the self-check waits for the count to run out before calling the timer broken.
const SELF_CHECK_LIMIT_NS: u64 = 10_000_000;

fn fatal(what: &str) -> ! {
    log::error!("PANIC: fatal: {what}");
    exit_machine(Exit::Fatal)
}

/// The warm-up window: 1 ms.
const WARM_UP_COUNTS: u16 = pit::COUNTS_10MS / 10;

/// `counts` over one 10 ms PIT window, as a rate in Hz.
fn rate(counts: u64) -> u64 {
    let hz = u128::from(counts) * u128::from(pit::PIT_HZ) / u128::from(pit::COUNTS_10MS);
    u64::try_from(hz).unwrap_or(u64::MAX)
}

/// `hz` as "M.kkk" MHz.
struct Mhz(u64);

impl core::fmt::Display for Mhz {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1_000_000, self.0 / 1_000 % 1_000)
    }
}

/// Enables the local APIC, measures the TSC and the APIC timer over a 10 ms PIT window, starts
/// system time ([`tsc::now_ns`]), checks that a one-shot timer interrupt arrives, logs the
/// rates and the RTC's date, and sets the wall clock guests see from it. Called once at boot, after the hypervisor's page tables (which map
/// the APIC) and before any guest runs. Without a usable xAPIC or PIT the boot stops.
pub fn init() {
    let (id, version) = apic::init().unwrap_or_else(|why| fatal(why));
    let boot_tsc = tsc::rdtsc();
    let sample = || (tsc::rdtsc(), apic::current_count());
    // A first, short window runs the same code once: under QEMU's TCG, translating it inside
    // the measured window skews the rates by up to 1%; after it they agree within 0.1%.
    apic::start_free_running();
    if pit::window(WARM_UP_COUNTS, sample).is_none() {
        fatal("the PIT's channel 2 never reached zero: cannot calibrate the TSC")
    }
    apic::start_free_running();
    let Some(((tsc0, apic0), (tsc1, apic1))) = pit::window(pit::COUNTS_10MS, sample) else {
        fatal("the PIT's channel 2 never reached zero: cannot calibrate the TSC")
    };
    apic::cancel_deadline();
    let tsc_hz = rate(tsc1.wrapping_sub(tsc0));
    let timer_hz = rate(u64::from(apic0.wrapping_sub(apic1)));
    if tsc_hz == 0 || timer_hz == 0 {
        fatal("the TSC or the APIC timer does not count")
    }
    tsc::set_calibration(tsc_hz, boot_tsc);
    apic::set_timer_hz(timer_hz);
    log::info!(
        "TSC: {} MHz, APIC timer: {} MHz (calibrated against the PIT)",
        Mhz(tsc::tsc_hz()),
        Mhz(apic::timer_hz() * apic::TIMER_DIVISOR)
    );
    log::info!(
        "APIC: ID {id}, version {version:#x}; timer one-shot on vector {:#x}, bus clock / {}",
        apic::TIMER_VECTOR,
        apic::TIMER_DIVISOR
    );
    self_check();
    match rtc::read() {
        Some(raw) => {
            let (y, mo, d, h, mi, s) = raw.date();
            let binary = raw.status_b & rtc::STATUS_B_BINARY != 0;
            let hours24 = raw.status_b & rtc::STATUS_B_24H != 0;
            log::info!(
                "RTC: {y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} ({}, {}-hour)",
                if binary { "binary" } else { "BCD" },
                if hours24 { 24 } else { 12 }
            );
            if wallclock::set_from_rtc(&raw).is_none() {
                log::warn!("RTC: the registers hold no valid date; the wall clock starts at 1970");
            }
        }
        None => log::warn!("RTC: no stable reading (update in progress never ended)"),
    }
}

/// Checks the whole interrupt path (vector, stub, EOI, return) before any guest depends on
/// it: arms the timer a little ahead, waits with interrupts off for the count to run out, then
/// takes the interrupt in `timer_irq::idle_wait`. The wait for the count is bounded, and an
/// APIC whose count ran out raises the interrupt (QEMU a moment later, from its own timer), so
/// the `hlt` cannot wait forever.
fn self_check() {
    let before = timer_irq::ticks();
    let start = tsc::now_ns();
    apic::set_deadline(start + SELF_CHECK_NS);
    while apic::current_count() != 0 {
        if tsc::now_ns() - start > SELF_CHECK_LIMIT_NS {
            apic::cancel_deadline();
            log::warn!("APIC timer: the one-shot count did not run out in 10 ms; not used");
            apic::set_timer_hz(0);
            return;
        }
        core::hint::spin_loop();
    }
    timer_irq::idle_wait();
    let elapsed = tsc::now_ns() - start;
    if timer_irq::ticks() == before {
        fatal("APIC timer: its interrupt did not arrive")
    }
    log::info!(
        "APIC timer: one-shot interrupt taken {} us after arming for {} us",
        elapsed / 1_000,
        SELF_CHECK_NS / 1_000
    );
}
