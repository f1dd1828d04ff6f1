//! conform=fpu: fpu_taskswitch and #NM, and the x87/SSE state kept across hypercalls, traps and user mode.
// The state checks load a full fxsave image (x87 registers and control/status/tag words,
// MXCSR, XMM0-15), cross the boundary, save it again and compare the architectural fields.
// This kernel is built soft-float with SSE disabled, so no compiled code touches that state
// in between.

use hypercall_abi::traps::{TRAP_INVALID_OP, TRAP_NO_DEVICE};

use super::expect::{Brief, Want, completed, faulted, matches, take_one};
use crate::arch::x86_64::conform::capture::{self, NmAction, Trap};
use crate::arch::x86_64::conform::fpu::{self, FxArea};
use crate::arch::x86_64::conform::hypercalls;
use crate::arch::x86_64::conform::insn::{self, Ran};
use crate::arch::x86_64::conform::user_run::{self, Program};
use crate::arch::x86_64::xen;
use crate::selftest::report::{Detail, Outcome, Report, expect_eq, expect_ret, fail};

/// CR0.TS.
const CR0_TS: u64 = 1 << 3;
/// The x87 control word a new vCPU starts with (observed on Xen 4.17).
const INITIAL_FCW: u16 = 0x037f;
/// MXCSR a new vCPU starts with (observed on Xen 4.17).
const INITIAL_MXCSR: u32 = 0x1f80;
/// CR0.TS right after Xen delivered #NM, as the handler reads it: clear (observed on Xen
/// 4.17: Xen clears the virtual TS when it bounces #NM, so the retried instruction runs).
const TS_IN_NM_HANDLER: u64 = 0;
/// The control word of the test images: 53-bit precision, round up, all exceptions masked.
const PATTERN_FCW: u16 = 0x0a7f;
/// MXCSR of the test images: round down, flush-to-zero, all exceptions masked.
const PATTERN_MXCSR: u32 = 0x1f80 | (1 << 13) | (1 << 15);

/// Runs the FPU checks.
pub fn run(report: &mut Report) {
    report.check("fpu.initial_control_words", initial());
    report.check("fpu.taskswitch_sets_ts", taskswitch_sets_ts());
    report.check("fpu.nm_x87_clears_ts", nm(fpu::x87_nop));
    report.check("fpu.nm_sse_clears_ts", nm(fpu::sse_nop));
    report.check("fpu.clts_emulated", clts());
    report.check("fpu.mov_cr0_ts_emulated", mov_cr0());
    report.check("fpu.state_across_hypercall", across(1, Crossing::Hypercall));
    report.check("fpu.state_across_trap", across(2, Crossing::Trap));
    report.check("fpu.state_across_nm", across(3, Crossing::TaskSwitch));
    report.check("fpu.state_across_yield", across(4, Crossing::Yield));
    report.check("fpu.control_words_across_hypercall", control_words());
    report.check("fpu.state_across_user_mode", user_mode());
}

fn initial() -> Outcome {
    let fcw = completed(&fpu::fnstcw())?;
    let mxcsr = completed(&fpu::stmxcsr())?;
    expect_eq("fcw", u64::from(fcw), u64::from(INITIAL_FCW))?;
    expect_eq("mxcsr", u64::from(mxcsr), u64::from(INITIAL_MXCSR))
}

fn cr0() -> Result<u64, Detail> {
    completed(&insn::read_cr0())
}

fn taskswitch_sets_ts() -> Outcome {
    expect_ret("fpu_taskswitch(1)", hypercalls::fpu_taskswitch(true), 0)?;
    let set = cr0()?;
    expect_ret("fpu_taskswitch(0)", hypercalls::fpu_taskswitch(false), 0)?;
    let clear = cr0()?;
    expect_eq("cr0.TS after fpu_taskswitch(1)", set & CR0_TS, CR0_TS)?;
    expect_eq("cr0.TS after fpu_taskswitch(0)", clear & CR0_TS, 0)
}

/// With TS set, the instruction raises #NM once; the handler finds TS already clear and the
/// retried instruction completes.
fn nm(probe: fn() -> Ran<()>) -> Outcome {
    expect_ret("fpu_taskswitch(1)", hypercalls::fpu_taskswitch(true), 0)?;
    capture::set_nm_action(NmAction::Retry);
    capture::clear();
    let ran = probe();
    capture::set_nm_action(NmAction::Fixup);
    let log = capture::take();
    let after = cr0();
    let _ = hypercalls::fpu_taskswitch(false);
    completed(&ran)?;
    let nms: heapless::Vec<&Trap, 16> = log
        .iter()
        .filter(|t| t.vector == u16::from(TRAP_NO_DEVICE))
        .collect();
    let Some(first) = nms.first() else {
        match log.first() {
            Some(t) => fail!("no #NM; first entry {}", Brief(t)),
            None => fail!("no #NM: the instruction ran with TS set"),
        }
    };
    matches(first, &Want::kernel(TRAP_NO_DEVICE, None, ran.site.insn))?;
    let Some(cr0_in_handler) = first.cr0 else {
        fail!("the CR0 read in the #NM handler faulted");
    };
    expect_eq(
        "cr0.TS in the #NM handler",
        cr0_in_handler & CR0_TS,
        TS_IN_NM_HANDLER,
    )?;
    expect_eq("#NM deliveries", nms.len() as u64, 1)?;
    expect_eq("cr0.TS afterwards", after? & CR0_TS, 0)
}

fn clts() -> Outcome {
    expect_ret("fpu_taskswitch(1)", hypercalls::fpu_taskswitch(true), 0)?;
    capture::clear();
    let ran = insn::clts();
    let after = cr0();
    let _ = hypercalls::fpu_taskswitch(false);
    completed(&ran)?;
    expect_eq("cr0.TS after clts", after? & CR0_TS, 0)
}

