//! The MSRs a PV guest kernel may read and write with emulated `rdmsr`/`wrmsr`, as in Xen 4.17.
//!
//! The policy (Xen 4.17 `read_msr`/`write_msr` in `arch/x86/pv/emul-priv-op.c`, checked against
//! Xen 4.17.7 under QEMU with a probe guest; our summary):
//! - Read: EFER (the host's known bits, SVME hidden), FS/GS/shadow-GS base, TSC, TSC_AUX,
//!   the microcode revision (the host's), PLATFORM_INFO and MISC_FEATURES_ENABLES (0, no CPUID
//!   faulting), AMD's DE_CFG (LFENCE serialising), APIC_BASE
//!   (the default xAPIC base, enabled, BSP on vCPU 0), PAT (Xen's own fixed value),
//!   MISC_ENABLE (the host's, with the performance-monitoring bits hidden, if the CPU has it),
//!   PERF_CAPABILITIES (0), the hypercall-page MSR 0x40000000 (0), and the performance
//!   counters and a few AMD power-management MSRs (0: Xen's vPMU is off by default).
//! - Write: FS/GS/shadow-GS base (canonical values only), TSC_AUX (32-bit values),
//!   MISC_FEATURES_ENABLES (0 only); EFER only with its current value
//!   (Linux writes it back); MISC_ENABLE, the performance counters and the power-management
//!   MSRs are accepted and dropped.
//! - Anything else raises #GP(0) in the guest. One exception: a read of an MSR the CPU has,
//!   by a guest with no #GP handler registered, returns 0 instead ("faking RDMSR"), since the
//!   guest would otherwise die.
//!
//! Hardware access goes through [`MsrEnv`], so host tests run the policy against a mock.

use hypercall_abi::layout::is_canonical;

/// IA32_TSC.
pub const MSR_TSC: u32 = 0x10;
/// IA32_APIC_BASE.
pub const MSR_APIC_BASE: u32 = 0x1b;
/// IA32_MPERF.
pub const MSR_MPERF: u32 = 0xe7;
/// IA32_APERF.
pub const MSR_APERF: u32 = 0xe8;
/// IA32_THERM_CONTROL.
pub const MSR_THERM_CONTROL: u32 = 0x19a;
/// IA32_MISC_ENABLE.
pub const MSR_MISC_ENABLE: u32 = 0x1a0;
/// IA32_ENERGY_PERF_BIAS.
pub const MSR_ENERGY_PERF_BIAS: u32 = 0x1b0;
/// IA32_PAT.
pub const MSR_PAT: u32 = 0x277;
/// IA32_PERF_CAPABILITIES.
pub const MSR_PERF_CAPABILITIES: u32 = 0x345;
/// EFER.
pub const MSR_EFER: u32 = 0xc000_0080;
/// FS base.
pub const MSR_FS_BASE: u32 = 0xc000_0100;
/// Active GS base.
pub const MSR_GS_BASE: u32 = 0xc000_0101;
/// The GS base `swapgs` exchanges with.
pub const MSR_SHADOW_GS_BASE: u32 = 0xc000_0102;
/// AMD HWCR.
pub const MSR_K8_HWCR: u32 = 0xc001_0015;
/// AMD NB_CFG.
pub const MSR_AMD64_NB_CFG: u32 = 0xc001_001f;
/// Xen's hypercall-page MSR (read as zero).
pub const MSR_XEN_HYPERCALL_PAGE: u32 = 0x4000_0000;
/// AMD PATCH_LEVEL / Intel BIOS_SIGN_ID (microcode revision).
pub const MSR_UCODE_REV: u32 = 0x8b;
/// Intel PLATFORM_INFO.
pub const MSR_PLATFORM_INFO: u32 = 0xce;
/// Intel MISC_FEATURES_ENABLES (CPUID faulting).
pub const MSR_MISC_FEATURES_ENABLES: u32 = 0x140;
/// TSC_AUX (what `rdtscp` and `rdpid` return).
pub const MSR_TSC_AUX: u32 = 0xc000_0103;
/// AMD DE_CFG.
pub const MSR_AMD64_DE_CFG: u32 = 0xc001_1029;
/// DE_CFG as Xen shows it: LFENCE serialising.
const DE_CFG_LFENCE_SERIALISE: u64 = 1 << 1;

/// The PAT value Xen programs and shows PV guests (`XEN_MSR_PAT`).
pub const XEN_MSR_PAT: u64 = 0x0000_0501_0007_0406;

