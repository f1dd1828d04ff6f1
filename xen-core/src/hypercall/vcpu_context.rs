//! domctl setvcpucontext and getvcpucontext: a PV vCPU's whole state, as a domain builder gives it.
//!
//! As Xen's `arch_set_info_guest` for a 64-bit PV vCPU: the registers with the code and stack
//! selectors' RPL forced to 3 (0 means the flat kernel ones), the trap table, the callbacks, the
//! kernel stack, the GDT frames (typed as descriptor pages), the LDT, the kernel and user
//! page-table roots (typed as L4 tables), the FS/GS bases and the FPU image. Every check comes
//! before anything changes; a vCPU that already has a context is refused (-EEXIST) instead of
//! being reset in place.

use hypercall_abi::Errno;
use hypercall_abi::layout::is_canonical;
use hypercall_abi::segment::{FLAT_KERNEL_CS64, FLAT_KERNEL_SS64};
use hypercall_abi::vcpu::{
    VGCF_FAILSAFE_DISABLES_EVENTS, VGCF_I387_VALID, VGCF_IN_KERNEL, VGCF_ONLINE,
    VGCF_SYSCALL_DISABLES_EVENTS, VcpuGuestContext, xen_cr3_to_pfn, xen_pfn_to_cr3,
};
use xen_core::desc_tables::{MAX_GDT_FRAMES, check_set_ldt, gdt_frames_for};
use xen_core::guest_regs::GuestRegs;
use xen_core::mm::frame_table::PageType;
use xen_core::mm::page_memory::PageMemory;
use xen_core::mm::page_type::Mm;
use xen_core::vcpu::{Callback, FxsaveArea, TrapEntry};

use crate::arch::x86_64::context::SegState;
use crate::domain::Domain;

/// A selector as Xen stores it for a PV vCPU: RPL 3, or the flat kernel one for null.
fn guest_selector(sel: u16, flat: u16) -> u64 {
    u64::from(if sel & !3 == 0 { flat } else { sel | 3 })
}

/// A checked context, ready to install.
pub struct NewContext {
    regs: GuestRegs,
    seg: SegState,
    kernel_mode: bool,
    kernel_l4: u64,
    user_l4: u64,
    gdt_frames: [u64; MAX_GDT_FRAMES],
    gdt_count: usize,
    gdt_entries: u64,
    ldt: (u64, u64),
    ctx: VcpuGuestContext,
}

/// Checks `ctx` for a 64-bit PV vCPU; -EINVAL for a non-canonical address, too many GDT
/// entries, a bad LDT, no kernel page table, or user mode without user page tables.
pub fn decode(ctx: &VcpuGuestContext) -> Result<NewContext, Errno> {
    let addresses = [
        ctx.event_callback_eip,
        ctx.failsafe_callback_eip,
        ctx.syscall_callback_eip,
        ctx.fs_base,
        ctx.gs_base_kernel,
        ctx.gs_base_user,
        ctx.ldt_base,
    ];
    if !addresses.into_iter().all(is_canonical)
        || !ctx.trap_ctxt.iter().all(|t| is_canonical(t.address))
    {
        return Err(Errno::Inval);
    }
    let gdt_count = gdt_frames_for(ctx.gdt_ents)?;
    check_set_ldt(
        if ctx.ldt_ents == 0 { 0 } else { ctx.ldt_base },
        ctx.ldt_ents,
    )?;
    let kernel_l4 = xen_cr3_to_pfn(ctx.ctrlreg[3]);
    let user_l4 = xen_cr3_to_pfn(ctx.ctrlreg[1]);
    let kernel_mode = ctx.flags & VGCF_IN_KERNEL != 0;
    if kernel_l4 == 0 || (!kernel_mode && user_l4 == 0) {
        return Err(Errno::Inval);
    }
    let u = &ctx.user_regs;
    let regs = GuestRegs {
        r15: u.r15,
        r14: u.r14,
        r13: u.r13,
        r12: u.r12,
        rbp: u.rbp,
        rbx: u.rbx,
        r11: u.r11,
        r10: u.r10,
        r9: u.r9,
        r8: u.r8,
        rax: u.rax,
        rcx: u.rcx,
        rdx: u.rdx,
        rsi: u.rsi,
        rdi: u.rdi,
        error_code: 0,
        entry_vector: 0,
        rip: u.rip,
        cs: guest_selector(u.cs, FLAT_KERNEL_CS64),
        rflags: u.rflags,
        rsp: u.rsp,
        ss: guest_selector(u.ss, FLAT_KERNEL_SS64),
    };
    // Data selectors keep RPL 3 as in Xen; a null one stays null.
    let data = |sel: u16| if sel & !3 == 0 { 0 } else { sel | 3 };
    let seg = SegState {
        selectors: [data(u.ds), data(u.es), data(u.fs), data(u.gs)],
        fs_base: ctx.fs_base,
        // A vCPU starting in kernel mode has the kernel's GS base active.
        gs_base: if kernel_mode {
            ctx.gs_base_kernel
        } else {
            ctx.gs_base_user
        },
        shadow_gs_base: if kernel_mode {
            ctx.gs_base_user
        } else {
            ctx.gs_base_kernel
        },
    };
    let mut gdt_frames = [0u64; MAX_GDT_FRAMES];
    gdt_frames[..gdt_count].copy_from_slice(&ctx.gdt_frames[..gdt_count]);
    Ok(NewContext {
        regs,
        seg,
        kernel_mode,
        kernel_l4,
        user_l4,
        gdt_frames,
        gdt_count,
        gdt_entries: ctx.gdt_ents,
        ldt: (ctx.ldt_base, ctx.ldt_ents),
        ctx: *ctx,
    })
}

