//! Check group 6: CPUID through the forced-emulation prefix.

use hypercall_abi::cpuid::{
    XEN_CPUID_FIRST_LEAF, XEN_CPUID_SIGNATURE_EBX, XEN_CPUID_SIGNATURE_ECX, XEN_CPUID_SIGNATURE_EDX,
};

use super::context::Context;
use super::report::{Outcome, Report, expect_eq, fail};
use crate::arch::x86_64::cpu;
use crate::faults;

/// Runs the CPUID checks.
pub fn run(_ctx: &Context, report: &mut Report) {
    report.check("cpuid.hypervisor_leaf", hypervisor_leaf());
    report.check("cpuid.leaf0", leaf0());
}

fn cpuid(leaf: u32) -> Result<cpu::CpuidResult, super::report::Detail> {
    faults::clear();
    match cpu::forced_cpuid(leaf, 0) {
        Some(r) => Ok(r),
        None => {
            let vector = faults::take_last().map(|e| e.frame.vector);
            Err(super::report::Detail::new(format_args!(
                "forced-emulation CPUID faulted (vector {:?})",
                vector
            )))
        }
    }
}

fn hypervisor_leaf() -> Outcome {
    let r = cpuid(XEN_CPUID_FIRST_LEAF)?;
    expect_eq("ebx", u64::from(r.ebx), u64::from(XEN_CPUID_SIGNATURE_EBX))?;
    expect_eq("ecx", u64::from(r.ecx), u64::from(XEN_CPUID_SIGNATURE_ECX))?;
    expect_eq("edx", u64::from(r.edx), u64::from(XEN_CPUID_SIGNATURE_EDX))?;
    if r.eax < XEN_CPUID_FIRST_LEAF + 2 {
        fail!(
            "max hypervisor leaf {:#x} < {:#x}",
            r.eax,
            XEN_CPUID_FIRST_LEAF + 2
        );
    }
    Ok(())
}

fn leaf0() -> Outcome {
    let r = cpuid(0)?;
    if r.eax == 0 {
        fail!("max basic leaf is 0");
    }
    Ok(())
}
