//! The MSR policy's view of the real CPU and the running vCPU.

use xen_core::trap::msr::{
    MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_SHADOW_GS_BASE, MSR_TSC, MsrEnv, Vendor,
};

use crate::arch::x86_64::msr_safe::{rdmsr_safe, write_tsc_aux};
use crate::arch::x86_64::{cpu, segments};

/// The CPU's vendor, from CPUID leaf 0.
pub fn vendor() -> Vendor {
    match cpu::cpuid(0, 0)[1] {
        0x756e_6547 => Vendor::Intel, // "Genu"
        0x6874_7541 => Vendor::Amd,   // "Auth"
        0x6f67_7948 => Vendor::Hygon, // "Hygo"
        _ => Vendor::Other,
    }
}

/// The running guest kernel's MSR environment. While a PV kernel runs, the FS base, the
/// active GS base (the kernel's) and the shadow GS base (the user's) are in the CPU's MSRs.
pub struct HwMsrEnv {
    /// Whether the guest registered a #GP handler.
    pub has_gp_handler: bool,
}

impl MsrEnv for HwMsrEnv {
    fn rdmsr_safe(&mut self, msr: u32) -> Option<u64> {
        rdmsr_safe(msr)
    }

    fn vendor(&self) -> Vendor {
        vendor()
    }

    fn fs_base(&mut self) -> u64 {
        rdmsr_safe(MSR_FS_BASE).unwrap_or(0)
    }

    fn gs_base(&mut self) -> u64 {
        rdmsr_safe(MSR_GS_BASE).unwrap_or(0)
    }

    fn shadow_gs_base(&mut self) -> u64 {
        rdmsr_safe(MSR_SHADOW_GS_BASE).unwrap_or(0)
    }

    fn set_fs_base(&mut self, value: u64) {
        segments::set_fs_base(value);
    }

    fn set_gs_base(&mut self, value: u64) {
        segments::set_active_gs_base(value);
    }

    fn set_shadow_gs_base(&mut self, value: u64) {
        segments::set_shadow_gs_base(value);
    }

    fn tsc(&mut self) -> u64 {
        rdmsr_safe(MSR_TSC).unwrap_or(0)
    }

    fn efer(&mut self) -> u64 {
        rdmsr_safe(MSR_EFER).unwrap_or(0)
    }

    fn vcpu_id(&self) -> u32 {
        0
    }

    fn has_gp_handler(&self) -> bool {
        self.has_gp_handler
    }

    fn has_tsc_aux(&self) -> bool {
        let rdtscp = cpu::cpuid(0x8000_0000, 0)[0] >= 0x8000_0001
            && cpu::cpuid(0x8000_0001, 0)[3] & (1 << 27) != 0;
        let rdpid = cpu::cpuid(0, 0)[0] >= 7 && cpu::cpuid(7, 0)[2] & (1 << 22) != 0;
        rdtscp || rdpid
    }

    fn set_tsc_aux(&mut self, value: u32) {
        write_tsc_aux(value);
    }
}
