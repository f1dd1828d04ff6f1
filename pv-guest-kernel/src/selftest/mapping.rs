//! Check group 4: update_va_mapping of shared_info, and two mappings that must be refused.

use hypercall_abi::Errno;
use hypercall_abi::mmu::{PteFlags, UVMF_INVLPG, UVMF_LOCAL};

use super::context::Context;
use super::report::{Outcome, Report, expect_eq, expect_errno, fail};
use crate::arch::x86_64::memory::{self, SparePage, WORDS_PER_PAGE};
use crate::arch::x86_64::probes::HYPERVISOR_ADDRESS;
use crate::arch::x86_64::xen;

/// P|RW|A|D|U.
const PTE_FLAGS: u64 = PteFlags::PRESENT
    .union(PteFlags::RW)
    .union(PteFlags::ACCESSED)
    .union(PteFlags::DIRTY)
    .union(PteFlags::USER)
    .bits();
/// Flush just this address on this vCPU.
const UVMF: u64 = UVMF_INVLPG | UVMF_LOCAL;

/// update_va_mapping of a hypervisor virtual address: -EINVAL (observed on Xen 4.17).
const HYPERVISOR_VA_ERRNO: Errno = Errno::Inval;
/// update_va_mapping making the L4 frame writable: -EBUSY (observed on Xen 4.17: the frame
/// holds a page-table type and cannot also take the writable type).
const WRITABLE_L4_ERRNO: Errno = Errno::Busy;

/// Runs the mapping checks.
pub fn run(ctx: &Context, report: &mut Report) {
    report.check("update_va_mapping.shared_info", shared_info(ctx));
    report.check("update_va_mapping.hypervisor_va", hypervisor_va(ctx));
    report.check("update_va_mapping.writable_l4", writable_l4(ctx));
}

fn shared_info(ctx: &Context) -> Outcome {
    let ret = xen::map_shared_info(ctx.start_info.shared_info, PTE_FLAGS, UVMF);
    super::report::expect_ret("update_va_mapping(shared_info)", ret, 0)?;
    match memory::upcall_mask(0) {
        Some(mask) => expect_eq("vcpu_info[0].evtchn_upcall_mask", u64::from(mask), 1),
        None => fail!("shared_info not readable"),
    }
}

/// The pattern word `i` of the probe page holds.
fn pattern(i: usize) -> u64 {
    0xA5C3_0000_0000_0000 ^ (i as u64).wrapping_mul(0x0001_0001_0001_0001)
}

fn fill_probe() {
    for i in 0..WORDS_PER_PAGE {
        SparePage::Probe.write(i, pattern(i));
    }
}

/// The probe page must still map our own frame (its pattern intact).
fn probe_intact() -> Outcome {
    for i in 0..WORDS_PER_PAGE {
        let word = SparePage::Probe.read(i);
        if word != Some(pattern(i)) {
            fail!(
                "probe page word {} is {:?} after the refusal: mapping changed",
                i,
                word
            );
        }
    }
    Ok(())
}

fn hypervisor_va(ctx: &Context) -> Outcome {
    fill_probe();
    let Some(mfn) = ctx.mfn_of_va(SparePage::Probe.va()) else {
        fail!("probe page has no P2M entry");
    };
    let Some(ret) =
        xen::update_va_mapping_hypervisor_range(HYPERVISOR_ADDRESS, (mfn << 12) | PTE_FLAGS, UVMF)
    else {
        fail!("{:#x} is not in the hypervisor range", HYPERVISOR_ADDRESS);
    };
    expect_errno("update_va_mapping(hypervisor va)", ret, HYPERVISOR_VA_ERRNO)?;
    probe_intact()?;
    if memory::shared_info_mapped() {
        let mask = memory::upcall_mask(0).map(u64::from);
        expect_eq("upcall mask after the refusal", mask.unwrap_or(u64::MAX), 1)?;
    }
    Ok(())
}

fn writable_l4(ctx: &Context) -> Outcome {
    fill_probe();
    let Some(l4) = ctx.l4_mfn() else {
        fail!("pt_base has no P2M entry");
    };
    let ret = xen::remap_probe_page((l4 << 12) | PTE_FLAGS, UVMF);
    expect_errno("update_va_mapping(L4 writable)", ret, WRITABLE_L4_ERRNO)?;
    probe_intact()
}