const EFER_SCE: u64 = 1 << 0;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;
const EFER_FFXSE: u64 = 1 << 14;
/// The EFER bits a guest sees (Xen's known bits without SVME and AIBRSE).
pub const EFER_GUEST_VISIBLE: u64 = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_FFXSE;

const MISC_ENABLE_PERF_AVAIL: u64 = 1 << 7;
const MISC_ENABLE_BTS_UNAVAIL: u64 = 1 << 11;
const MISC_ENABLE_PEBS_UNAVAIL: u64 = 1 << 12;
const MISC_ENABLE_MONITOR_ENABLE: u64 = 1 << 18;
const MISC_ENABLE_XTPR_DISABLE: u64 = 1 << 23;

const APIC_DEFAULT_PHYS_BASE: u64 = 0xfee0_0000;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_BSP: u64 = 1 << 8;

/// The CPU vendor (some MSRs exist for one vendor only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// GenuineIntel.
    Intel,
    /// AuthenticAMD.
    Amd,
    /// HygonGenuine.
    Hygon,
    /// Anything else.
    Other,
}

/// What the MSR policy needs from the machine and the running vCPU.
pub trait MsrEnv {
    /// Reads `msr` on the CPU, or `None` if the CPU refuses it.
    fn rdmsr_safe(&mut self, msr: u32) -> Option<u64>;
    /// The CPU vendor.
    fn vendor(&self) -> Vendor;
    /// The guest's FS base.
    fn fs_base(&mut self) -> u64;
    /// The guest kernel's GS base (active while it runs).
    fn gs_base(&mut self) -> u64;
    /// The guest user's GS base.
    fn shadow_gs_base(&mut self) -> u64;
    /// Sets the FS base (canonical, checked).
    fn set_fs_base(&mut self, value: u64);
    /// Sets the guest kernel's GS base (canonical, checked).
    fn set_gs_base(&mut self, value: u64);
    /// Sets the guest user's GS base (canonical, checked).
    fn set_shadow_gs_base(&mut self, value: u64);
    /// The time-stamp counter.
    fn tsc(&mut self) -> u64;
    /// The host's EFER.
    fn efer(&mut self) -> u64;
    /// The vCPU's number.
    fn vcpu_id(&self) -> u32;
    /// Whether the guest registered a #GP handler.
    fn has_gp_handler(&self) -> bool;
    /// Whether the CPU has `rdtscp` or `rdpid` (and so TSC_AUX).
    fn has_tsc_aux(&self) -> bool;
    /// Sets TSC_AUX.
    fn set_tsc_aux(&mut self, value: u32);
}

/// The guest gets #GP(0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpFault;

/// A successful emulated read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsrRead {
    /// The value for EDX:EAX.
    pub value: u64,
    /// True when the read was faked as 0 (worth a log line, as Xen gives).
    pub faked: bool,
}

/// A successful emulated write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrWrite {
    /// The value took effect.
    Done,
    /// Accepted and ignored (Xen logs these).
    Dropped,
}

fn is_vpmu(msr: u32, vendor: Vendor) -> bool {
    match vendor {
        Vendor::Intel => matches!(msr, 0xc1..=0xc8 | 0x186..=0x189 | 0x309..=0x30b | 0x38d..=0x390),
        Vendor::Amd | Vendor::Hygon => {
            matches!(msr, 0xc001_0000..=0xc001_0007 | 0xc001_0200..=0xc001_020b)
        }
        Vendor::Other => false,
    }
}

/// AMD's K7/K8 frequency and P-state MSRs (read as 0, writes dropped, on AMD only).
fn is_amd_pstate(msr: u32) -> bool {
    matches!(msr, 0xc001_0041 | 0xc001_0042 | 0xc001_0061..=0xc001_006b)
}

fn amd_like(vendor: Vendor) -> bool {
    matches!(vendor, Vendor::Amd | Vendor::Hygon)
}

/// The MISC_ENABLE value a guest sees for host value `host`.
pub fn guest_misc_enable(host: u64) -> u64 {
    (host & !(MISC_ENABLE_PERF_AVAIL | MISC_ENABLE_MONITOR_ENABLE))
        | MISC_ENABLE_BTS_UNAVAIL
        | MISC_ENABLE_PEBS_UNAVAIL
        | MISC_ENABLE_XTPR_DISABLE
}

