//! conform=priv: what Xen 4.17 does with privileged instructions of a PV kernel: emulate or deliver #GP.
// Each check runs one instruction in guest kernel mode and compares what happened with what
// Xen 4.17 did: the instruction completed (emulated, or not privileged) with a given value,
// or an exception reached our trap table (vector, error code, reported at the instruction).

use core::fmt;

use hypercall_abi::segment::SegBase;
use hypercall_abi::traps::TRAP_GP_FAULT;

use super::expect::{Brief, completed, take_none};
use crate::arch::x86_64::conform::capture;
use crate::arch::x86_64::conform::insn::{self, Cpuid, Ran, Site};
use crate::arch::x86_64::conform::{hypercalls, shared};
use crate::arch::x86_64::cpu;
use crate::arch::x86_64::memory;
use crate::arch::x86_64::xen;
use crate::selftest::context::Context;
use crate::selftest::report::{Detail, Outcome, Report, expect_eq, expect_ret, fail};

/// What an instruction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// It completed with this value.
    Value(u64),
    /// It raised this vector with this error code, reported at the instruction.
    Raised(u16, Option<u64>),
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seen::Value(v) => write!(f, "completed with {:#x}", v),
            Seen::Raised(v, ec) => write!(f, "raised vector {:#x} ec {:x?}", v, ec),
        }
    }
}

/// What Xen 4.17 did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Xen {
    /// Completed with exactly this value.
    Value(u64),
    /// Completed, with a value that depends on the machine or the moment.
    Completed,
    /// Delivered #GP(0) at the instruction.
    Gp,
}

/// A probe result shown as a number.
trait Word: Copy {
    fn word(self) -> u64;
}
impl Word for () {
    fn word(self) -> u64 {
        0
    }
}
impl Word for u8 {
    fn word(self) -> u64 {
        u64::from(self)
    }
}
impl Word for u32 {
    fn word(self) -> u64 {
        u64::from(self)
    }
}
impl Word for u64 {
    fn word(self) -> u64 {
        self
    }
}

impl fmt::Display for Xen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Xen::Value(v) => write!(f, "completion with {:#x}", v),
            Xen::Completed => f.write_str("completion"),
            Xen::Gp => f.write_str("#GP(0)"),
        }
    }
}

/// Runs a probe and says what happened; the log must hold at most the one exception.
fn seen<T: Word>(ran: Ran<T>) -> Result<Seen, Detail> {
    let log = capture::take();
    match (ran.value(), log.as_slice()) {
        (Some(v), []) => Ok(Seen::Value(v.word())),
        (None, [t]) => {
            if t.rip != ran.site.insn {
                return Err(Detail::new(format_args!(
                    "{} reported at {:#x}, not at the instruction {:#x}",
                    Brief(t),
                    t.rip,
                    ran.site.insn
                )));
            }
            Ok(Seen::Raised(t.vector, t.error))
        }
        (_, log) => Err(Detail::new(format_args!(
            "completed {}, {} log entries",
            ran.value().is_some(),
            log.len()
        ))),
    }
}

fn check<T: Word>(probe: impl FnOnce() -> Ran<T>, want: Xen) -> Outcome {
    capture::clear();
    let got = seen(probe())?;
    let ok = match (want, got) {
        (Xen::Value(w), Seen::Value(g)) => w == g,
        (Xen::Completed, Seen::Value(_)) => true,
        (Xen::Gp, Seen::Raised(v, ec)) => v == u16::from(TRAP_GP_FAULT) && ec == Some(0),
        _ => false,
    };
    if !ok {
        fail!("{}, expected {}", got, want);
    }
    Ok(())
}