/// Installs `new` as the vCPU context of `dom` (not running, no context yet). The page-table
/// roots and GDT frames take their type references first; on failure every reference taken is
/// dropped and nothing changes (-EINVAL).
pub fn install<M: PageMemory>(
    mm: &mut Mm<'_, M>,
    dom: &mut Domain,
    new: &NewContext,
) -> Result<(), Errno> {
    if dom.online {
        return Err(Errno::Exist);
    }
    let id = dom.id;
    let roots = [new.kernel_l4, new.user_l4];
    let mut taken: heapless::Vec<(u64, bool), { MAX_GDT_FRAMES + 2 }> = heapless::Vec::new();
    let mut ok = true;
    for &root in roots.iter().filter(|&&r| r != 0) {
        if mm
            .get_page_and_type(root, id, PageType::PageTable(4))
            .is_ok()
        {
            let _ = taken.push((root, true));
        } else {
            ok = false;
            break;
        }
    }
    for &mfn in &new.gdt_frames[..new.gdt_count] {
        if !ok {
            break;
        }
        if mm.get_page_and_type(mfn, id, PageType::SegDesc).is_ok() {
            let _ = taken.push((mfn, false));
        } else {
            ok = false;
        }
    }
    if !ok {
        for &(mfn, _) in &taken {
            mm.put_page_and_type(mfn);
        }
        return Err(Errno::Inval);
    }
    let ctx = &new.ctx;
    let v = &mut dom.vcpu;
    for (entry, t) in v.trap_table.iter_mut().zip(ctx.trap_ctxt.iter()) {
        *entry = TrapEntry {
            address: t.address,
            cs: if t.cs & !3 == 0 {
                FLAT_KERNEL_CS64
            } else {
                t.cs | 3
            },
            flags: t.flags,
        };
    }
    v.event_callback = Callback {
        address: ctx.event_callback_eip,
        mask_events: true,
    };
    v.failsafe_callback = Callback {
        address: ctx.failsafe_callback_eip,
        mask_events: ctx.flags & VGCF_FAILSAFE_DISABLES_EVENTS != 0,
    };
    v.syscall_callback = Callback {
        address: ctx.syscall_callback_eip,
        mask_events: ctx.flags & VGCF_SYSCALL_DISABLES_EVENTS != 0,
    };
    v.kernel_ss = guest_selector(ctx.kernel_ss as u16, FLAT_KERNEL_SS64);
    v.kernel_sp = ctx.kernel_sp;
    v.kernel_mode = new.kernel_mode;
    v.kernel_l4 = new.kernel_l4;
    v.user_l4 = new.user_l4;
    v.fpu.area = if ctx.flags & VGCF_I387_VALID != 0 {
        FxsaveArea(ctx.fpu_ctxt)
    } else {
        FxsaveArea::initial()
    };
    v.desc.gdt_frames = new.gdt_frames;
    v.desc.gdt_frame_count = new.gdt_count;
    v.desc.gdt_entries = new.gdt_entries;
    (v.desc.ldt_base, v.desc.ldt_entries) = new.ldt;
    dom.vm_assist = ctx.vm_assist;
    dom.regs = new.regs;
    dom.seg = new.seg;
    // The event mask stays what shared_info says (the builder masks events there); Xen does
    // not take it from the context's saved_upcall_mask either.
    dom.online = true;
    Ok(())
}