fn read_policy(env: &mut impl MsrEnv, msr: u32) -> Result<u64, GpFault> {
    let vendor = env.vendor();
    Ok(match msr {
        MSR_APIC_BASE => {
            let bsp = if env.vcpu_id() == 0 { APIC_BASE_BSP } else { 0 };
            APIC_DEFAULT_PHYS_BASE | APIC_BASE_ENABLE | bsp
        }
        MSR_FS_BASE => env.fs_base(),
        MSR_GS_BASE => env.gs_base(),
        MSR_SHADOW_GS_BASE => env.shadow_gs_base(),
        MSR_TSC => env.tsc(),
        MSR_EFER => env.efer() & EFER_GUEST_VISIBLE,
        MSR_PAT => XEN_MSR_PAT,
        MSR_MISC_ENABLE => guest_misc_enable(env.rdmsr_safe(msr).ok_or(GpFault)?),
        MSR_PERF_CAPABILITIES => 0,
        MSR_XEN_HYPERCALL_PAGE => 0,
        MSR_AMD64_NB_CFG => 0,
        MSR_PLATFORM_INFO | MSR_MISC_FEATURES_ENABLES => 0,
        MSR_UCODE_REV => env.rdmsr_safe(msr).ok_or(GpFault)?,
        MSR_TSC_AUX if env.has_tsc_aux() => env.rdmsr_safe(msr).ok_or(GpFault)?,
        MSR_AMD64_DE_CFG if amd_like(vendor) => DE_CFG_LFENCE_SERIALISE,
        m if is_amd_pstate(m) && vendor == Vendor::Amd => 0,
        m if is_vpmu(m, vendor) => 0,
        _ => return Err(GpFault),
    })
}

/// Emulates `rdmsr` of `msr` for a guest kernel.
pub fn read(env: &mut impl MsrEnv, msr: u32) -> Result<MsrRead, GpFault> {
    match read_policy(env, msr) {
        Ok(value) => Ok(MsrRead {
            value,
            faked: false,
        }),
        Err(GpFault)
            if !env.has_gp_handler() && msr >> 16 != 0x4000 && env.rdmsr_safe(msr).is_some() =>
        {
            Ok(MsrRead {
                value: 0,
                faked: true,
            })
        }
        Err(e) => Err(e),
    }
}