/// CR0 as the emulated read gives it: PG, AM, WP, NE, ET, MP, PE; TS clear (observed on Xen
/// 4.17).
const CR0: u64 = 0x8005_0033;
/// CR4 as the emulated read gives it: OSXMMEXCPT, OSFXSR, PAE, MCE (observed on Xen 4.17).
const CR4: u64 = 0x660;
/// DR7 as the emulated read gives it: only the always-one bit 10 (observed on Xen 4.17).
const DR7: u64 = 0x400;
/// IA32_APIC_BASE as the emulated read gives it: 0xfee00000, enabled, BSP (observed on Xen
/// 4.17).
const APIC_BASE: u64 = 0xfee0_0900;
/// IA32_MISC_ENABLE: fast strings, BTS and PEBS unavailable, xTPR disabled (observed on Xen
/// 4.17 under QEMU 7.2 `-cpu max`).
const MISC_ENABLE: u64 = 0x80_1801;
/// IA32_PAT as a PV guest sees it (observed on Xen 4.17).
const PAT: u64 = 0x0501_0007_0406;
/// TSC_AUX, by RDMSR and RDTSCP (observed on Xen 4.17).
const TSC_AUX: u64 = 0;
/// EFER: NXE, LMA, LME, SCE (observed on Xen 4.17).
const EFER: u64 = 0xd01;
/// Plain CPUID leaf 0x40000000 (ebx, ecx, edx): QEMU's own "TCGTCGTCGTCG", not Xen's: the
/// instruction does not trap, since QEMU's TCG offers no CPUID faulting (observed on Xen
/// 4.17 under QEMU 7.2; the forced-emulation prefix gives Xen's leaves).
const PLAIN_HYPERVISOR_SIGNATURE: [u32; 3] = [0x5447_4354, 0x4354_4743, 0x4743_5447];

/// MSR numbers.
const MSR_TSC: u32 = 0x10;
const MSR_APIC_BASE: u32 = 0x1b;
const MSR_FEATURE_CONTROL: u32 = 0x3a;
const MSR_SPEC_CTRL: u32 = 0x48;
const MSR_PLATFORM_INFO: u32 = 0xce;
const MSR_MTRR_CAP: u32 = 0xfe;
const MSR_ARCH_CAPABILITIES: u32 = 0x10a;
const MSR_SYSENTER_CS: u32 = 0x174;
const MSR_MISC_ENABLE: u32 = 0x1a0;
const MSR_PAT: u32 = 0x277;
const MSR_XEN_HYPERCALL_PAGE: u32 = 0x4000_0000;
const MSR_EFER: u32 = 0xc000_0080;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_FMASK: u32 = 0xc000_0084;
const MSR_FS_BASE: u32 = 0xc000_0100;
const MSR_GS_BASE: u32 = 0xc000_0101;
const MSR_SHADOW_GS_BASE: u32 = 0xc000_0102;
const MSR_TSC_AUX: u32 = 0xc000_0103;
/// An MSR no CPU defines.
const MSR_UNKNOWN: u32 = insn::UNDEFINED_MSR;

/// Bases set with set_segment_base before the MSR reads (values only, never dereferenced).
const FS_BASE: u64 = 0x0000_7f00_0000_1000;
const GS_KERNEL_BASE: u64 = 0x0000_7f00_0000_2000;
const GS_USER_BASE: u64 = 0x0000_7f00_0000_3000;
/// Bases written with WRMSR.
const FS_BASE_WRMSR: u64 = 0x0000_7f00_0000_4000;
const GS_BASE_WRMSR: u64 = 0x0000_7f00_0000_5000;
const SHADOW_GS_BASE_WRMSR: u64 = 0x0000_7f00_0000_6000;

/// The port used for I/O: the POST diagnostic port.
const PORT: u16 = insn::POST_PORT;