/// The context of `dom`'s vCPU (not running), as getvcpucontext reports it.
pub fn read(dom: &Domain) -> VcpuGuestContext {
    let mut ctx = VcpuGuestContext::default();
    let v = &dom.vcpu;
    let r = &dom.regs;
    ctx.fpu_ctxt = v.fpu.area.0;
    ctx.flags = VGCF_I387_VALID
        | if v.kernel_mode { VGCF_IN_KERNEL } else { 0 }
        | if dom.online { VGCF_ONLINE } else { 0 }
        | if v.failsafe_callback.mask_events {
            VGCF_FAILSAFE_DISABLES_EVENTS
        } else {
            0
        }
        | if v.syscall_callback.mask_events {
            VGCF_SYSCALL_DISABLES_EVENTS
        } else {
            0
        };
    let u = &mut ctx.user_regs;
    (u.r15, u.r14, u.r13, u.r12, u.rbp, u.rbx) = (r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx);
    (u.r11, u.r10, u.r9, u.r8, u.rax, u.rcx) = (r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx);
    (u.rdx, u.rsi, u.rdi) = (r.rdx, r.rsi, r.rdi);
    (u.rip, u.cs, u.rflags, u.rsp, u.ss) = (r.rip, r.cs as u16, r.rflags, r.rsp, r.ss as u16);
    [u.ds, u.es, u.fs, u.gs] = dom.seg.selectors;
    u.saved_upcall_mask = dom.upcall_mask();
    for (t, e) in ctx.trap_ctxt.iter_mut().zip(v.trap_table.iter()) {
        t.address = e.address;
        t.cs = e.cs;
        t.flags = e.flags;
    }
    for (i, t) in ctx.trap_ctxt.iter_mut().enumerate() {
        t.vector = i as u8;
    }
    ctx.ldt_base = v.desc.ldt_base;
    ctx.ldt_ents = v.desc.ldt_entries;
    let n = v.desc.gdt_frame_count.min(MAX_GDT_FRAMES);
    ctx.gdt_frames[..n].copy_from_slice(&v.desc.gdt_frames[..n]);
    ctx.gdt_ents = v.desc.gdt_entries;
    ctx.kernel_ss = v.kernel_ss;
    ctx.kernel_sp = v.kernel_sp;
    ctx.ctrlreg[0] = 0x8005_003b;
    ctx.ctrlreg[2] = v.cr2;
    ctx.ctrlreg[3] = xen_pfn_to_cr3(v.kernel_l4);
    ctx.ctrlreg[1] = xen_pfn_to_cr3(v.user_l4);
    ctx.ctrlreg[4] = v.cr4_guest;
    ctx.debugreg = v.debug_regs;
    ctx.event_callback_eip = v.event_callback.address;
    ctx.failsafe_callback_eip = v.failsafe_callback.address;
    ctx.syscall_callback_eip = v.syscall_callback.address;
    ctx.vm_assist = dom.vm_assist;
    ctx.fs_base = dom.seg.fs_base;
    let (active, shadow) = (dom.seg.gs_base, dom.seg.shadow_gs_base);
    (ctx.gs_base_kernel, ctx.gs_base_user) = if v.kernel_mode {
        (active, shadow)
    } else {
        (shadow, active)
    };
    ctx
}
