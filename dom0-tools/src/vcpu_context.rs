//! A new PV DomU's first vCPU state, for domctl setvcpucontext (as libxenguest sets it).

use hypercall_abi::segment::{FLAT_KERNEL_CS64, FLAT_KERNEL_DS64, FLAT_KERNEL_SS64};
use hypercall_abi::vcpu::{VGCF_IN_KERNEL, VGCF_ONLINE, VcpuGuestContext, xen_pfn_to_cr3};

use crate::domu_plan::DomuPlan;

/// DR6's value at reset (its reserved bits set), as libxenguest passes it.
pub const X86_DR6_DEFAULT: u64 = 0xFFFF_0FF0;
/// DR7's value at reset, as libxenguest passes it.
pub const X86_DR7_DEFAULT: u64 = 0x0000_0400;
/// RFLAGS at entry: interrupts (events) enabled.
pub const ENTRY_RFLAGS: u64 = 1 << 9;

/// vCPU 0's context: kernel mode and online, RIP at the entry point, RSP at the top of the
/// boot stack, RSI at start_info, RFLAGS.IF, the flat kernel selectors, the kernel stack for
/// ring transitions, CR3 naming the L4 `l4_mfn`; everything else zero.
pub fn initial_context(plan: &DomuPlan, l4_mfn: u64) -> VcpuGuestContext {
    let mut ctx = VcpuGuestContext {
        flags: VGCF_IN_KERNEL | VGCF_ONLINE,
        ..VcpuGuestContext::default()
    };
    let regs = &mut ctx.user_regs;
    regs.rip = plan.image.entry;
    regs.rsp = plan.stack_top();
    regs.rsi = plan.layout.start_info;
    regs.rflags = ENTRY_RFLAGS;
    regs.cs = FLAT_KERNEL_CS64;
    regs.ss = FLAT_KERNEL_SS64;
    regs.ds = FLAT_KERNEL_DS64;
    regs.es = FLAT_KERNEL_DS64;
    regs.fs = FLAT_KERNEL_DS64;
    regs.gs = FLAT_KERNEL_DS64;
    ctx.kernel_ss = u64::from(FLAT_KERNEL_SS64);
    ctx.kernel_sp = plan.stack_top();
    ctx.ctrlreg[3] = xen_pfn_to_cr3(l4_mfn);
    ctx.debugreg[6] = X86_DR6_DEFAULT;
    ctx.debugreg[7] = X86_DR7_DEFAULT;
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domu_plan::plan;
    use crate::guest_pages::tests::test_kernel;

    #[test]
    fn the_first_context_starts_the_kernel_like_xen_starts_dom0() {
        let plan = plan(&test_kernel(), 1024, 0).unwrap();
        let ctx = initial_context(&plan, 0xABCDE);
        assert_eq!(ctx.flags, VGCF_IN_KERNEL | VGCF_ONLINE);
        assert_eq!(ctx.user_regs.rip, 0xFFFF_FFFF_8000_1000);
        assert_eq!(ctx.user_regs.rsi, plan.layout.start_info);
        assert_eq!(ctx.user_regs.rsp, plan.layout.stack + 4096);
        assert_eq!(ctx.user_regs.rflags, 0x200);
        assert_eq!((ctx.user_regs.cs, ctx.user_regs.ss), (0xe033, 0xe02b));
        assert_eq!(ctx.user_regs.ds, 0);
        assert_eq!((ctx.kernel_ss, ctx.kernel_sp), (0xe02b, ctx.user_regs.rsp));
        assert_eq!(ctx.ctrlreg[3], 0xABCDE << 12);
        assert_eq!(ctx.ctrlreg[1], 0, "no user page table yet");
        assert_eq!((ctx.debugreg[6], ctx.debugreg[7]), (0xFFFF_0FF0, 0x400));
        assert_eq!(ctx.user_regs.rax | ctx.user_regs.rdi | ctx.user_regs.rbp, 0);
        assert_eq!(ctx.event_callback_eip | ctx.syscall_callback_eip, 0);
        assert!(ctx.trap_ctxt.iter().all(|t| t.address == 0));
        assert_eq!(ctx.gdt_ents, 0);
    }
}