/// Runs the privileged-instruction checks.
pub fn run(ctx: &Context, report: &mut Report) {
    report.check("priv.cpuid_forced_matches_plain_vendor", cpuid_vendor());
    report.check("priv.cpuid_plain_hypervisor_leaf", cpuid_plain_hypervisor());
    report.check("priv.read_cr3", read_cr3(ctx));
    report.check("priv.read_cr0", check(insn::read_cr0, Xen::Value(CR0)));
    report.check("priv.read_cr4", check(insn::read_cr4, Xen::Value(CR4)));
    report.check("priv.read_cr8", check(insn::read_cr8, Xen::Gp));
    report.check("priv.write_cr3_same", write_cr3_same(ctx));
    report.check("priv.read_dr7", check(insn::read_dr7, Xen::Value(DR7)));
    report.check("priv.segment_bases", set_bases());
    for (name, msr, want) in RDMSR {
        report.check(name, check(|| insn::rdmsr(msr), want));
    }
    report.check("priv.wrmsr_fs_base", wrmsr_back(MSR_FS_BASE, FS_BASE_WRMSR));
    report.check("priv.wrmsr_gs_base", wrmsr_back(MSR_GS_BASE, GS_BASE_WRMSR));
    report.check(
        "priv.wrmsr_shadow_gs_base",
        wrmsr_back(MSR_SHADOW_GS_BASE, SHADOW_GS_BASE_WRMSR),
    );
    report.check("priv.wrmsr_efer_same", wrmsr_same(MSR_EFER, Xen::Completed));
    report.check("priv.wrmsr_pat_same", wrmsr_same(MSR_PAT, Xen::Gp));
    report.check("priv.wrmsr_unknown", wrmsr_unknown());
    report.check("priv.in_without_iopl", check(|| insn::inb(PORT), Xen::Gp));
    report.check("priv.out_without_iopl", check(out_port, Xen::Gp));
    report.check("priv.cli_without_iopl", check(insn::cli, Xen::Gp));
    report.check("priv.sti_without_iopl", check(insn::sti, Xen::Gp));
    report.check(
        "priv.set_iopl_1",
        expect_ret("physdev_op(set_iopl 1)", hypercalls::set_iopl(1), 0),
    );
    report.check(
        "priv.in_with_iopl",
        check(|| insn::inb(PORT), Xen::Value(0xff)),
    );
    report.check("priv.out_with_iopl", check(out_port, Xen::Value(0)));
    report.check("priv.cli_with_iopl", cli_sti(insn::cli));
    report.check("priv.sti_with_iopl", cli_sti(insn::sti));
    report.check(
        "priv.set_iopl_0",
        expect_ret("physdev_op(set_iopl 0)", hypercalls::set_iopl(0), 0),
    );
    report.check("priv.in_after_iopl_0", check(|| insn::inb(PORT), Xen::Gp));
    report.check("priv.hlt", check(insn::hlt, Xen::Gp));
    report.check("priv.wbinvd", check(insn::wbinvd, Xen::Value(0)));
    report.check("priv.invd", check(insn::invd, Xen::Gp));
    report.check("priv.rdtsc", rdtsc());
    report.check("priv.rdtscp", check(tscp_aux, Xen::Value(TSC_AUX)));
    report.check("priv.rdpmc", check(insn::rdpmc0, Xen::Gp));
    report.check("priv.swapgs", check(insn::swapgs, Xen::Gp));
    report.check("priv.ltr", check(insn::ltr_null, Xen::Gp));
}

/// The RDMSR table: name, MSR, what Xen 4.17 did.
const RDMSR: [(&str, u32, Xen); 20] = [
    ("priv.rdmsr_tsc", MSR_TSC, Xen::Completed),
    ("priv.rdmsr_apic_base", MSR_APIC_BASE, Xen::Value(APIC_BASE)),
    ("priv.rdmsr_feature_control", MSR_FEATURE_CONTROL, Xen::Gp),
    ("priv.rdmsr_spec_ctrl", MSR_SPEC_CTRL, Xen::Gp),
    ("priv.rdmsr_platform_info", MSR_PLATFORM_INFO, Xen::Value(0)),
    ("priv.rdmsr_mtrr_cap", MSR_MTRR_CAP, Xen::Gp),
    (
        "priv.rdmsr_arch_capabilities",
        MSR_ARCH_CAPABILITIES,
        Xen::Gp,
    ),
    ("priv.rdmsr_sysenter_cs", MSR_SYSENTER_CS, Xen::Gp),
    (
        "priv.rdmsr_misc_enable",
        MSR_MISC_ENABLE,
        Xen::Value(MISC_ENABLE),
    ),
    ("priv.rdmsr_pat", MSR_PAT, Xen::Value(PAT)),
    (
        "priv.rdmsr_xen_hypercall_page",
        MSR_XEN_HYPERCALL_PAGE,
        Xen::Value(0),
    ),
    ("priv.rdmsr_efer", MSR_EFER, Xen::Value(EFER)),
    ("priv.rdmsr_star", MSR_STAR, Xen::Gp),
    ("priv.rdmsr_lstar", MSR_LSTAR, Xen::Gp),
    ("priv.rdmsr_fmask", MSR_FMASK, Xen::Gp),
    ("priv.rdmsr_fs_base", MSR_FS_BASE, Xen::Value(FS_BASE)),
    (
        "priv.rdmsr_gs_base",
        MSR_GS_BASE,
        Xen::Value(GS_KERNEL_BASE),
    ),
    (
        "priv.rdmsr_shadow_gs_base",
        MSR_SHADOW_GS_BASE,
        Xen::Value(GS_USER_BASE),
    ),
    ("priv.rdmsr_tsc_aux", MSR_TSC_AUX, Xen::Value(TSC_AUX)),
    ("priv.rdmsr_unknown", MSR_UNKNOWN, Xen::Gp),
];

