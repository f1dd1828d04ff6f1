//! The CPUID a PV guest sees through the forced-emulation prefix: the host's, plus Xen's leaves.

use hypercall_abi::cpuid::*;

use crate::arch::x86_64::cpu;
use crate::hypercall::xen_version::{XEN_MAJOR, XEN_MINOR};

/// Highest hypervisor leaf offered.
const LAST_XEN_LEAF: u32 = XEN_CPUID_FIRST_LEAF + 2;

/// CPUID leaf 1 ECX: VMX, SMX (not for guests) and the "running under a hypervisor" bit.
const LEAF1_ECX_HIDE: u32 = (1 << 5) | (1 << 6);
const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;

/// CPUID(`leaf`, `subleaf`) as the guest sees it.
pub fn guest_cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    match leaf {
        XEN_CPUID_FIRST_LEAF => [
            LAST_XEN_LEAF,
            XEN_CPUID_SIGNATURE_EBX,
            XEN_CPUID_SIGNATURE_ECX,
            XEN_CPUID_SIGNATURE_EDX,
        ],
        // Version.
        0x4000_0001 => [((XEN_MAJOR << 16) | XEN_MINOR) as u32, 0, 0, 0],
        // One hypercall page; its MSR base (unused by PV guests, which get the page built in).
        0x4000_0002 => [1, XEN_CPUID_FIRST_LEAF, 0, 0],
        0x4000_0003..=0x4000_00ff => [0; 4],
        1 => {
            let [a, b, c, d] = cpu::cpuid(1, subleaf);
            [
                a,
                b & 0x00ff_ffff,
                (c & !LEAF1_ECX_HIDE) | LEAF1_ECX_HYPERVISOR,
                d,
            ]
        }
        _ => cpu::cpuid(leaf, subleaf),
    }
}
