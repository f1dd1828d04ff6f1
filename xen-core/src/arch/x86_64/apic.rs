//! The local APIC (xAPIC, memory-mapped): enabling it, EOI, and its timer as a one-shot deadline.
//!
//! Its register page is reached through the direct map: `memory.rs` maps the 2 MiB around
//! [`mmio_base`] uncached (PCD|PWT, the power-on PAT's UC entry), since that range is never RAM
//! and lies outside the part of the direct map that covers RAM. x2APIC mode (registers as MSRs)
//! is not used; a firmware that left it on is refused at boot.
//!
//! The timer counts the bus clock divided by 16, in one-shot mode, on [`TIMER_VECTOR`]. Its
//! rate comes from `time_init` (calibrated against the PIT, like the TSC); [`set_deadline`]
//! turns an absolute [`tsc::now_ns`] time into a count.

use core::sync::atomic::{AtomicU64, Ordering};

use xen_core::layout::maddr_to_virt;

use super::cpu::{self, rdmsr, wrmsr};
use super::tsc;

/// The IDT vector of the timer interrupt (highest priority class but one, as in Xen).
pub const TIMER_VECTOR: u8 = 0xf0;
/// The spurious-interrupt vector (its low four bits must be ones on older APICs).
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// IA32_APIC_BASE.
const MSR_APIC_BASE: u32 = 0x1b;
/// IA32_APIC_BASE: the APIC is globally enabled.
const BASE_ENABLE: u64 = 1 << 11;
/// IA32_APIC_BASE: x2APIC mode.
const BASE_X2APIC: u64 = 1 << 10;
/// IA32_APIC_BASE: the register page's address (bits 12 up to MAXPHYADDR).
const BASE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

// Register offsets in the page.
const REG_ID: usize = 0x20;
const REG_VERSION: usize = 0x30;
const REG_TPR: usize = 0x80;
const REG_EOI: usize = 0xb0;
const REG_SVR: usize = 0xf0;
const REG_ESR: usize = 0x280;
const REG_LVT_TIMER: usize = 0x320;
const REG_LVT_LINT0: usize = 0x350;
const REG_LVT_ERROR: usize = 0x370;
const REG_TIMER_INITIAL: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;

/// SVR: APIC software enable.
const SVR_ENABLE: u32 = 1 << 8;
/// LVT: masked (also one-shot mode, fixed delivery, when the other bits are 0).
const LVT_MASKED: u32 = 1 << 16;
/// Divide configuration 0b0011: the timer counts the bus clock divided by 16.
const DIVIDE_BY_16: u32 = 0b0011;
/// The divisor [`DIVIDE_BY_16`] selects.
pub const TIMER_DIVISOR: u64 = 16;

/// Virtual address of the register page (0 until [`init`]).
static REGS: AtomicU64 = AtomicU64::new(0);
/// The timer's count rate in Hz (bus clock / 16), 0 until calibrated.
static TIMER_HZ: AtomicU64 = AtomicU64::new(0);
/// Counts per nanosecond as a 32.32 fixed-point number.
static COUNT_PER_NS: AtomicU64 = AtomicU64::new(0);

/// The machine address of the register page, from IA32_APIC_BASE; why not, if the CPU has no
/// usable xAPIC.
pub fn mmio_base() -> Result<u64, &'static str> {
    if cpu::cpuid(1, 0)[3] & (1 << 9) == 0 {
        return Err("the CPU has no local APIC");
    }
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC (checked just above).
    let msr = unsafe { rdmsr(MSR_APIC_BASE) };
    if msr & BASE_X2APIC != 0 {
        return Err("the firmware left the local APIC in x2APIC mode");
    }
    let base = msr & BASE_ADDR_MASK;
    // The direct map's first L4 slot (512 GiB) is the only one memory.rs builds.
    if base >= 1 << 39 {
        return Err("the local APIC's registers lie beyond the direct map");
    }
    Ok(base)
}

fn reg(offset: usize) -> *mut u32 {
    let base = REGS.load(Ordering::Relaxed);
    assert!(base != 0, "local APIC used before apic::init");
    (base as usize + offset) as *mut u32
}