/// A probe that could not run (its precondition failed): shown as faulted with nothing (or
/// the precondition's exception) logged.
fn not_run() -> Ran<()> {
    Ran {
        result: None,
        site: Site::default(),
    }
}

fn cpuid_words(r: &Cpuid) -> [u32; 3] {
    [r[1], r[2], r[3]]
}

fn cpuid_vendor() -> Outcome {
    capture::clear();
    let plain = completed(&insn::cpuid_plain(0, 0))?;
    let Some(forced) = cpu::forced_cpuid(0, 0) else {
        fail!("forced-emulation CPUID faulted");
    };
    take_none()?;
    let forced = [forced.ebx, forced.ecx, forced.edx];
    if cpuid_words(&plain) != forced {
        fail!(
            "vendor {:x?} (plain) vs {:x?} (forced)",
            cpuid_words(&plain),
            forced
        );
    }
    Ok(())
}

fn cpuid_plain_hypervisor() -> Outcome {
    capture::clear();
    let plain = completed(&insn::cpuid_plain(0x4000_0000, 0))?;
    if cpuid_words(&plain) != PLAIN_HYPERVISOR_SIGNATURE {
        fail!(
            "plain leaf 0x40000000 gives {:x?}, expected {:x?}",
            cpuid_words(&plain),
            PLAIN_HYPERVISOR_SIGNATURE
        );
    }
    Ok(())
}

fn read_cr3(ctx: &Context) -> Outcome {
    let Some(l4) = ctx.l4_mfn() else {
        fail!("pt_base has no P2M entry");
    };
    check(insn::read_cr3, Xen::Value(l4 << 12))
}

fn write_cr3_same(ctx: &Context) -> Outcome {
    let Some(l4) = ctx.l4_mfn() else {
        fail!("pt_base has no P2M entry");
    };
    check(
        || insn::write_cr3_current().unwrap_or_else(not_run),
        Xen::Value(0),
    )?;
    check(insn::read_cr3, Xen::Value(l4 << 12))
}

fn set_bases() -> Outcome {
    for (which, base) in [
        (SegBase::Fs, FS_BASE),
        (SegBase::GsKernel, GS_KERNEL_BASE),
        (SegBase::GsUser, GS_USER_BASE),
    ] {
        expect_ret(
            "set_segment_base",
            xen::set_segment_base(which as u64, base),
            0,
        )?;
    }
    Ok(())
}

fn wrmsr_back(msr: u32, value: u64) -> Outcome {
    let probe = || insn::wrmsr_base(msr, value).unwrap_or_else(not_run);
    check(probe, Xen::Value(0))?;
    check(|| insn::rdmsr(msr), Xen::Value(value))
}

fn wrmsr_same(msr: u32, want: Xen) -> Outcome {
    capture::clear();
    let current = completed(&insn::rdmsr(msr))?;
    check(|| insn::rewrite_msr(msr).unwrap_or_else(not_run), want)?;
    check(|| insn::rdmsr(msr), Xen::Value(current))
}

fn wrmsr_unknown() -> Outcome {
    check(insn::wrmsr_undefined, Xen::Gp)
}

fn out_port() -> Ran<()> {
    insn::outb_post(0x42)
}

/// With I/O privilege, cli and sti complete as no-ops: the event upcall mask stays as it was
/// (masked) (observed on Xen 4.17).
fn cli_sti(probe: fn() -> Ran<()>) -> Outcome {
    check(probe, Xen::Value(0))?;
    let mask = memory::upcall_mask(0).unwrap_or(0xff);
    shared::set_upcall_mask(1);
    expect_eq("upcall mask", u64::from(mask), 1)
}

fn rdtsc() -> Outcome {
    capture::clear();
    let a = completed(&insn::rdtsc())?;
    let b = completed(&insn::rdtsc())?;
    if b <= a {
        fail!("rdtsc went from {:#x} to {:#x}", a, b);
    }
    Ok(())
}

fn tscp_aux() -> Ran<u32> {
    let r = insn::rdtscp();
    Ran {
        result: r.result.map(|(_, aux)| aux),
        site: r.site,
    }
}