/// Emulates `wrmsr` of `value` to `msr` for a guest kernel.
pub fn write(env: &mut impl MsrEnv, msr: u32, value: u64) -> Result<MsrWrite, GpFault> {
    let vendor = env.vendor();
    match msr {
        MSR_FS_BASE | MSR_GS_BASE | MSR_SHADOW_GS_BASE => {
            if !is_canonical(value) {
                return Err(GpFault);
            }
            match msr {
                MSR_FS_BASE => env.set_fs_base(value),
                MSR_GS_BASE => env.set_gs_base(value),
                _ => env.set_shadow_gs_base(value),
            }
            Ok(MsrWrite::Done)
        }
        MSR_EFER => {
            if value == env.efer() & EFER_GUEST_VISIBLE {
                Ok(MsrWrite::Done)
            } else {
                Err(GpFault)
            }
        }
        MSR_MISC_ENABLE => {
            let host = env.rdmsr_safe(msr).ok_or(GpFault)?;
            if value == guest_misc_enable(host) {
                Ok(MsrWrite::Done)
            } else {
                Ok(MsrWrite::Dropped)
            }
        }
        MSR_AMD64_NB_CFG => Ok(MsrWrite::Dropped),
        // CPUID faulting is not offered: only "off" can be written.
        MSR_MISC_FEATURES_ENABLES if value == 0 => Ok(MsrWrite::Done),
        MSR_TSC_AUX if env.has_tsc_aux() && value >> 32 == 0 => {
            env.set_tsc_aux(value as u32);
            Ok(MsrWrite::Done)
        }
        m if (is_amd_pstate(m) || m == MSR_K8_HWCR) && amd_like(vendor) => Ok(MsrWrite::Dropped),
        MSR_MPERF | MSR_APERF if vendor != Vendor::Other => Ok(MsrWrite::Dropped),
        MSR_THERM_CONTROL | MSR_ENERGY_PERF_BIAS if vendor == Vendor::Intel => {
            Ok(MsrWrite::Dropped)
        }
        m if is_vpmu(m, vendor) => Ok(MsrWrite::Dropped),
        _ => Err(GpFault),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mock {
        vendor: Vendor,
        host: [(u32, u64); 4],
        fs: u64,
        gs: u64,
        shadow: u64,
        gp_handler: bool,
    }

    impl Mock {
        fn new(vendor: Vendor) -> Self {
            Mock {
                vendor,
                host: [
                    (MSR_MISC_ENABLE, 0x1),
                    (0xfe, 0x508),
                    (MSR_EFER, 0xd01),
                    (MSR_TSC_AUX, 0),
                ],
                fs: 0,
                gs: 0,
                shadow: 0,
                gp_handler: true,
            }
        }
    }

    impl MsrEnv for Mock {
        fn rdmsr_safe(&mut self, msr: u32) -> Option<u64> {
            self.host.iter().find(|(m, _)| *m == msr).map(|(_, v)| *v)
        }
        fn vendor(&self) -> Vendor {
            self.vendor
        }
        fn fs_base(&mut self) -> u64 {
            self.fs
        }
        fn gs_base(&mut self) -> u64 {
            self.gs
        }
        fn shadow_gs_base(&mut self) -> u64 {
            self.shadow
        }
        fn set_fs_base(&mut self, value: u64) {
            self.fs = value;
        }
        fn set_gs_base(&mut self, value: u64) {
            self.gs = value;
        }
        fn set_shadow_gs_base(&mut self, value: u64) {
            self.shadow = value;
        }
        fn tsc(&mut self) -> u64 {
            12345
        }
        fn efer(&mut self) -> u64 {
            0xd01 | (1 << 12)
        }
        fn vcpu_id(&self) -> u32 {
            0
        }
        fn has_gp_handler(&self) -> bool {
            self.gp_handler
        }
        fn has_tsc_aux(&self) -> bool {
            true
        }
        fn set_tsc_aux(&mut self, value: u32) {
            self.host[3] = (MSR_TSC_AUX, u64::from(value));
        }
    }

    fn rd(env: &mut Mock, msr: u32) -> Result<u64, GpFault> {
        read(env, msr).map(|r| r.value)
    }

    #[test]
    fn reads_match_xen_4_17() {
        let mut m = Mock::new(Vendor::Amd);
        // Values seen from a PV guest on Xen 4.17.7 under QEMU (-cpu max, AMD vendor).
        assert_eq!(rd(&mut m, MSR_EFER), Ok(0xd01), "SVME hidden");
        assert_eq!(rd(&mut m, MSR_APIC_BASE), Ok(0xfee0_0900));
        assert_eq!(rd(&mut m, MSR_PAT), Ok(0x0000_0501_0007_0406));
        assert_eq!(rd(&mut m, MSR_MISC_ENABLE), Ok(0x0080_1801));
        assert_eq!(rd(&mut m, MSR_TSC), Ok(12345));
        assert_eq!(rd(&mut m, MSR_XEN_HYPERCALL_PAGE), Ok(0));
        assert_eq!(rd(&mut m, MSR_PERF_CAPABILITIES), Ok(0));
        assert_eq!(rd(&mut m, 0xc001_0000), Ok(0), "vPMU off: counters read 0");
        m.fs = 0x123_4567_8abc;
        assert_eq!(rd(&mut m, MSR_FS_BASE), Ok(0x123_4567_8abc));
        // Unknown, or existing but not emulated: #GP while a handler is registered.
        for msr in [0xfe, 0x1234_5678, 0x174, 0xc000_0081, 0x3a, 0x4000_0001] {
            assert_eq!(rd(&mut m, msr), Err(GpFault), "{msr:#x}");
        }
    }

    #[test]
    fn more_msrs_seen_on_xen_4_17() {
        let mut m = Mock::new(Vendor::Amd);
        assert_eq!(rd(&mut m, MSR_PLATFORM_INFO), Ok(0));
        assert_eq!(rd(&mut m, MSR_MISC_FEATURES_ENABLES), Ok(0));
        assert_eq!(rd(&mut m, MSR_AMD64_DE_CFG), Ok(2));
        assert_eq!(
            write(&mut m, MSR_MISC_FEATURES_ENABLES, 0),
            Ok(MsrWrite::Done)
        );
        assert_eq!(write(&mut m, MSR_MISC_FEATURES_ENABLES, 1), Err(GpFault));
        assert_eq!(write(&mut m, MSR_TSC_AUX, 5), Ok(MsrWrite::Done));
        assert_eq!(rd(&mut m, MSR_TSC_AUX), Ok(5));
        assert_eq!(write(&mut m, MSR_TSC_AUX, 1 << 32), Err(GpFault));
        assert_eq!(rd(&mut m, MSR_UCODE_REV), Err(GpFault), "the mock lacks it");
        assert_eq!(
            rd(&mut Mock::new(Vendor::Intel), MSR_AMD64_DE_CFG),
            Err(GpFault)
        );
    }

    #[test]
    fn misc_enable_needs_the_cpu_to_have_it() {
        let mut m = Mock::new(Vendor::Intel);
        m.host[0] = (0, 0);
        assert_eq!(rd(&mut m, MSR_MISC_ENABLE), Err(GpFault));
        assert_eq!(write(&mut m, MSR_MISC_ENABLE, 0), Err(GpFault));
    }

    #[test]
    fn reads_are_faked_without_a_gp_handler() {
        let mut m = Mock::new(Vendor::Amd);
        m.gp_handler = false;
        assert_eq!(
            read(&mut m, 0xfe),
            Ok(MsrRead {
                value: 0,
                faked: true
            }),
            "the CPU has it: faked"
        );
        assert_eq!(read(&mut m, 0x1234_5678), Err(GpFault), "the CPU lacks it");
        assert_eq!(
            read(&mut m, 0x4000_0001),
            Err(GpFault),
            "never for Xen's range"
        );
        assert_eq!(rd(&mut m, MSR_PAT), Ok(XEN_MSR_PAT), "known ones as usual");
    }

    #[test]
    fn writes_match_xen_4_17() {
        let mut m = Mock::new(Vendor::Amd);
        assert_eq!(write(&mut m, MSR_EFER, 0xd01), Ok(MsrWrite::Done));
        assert_eq!(write(&mut m, MSR_EFER, 0x501), Err(GpFault));
        assert_eq!(
            write(&mut m, MSR_MISC_ENABLE, 0x80_1801),
            Ok(MsrWrite::Done)
        );
        assert_eq!(
            write(&mut m, MSR_MISC_ENABLE, 0x80_1800),
            Ok(MsrWrite::Dropped)
        );
        for msr in [MSR_PAT, MSR_APIC_BASE, MSR_TSC, 0x1234_5678, 0xfe, 0x174] {
            assert_eq!(write(&mut m, msr, 0), Err(GpFault), "{msr:#x}");
        }
        assert_eq!(write(&mut m, MSR_FS_BASE, 0x8000_0000_1000), Err(GpFault));
        assert_eq!(write(&mut m, MSR_FS_BASE, 0x5000), Ok(MsrWrite::Done));
        assert_eq!(m.fs, 0x5000);
        assert_eq!(
            write(&mut m, MSR_SHADOW_GS_BASE, 0xffff_8000_0000_0000),
            Ok(MsrWrite::Done)
        );
        assert_eq!(m.shadow, 0xffff_8000_0000_0000);
        assert_eq!(write(&mut m, MSR_GS_BASE, 7), Ok(MsrWrite::Done));
        assert_eq!(m.gs, 7);
        assert_eq!(write(&mut m, MSR_K8_HWCR, 0), Ok(MsrWrite::Dropped));
        assert_eq!(write(&mut m, 0xc001_0004, 1), Ok(MsrWrite::Dropped));
    }

    #[test]
    fn vendor_specific_msrs() {
        let mut intel = Mock::new(Vendor::Intel);
        assert_eq!(rd(&mut intel, 0xc1), Ok(0));
        assert_eq!(rd(&mut intel, 0xc001_0000), Err(GpFault));
        assert_eq!(rd(&mut intel, 0xc001_0041), Err(GpFault));
        assert_eq!(
            write(&mut intel, MSR_ENERGY_PERF_BIAS, 0),
            Ok(MsrWrite::Dropped)
        );
        assert_eq!(write(&mut intel, MSR_K8_HWCR, 0), Err(GpFault));
        let mut amd = Mock::new(Vendor::Amd);
        assert_eq!(rd(&mut amd, 0xc1), Err(GpFault));
        assert_eq!(rd(&mut amd, 0xc001_0041), Ok(0));
        assert_eq!(write(&mut amd, MSR_ENERGY_PERF_BIAS, 0), Err(GpFault));
        assert_eq!(guest_misc_enable(0xffff_ffff), 0xfffb_ff7f | (1 << 23));
    }
}