fn read(offset: usize) -> u32 {
    // SAFETY: `reg` points into the register page, mapped uncached by memory.rs once init set
    // REGS; every offset used here is a 16-byte aligned register that exists on every xAPIC.
    unsafe { core::ptr::read_volatile(reg(offset)) }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`; only xen-core programs the local APIC (guests never reach it).
    unsafe { core::ptr::write_volatile(reg(offset), value) }
}

/// Turns the local APIC on: globally (IA32_APIC_BASE) and in software (SVR, with
/// [`SPURIOUS_VECTOR`]), accepting every priority, with LINT0 (the PIC's virtual wire), the
/// error LVT and the timer masked. Returns the APIC's ID and version register. Called once
/// at boot, after `memory.rs` mapped the page and before interrupts are ever enabled.
pub fn init() -> Result<(u32, u32), &'static str> {
    let base = mmio_base()?;
    // SAFETY: the MSR exists (mmio_base checked CPUID); setting the global enable with the same
    // base and mode only turns on an APIC that is already present.
    unsafe {
        let msr = rdmsr(MSR_APIC_BASE);
        if msr & BASE_ENABLE == 0 {
            wrmsr(MSR_APIC_BASE, msr | BASE_ENABLE);
        }
    }
    REGS.store(maddr_to_virt(base), Ordering::Relaxed);
    write(REG_SVR, SVR_ENABLE | u32::from(SPURIOUS_VECTOR));
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_ERROR, LVT_MASKED);
    // The ESR is cleared by a write, then read.
    write(REG_ESR, 0);
    let _ = read(REG_ESR);
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, 0);
    Ok((read(REG_ID) >> 24, read(REG_VERSION)))
}

/// LVT: ExtINT delivery (the 8259 PIC supplies the vector; no local APIC EOI).
const LVT_EXTINT: u32 = 0b111 << 8;

/// Lets the legacy PIC's interrupts in through LINT0 as ExtINT (the PC's "virtual wire"), so
/// that the device lines it unmasks (the UART's) interrupt the CPU. Their EOI goes to the PIC.
pub fn pass_pic() {
    write(REG_LVT_LINT0, LVT_EXTINT);
}

/// Signals the end of the interrupt being handled.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Starts the (masked) timer counting down from its largest value, for calibration.
pub fn start_free_running() {
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, u32::MAX);
}

/// The timer's current count (it counts down; 0 once a one-shot count ran out).
pub fn current_count() -> u32 {
    read(REG_TIMER_CURRENT)
}

/// Records the timer's count rate (bus clock / 16) in Hz, measured by `time_init`.
pub fn set_timer_hz(hz: u64) {
    TIMER_HZ.store(hz, Ordering::Relaxed);
    let per_ns = (u128::from(hz) << 32) / 1_000_000_000;
    COUNT_PER_NS.store(u64::try_from(per_ns).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// The timer's count rate in Hz (the bus clock divided by [`TIMER_DIVISOR`]); 0 before
/// calibration.
pub fn timer_hz() -> u64 {
    TIMER_HZ.load(Ordering::Relaxed)
}

/// The shortest count [`set_deadline`] programs: the interrupt comes at once, but not before
/// the count is written.
const MIN_COUNT: u32 = 1;

/// The count that elapses over `ns` nanoseconds, at least [`MIN_COUNT`] and at most what the
/// 32-bit counter holds.
fn count_for(ns: u64) -> u32 {
    let counts = (u128::from(ns) * u128::from(COUNT_PER_NS.load(Ordering::Relaxed))) >> 32;
    u32::try_from(counts).unwrap_or(u32::MAX).max(MIN_COUNT)
}

/// Arms the one-shot timer to interrupt at system time `ns_abs` ([`tsc::now_ns`]), replacing
/// any deadline set before. A time that is 0 or already past fires as soon as possible; a
/// time further away than the counter reaches (2^32 counts: about 68 s at 62.5 MHz) fires
/// early, at the counter's limit, so the handler must compare [`tsc::now_ns`] with the
/// deadline it wanted and re-arm. Does nothing before calibration. Interrupts are off in
/// xen-core, so the interrupt is taken once a guest runs or in `timer_irq::idle_wait`.
pub fn set_deadline(ns_abs: u64) {
    if timer_hz() == 0 {
        return;
    }
    let count = count_for(ns_abs.saturating_sub(tsc::now_ns()));
    write(REG_LVT_TIMER, u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, count);
}

/// Stops the timer. An interrupt that already fired but was not yet taken (interrupts are off
/// in xen-core) is still delivered once, so the handler must not assume a deadline is armed.
pub fn cancel_deadline() {
    if REGS.load(Ordering::Relaxed) == 0 {
        return;
    }
    write(REG_TIMER_INITIAL, 0);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
}