fn mov_cr0() -> Outcome {
    let before = cr0()?;
    capture::clear();
    let Some(ran) = insn::mov_cr0_ts(true) else {
        fail!("cannot read cr0");
    };
    let after = cr0();
    let _ = hypercalls::fpu_taskswitch(false);
    completed(&ran)?;
    expect_eq("cr0 after mov %cr0 with TS", after?, before | CR0_TS)
}

/// A test image: control words as above, every x87 and XMM register a distinct pattern
/// seeded by `seed`, all x87 registers tagged valid.
fn pattern(seed: u8) -> FxArea {
    let mut a = FxArea::default();
    a.0[0..2].copy_from_slice(&PATTERN_FCW.to_le_bytes());
    a.0[4] = 0xff;
    a.0[24..28].copy_from_slice(&PATTERN_MXCSR.to_le_bytes());
    for i in 0..8 {
        for j in 0..10 {
            a.0[32 + 16 * i + j] = seed.wrapping_mul(0x31) ^ (i as u8 * 0x10 + j as u8);
        }
    }
    for i in 0..16 {
        for j in 0..16 {
            a.0[160 + 16 * i + j] = seed.wrapping_mul(0x57) ^ (0x80 | (i as u8 * 0x10 + j as u8));
        }
    }
    a
}

/// The architectural fields of an fxsave image: (first byte, length, name).
const FIELDS: [(usize, usize, &str); 4] = [
    (0, 2, "fcw"),
    (2, 2, "fsw"),
    (4, 1, "ftw"),
    (24, 4, "mxcsr"),
];

/// The architectural fields must match: FCW, FSW, abridged FTW, MXCSR, ST0-7 (10 bytes each),
/// XMM0-15.
fn same_state(what: &str, got: &FxArea, want: &FxArea) -> Outcome {
    let st = (0..8).map(|i| (32 + 16 * i, 10, "st"));
    let xmm = (0..16).map(|i| (160 + 16 * i, 16, "xmm"));
    for (start, len, name) in FIELDS.into_iter().chain(st).chain(xmm) {
        let (g, w) = (&got.0[start..start + len], &want.0[start..start + len]);
        if g != w {
            fail!(
                "{}: {} at byte {} is {:02x?}, expected {:02x?}",
                what,
                name,
                start,
                g,
                w
            );
        }
    }
    Ok(())
}

/// What happens between loading and saving the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Crossing {
    /// A hypercall.
    Hypercall,
    /// An exception bounced through the trap table and back.
    Trap,
    /// fpu_taskswitch(1), then the save raises #NM and is retried.
    TaskSwitch,
    /// sched_op yield.
    Yield,
}

fn across(seed: u8, crossing: Crossing) -> Outcome {
    let want = pattern(seed);
    if !fpu::fxrstor(&want) {
        fail!("fxrstor of the test image faulted");
    }
    capture::clear();
    match crossing {
        Crossing::Hypercall => {
            expect_ret("xen_version", hypercalls::null_hypercall() >> 16, 4)?;
        }
        Crossing::Trap => {
            faulted(&insn::ud2())?;
            let t = take_one()?;
            expect_eq("vector", u64::from(t.vector), u64::from(TRAP_INVALID_OP))?;
        }
        Crossing::TaskSwitch => {
            expect_ret("fpu_taskswitch(1)", hypercalls::fpu_taskswitch(true), 0)?;
            capture::set_nm_action(NmAction::Retry);
        }
        Crossing::Yield => {
            expect_ret("sched_op yield", xen::sched_yield(), 0)?;
        }
    }
    let got = fpu::fxsave();
    capture::set_nm_action(NmAction::Fixup);
    let _ = hypercalls::fpu_taskswitch(false);
    let Some(got) = got else {
        fail!("fxsave faulted");
    };
    if crossing == Crossing::TaskSwitch {
        let log = capture::take();
        if log.len() != 1 || log[0].vector != u16::from(TRAP_NO_DEVICE) {
            fail!("expected one #NM, got {} entries", log.len());
        }
    }
    same_state("after crossing", &got, &want)
}

/// MXCSR and FCW as set by the test image survive a hypercall (read with stmxcsr/fnstcw).
fn control_words() -> Outcome {
    if !fpu::fxrstor(&pattern(5)) {
        fail!("fxrstor of the test image faulted");
    }
    let _ = hypercalls::null_hypercall();
    let fcw = completed(&fpu::fnstcw())?;
    let mxcsr = completed(&fpu::stmxcsr())?;
    expect_eq("fcw", u64::from(fcw), u64::from(PATTERN_FCW))?;
    expect_eq("mxcsr", u64::from(mxcsr), u64::from(PATTERN_MXCSR))
}

/// The kernel's state reaches user mode, the user's state comes back to the kernel.
fn user_mode() -> Outcome {
    super::user::setup_user_mode()?;
    let kernel = pattern(6);
    let user = pattern(7);
    user_run::set_fx_load(&user);
    if !fpu::fxrstor(&kernel) {
        fail!("fxrstor of the test image faulted");
    }
    capture::clear();
    user_run::run(Program::Fpu, 0x2);
    let back = fpu::fxsave();
    let log = capture::take();
    let Some(back) = back else {
        fail!("fxsave faulted");
    };
    let seen = user_run::fx_saved();
    if log.len() != 1 || log[0].vector != capture::SYSCALL_SLOT {
        match log.first() {
            Some(t) => fail!("{} entries, first {}", log.len(), Brief(t)),
            None => fail!("nothing logged"),
        }
    }
    same_state("in user mode", &seen, &kernel)?;
    same_state("back in the kernel", &back, &user)?;
    Ok(())
}
