//! vcpu_op (sub-operations, runstate, timers, vcpu_info placement) and the x86_64 vCPU context.

use crate::errno::Errno;
use crate::traps::TrapInfo;
use core::mem::{offset_of, size_of};

/// vcpu_op sub-operation (`VCPUOP_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VcpuOp {
    /// Load the initial state of a vCPU that is down (`VcpuGuestContext`).
    Initialise = 0,
    /// Bring an initialised vCPU up.
    Up = 1,
    /// Take a vCPU down.
    Down = 2,
    /// Returns 1 if the vCPU is up, else 0.
    IsUp = 3,
    /// Copy the vCPU's runstate out (`VcpuRunstateInfo`).
    GetRunstateInfo = 4,
    /// Have Xen keep a runstate copy in guest memory (`VcpuRegisterRunstateMemoryArea`).
    RegisterRunstateMemoryArea = 5,
    /// Start a periodic timer (`VcpuSetPeriodicTimer`).
    SetPeriodicTimer = 6,
    /// Stop the periodic timer.
    StopPeriodicTimer = 7,
    /// Arm the one-shot timer (`VcpuSetSingleshotTimer`).
    SetSingleshotTimer = 8,
    /// Disarm the one-shot timer.
    StopSingleshotTimer = 9,
    /// Move the vCPU's `vcpu_info` into a guest frame (`VcpuRegisterVcpuInfo`).
    RegisterVcpuInfo = 10,
    /// Send an NMI to the vCPU.
    SendNmi = 11,
    /// The physical CPU's APIC and ACPI ids (`VcpuGetPhysid`, control domain).
    GetPhysid = 12,
    /// Have Xen keep a `vcpu_time_info` copy in guest memory (`VcpuRegisterTimeMemoryArea`).
    RegisterVcpuTimeMemoryArea = 13,
}

impl TryFrom<u64> for VcpuOp {
    type Error = Errno;

    /// Xen takes `cmd` as a C `int`: the upper 32 bits are ignored; unknown is -ENOSYS. (Xen
    /// looks the vCPU id up first: a bad id is -ENOENT whatever the command.)
    fn try_from(cmd: u64) -> Result<Self, Errno> {
        match cmd as u32 {
            0 => Ok(VcpuOp::Initialise),
            1 => Ok(VcpuOp::Up),
            2 => Ok(VcpuOp::Down),
            3 => Ok(VcpuOp::IsUp),
            4 => Ok(VcpuOp::GetRunstateInfo),
            5 => Ok(VcpuOp::RegisterRunstateMemoryArea),
            6 => Ok(VcpuOp::SetPeriodicTimer),
            7 => Ok(VcpuOp::StopPeriodicTimer),
            8 => Ok(VcpuOp::SetSingleshotTimer),
            9 => Ok(VcpuOp::StopSingleshotTimer),
            10 => Ok(VcpuOp::RegisterVcpuInfo),
            11 => Ok(VcpuOp::SendNmi),
            12 => Ok(VcpuOp::GetPhysid),
            13 => Ok(VcpuOp::RegisterVcpuTimeMemoryArea),
            _ => Err(Errno::NoSys),
        }
    }
}

/// `VcpuRunstateInfo::state`: running on a physical CPU.
pub const RUNSTATE_RUNNING: i32 = 0;
/// `VcpuRunstateInfo::state`: ready to run, waiting for a CPU.
pub const RUNSTATE_RUNNABLE: i32 = 1;
/// `VcpuRunstateInfo::state`: blocked waiting for an event.
pub const RUNSTATE_BLOCKED: i32 = 2;
/// `VcpuRunstateInfo::state`: down or paused.
pub const RUNSTATE_OFFLINE: i32 = 3;
/// Bit of `VcpuRunstateInfo::state_entry_time` set while Xen updates a guest-mapped copy
/// (with `VMASST_TYPE_runstate_update_flag`).
pub const XEN_RUNSTATE_UPDATE: u64 = 1 << 63;

/// A vCPU's run state and time spent in each state (`struct vcpu_runstate_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuRunstateInfo {
    /// `RUNSTATE_*`.
    pub state: i32,
    /// Padding (C alignment).
    pub pad: u32,
    /// System time (ns) when `state` was entered.
    pub state_entry_time: u64,
    /// Nanoseconds spent in each `RUNSTATE_*`.
    pub time: [u64; 4],
}
const _: () = assert!(size_of::<VcpuRunstateInfo>() == 48);
const _: () = assert!(offset_of!(VcpuRunstateInfo, state) == 0);
const _: () = assert!(offset_of!(VcpuRunstateInfo, pad) == 4);
const _: () = assert!(offset_of!(VcpuRunstateInfo, state_entry_time) == 8);
const _: () = assert!(offset_of!(VcpuRunstateInfo, time) == 16);

/// Argument of `VCPUOP_register_runstate_memory_area`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuRegisterRunstateMemoryArea {
    /// Guest virtual address of a `VcpuRunstateInfo`; 0 stops the updates.
    pub addr: u64,
}
const _: () = assert!(size_of::<VcpuRegisterRunstateMemoryArea>() == 8);
const _: () = assert!(offset_of!(VcpuRegisterRunstateMemoryArea, addr) == 0);

/// Argument of `VCPUOP_set_periodic_timer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuSetPeriodicTimer {
    /// Period in nanoseconds.
    pub period_ns: u64,
}
const _: () = assert!(size_of::<VcpuSetPeriodicTimer>() == 8);
const _: () = assert!(offset_of!(VcpuSetPeriodicTimer, period_ns) == 0);

/// `VcpuSetSingleshotTimer::flags`: the caller asks for a deadline in the future (Xen may
/// ignore it).
pub const VCPU_SSHOTTMR_FUTURE: u32 = 1 << 0;

/// Argument of `VCPUOP_set_singleshot_timer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuSetSingleshotTimer {
    /// Absolute system time (ns) to fire at.
    pub timeout_abs_ns: u64,
    /// `VCPU_SSHOTTMR_*`.
    pub flags: u32,
    /// Padding (C alignment).
    pub pad: u32,
}
const _: () = assert!(size_of::<VcpuSetSingleshotTimer>() == 16);
const _: () = assert!(offset_of!(VcpuSetSingleshotTimer, timeout_abs_ns) == 0);
const _: () = assert!(offset_of!(VcpuSetSingleshotTimer, flags) == 8);
const _: () = assert!(offset_of!(VcpuSetSingleshotTimer, pad) == 12);

/// Argument of `VCPUOP_register_vcpu_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuRegisterVcpuInfo {
    /// Guest frame to hold the `vcpu_info`.
    pub mfn: u64,
    /// Byte offset in that frame.
    pub offset: u32,
    /// Unused.
    pub rsvd: u32,
}
const _: () = assert!(size_of::<VcpuRegisterVcpuInfo>() == 16);
const _: () = assert!(offset_of!(VcpuRegisterVcpuInfo, mfn) == 0);
const _: () = assert!(offset_of!(VcpuRegisterVcpuInfo, offset) == 8);
const _: () = assert!(offset_of!(VcpuRegisterVcpuInfo, rsvd) == 12);

/// Result of `VCPUOP_get_physid`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuGetPhysid {
    /// APIC id in bits 31:0, ACPI id in bits 63:32.
    pub phys_id: u64,
}
const _: () = assert!(size_of::<VcpuGetPhysid>() == 8);
const _: () = assert!(offset_of!(VcpuGetPhysid, phys_id) == 0);

impl VcpuGetPhysid {
    /// The x86 APIC id.
    pub const fn apic_id(&self) -> u32 {
        self.phys_id as u32
    }

    /// The x86 ACPI processor id.
    pub const fn acpi_id(&self) -> u32 {
        (self.phys_id >> 32) as u32
    }
}

/// Argument of `VCPUOP_register_vcpu_time_memory_area`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuRegisterTimeMemoryArea {
    /// Guest virtual address of a `vcpu_time_info`; 0 stops the updates.
    pub addr: u64,
}
const _: () = assert!(size_of::<VcpuRegisterTimeMemoryArea>() == 8);
const _: () = assert!(offset_of!(VcpuRegisterTimeMemoryArea, addr) == 0);

/// `VcpuGuestContext::flags`: `fpu_ctxt` holds valid FPU state.
pub const VGCF_I387_VALID: u64 = 1 << 0;
/// `VcpuGuestContext::flags`: the vCPU starts in guest kernel mode.
pub const VGCF_IN_KERNEL: u64 = 1 << 2;
/// `VcpuGuestContext::flags`: entering the failsafe callback masks events.
pub const VGCF_FAILSAFE_DISABLES_EVENTS: u64 = 1 << 3;
/// `VcpuGuestContext::flags`: entering the syscall callback masks events.
pub const VGCF_SYSCALL_DISABLES_EVENTS: u64 = 1 << 4;
/// `VcpuGuestContext::flags`: the vCPU is up (getvcpucontext output).
pub const VGCF_ONLINE: u64 = 1 << 5;

/// A vCPU's general registers, x86_64 layout (`struct cpu_user_regs`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuUserRegs {
    /// R15.
    pub r15: u64,
    /// R14.
    pub r14: u64,
    /// R13.
    pub r13: u64,
    /// R12.
    pub r12: u64,
    /// RBP.
    pub rbp: u64,
    /// RBX.
    pub rbx: u64,
    /// R11.
    pub r11: u64,
    /// R10.
    pub r10: u64,
    /// R9.
    pub r9: u64,
    /// R8.
    pub r8: u64,
    /// RAX.
    pub rax: u64,
    /// RCX.
    pub rcx: u64,
    /// RDX.
    pub rdx: u64,
    /// RSI.
    pub rsi: u64,
    /// RDI.
    pub rdi: u64,
    /// Hypervisor-private (exception error code).
    pub error_code: u32,
    /// Hypervisor-private (exception vector).
    pub entry_vector: u32,
    /// RIP.
    pub rip: u64,
    /// CS.
    pub cs: u16,
    /// Padding.
    pub pad0: u16,
    /// The event mask to restore (rflags.IF is its inverse).
    pub saved_upcall_mask: u8,
    /// Padding.
    pub pad1: [u8; 3],
    /// RFLAGS.
    pub rflags: u64,
    /// RSP.
    pub rsp: u64,
    /// SS.
    pub ss: u16,
    /// Padding.
    pub pad2: [u16; 3],
    /// ES.
    pub es: u16,
    /// Padding.
    pub pad3: [u16; 3],
    /// DS.
    pub ds: u16,
    /// Padding.
    pub pad4: [u16; 3],
    /// FS.
    pub fs: u16,
    /// Padding.
    pub pad5: [u16; 3],
    /// GS.
    pub gs: u16,
    /// Padding.
    pub pad6: [u16; 3],
}
const _: () = assert!(size_of::<CpuUserRegs>() == 200);
const _: () = assert!(offset_of!(CpuUserRegs, r15) == 0);
const _: () = assert!(offset_of!(CpuUserRegs, r14) == 8);
const _: () = assert!(offset_of!(CpuUserRegs, r13) == 16);
const _: () = assert!(offset_of!(CpuUserRegs, r12) == 24);
const _: () = assert!(offset_of!(CpuUserRegs, rbp) == 32);
const _: () = assert!(offset_of!(CpuUserRegs, rbx) == 40);
const _: () = assert!(offset_of!(CpuUserRegs, r11) == 48);
const _: () = assert!(offset_of!(CpuUserRegs, r10) == 56);
const _: () = assert!(offset_of!(CpuUserRegs, r9) == 64);
const _: () = assert!(offset_of!(CpuUserRegs, r8) == 72);
const _: () = assert!(offset_of!(CpuUserRegs, rax) == 80);
const _: () = assert!(offset_of!(CpuUserRegs, rcx) == 88);
const _: () = assert!(offset_of!(CpuUserRegs, rdx) == 96);
const _: () = assert!(offset_of!(CpuUserRegs, rsi) == 104);
const _: () = assert!(offset_of!(CpuUserRegs, rdi) == 112);
const _: () = assert!(offset_of!(CpuUserRegs, error_code) == 120);
const _: () = assert!(offset_of!(CpuUserRegs, entry_vector) == 124);
const _: () = assert!(offset_of!(CpuUserRegs, rip) == 128);
const _: () = assert!(offset_of!(CpuUserRegs, cs) == 136);
const _: () = assert!(offset_of!(CpuUserRegs, pad0) == 138);
const _: () = assert!(offset_of!(CpuUserRegs, saved_upcall_mask) == 140);
const _: () = assert!(offset_of!(CpuUserRegs, pad1) == 141);
const _: () = assert!(offset_of!(CpuUserRegs, rflags) == 144);
const _: () = assert!(offset_of!(CpuUserRegs, rsp) == 152);
const _: () = assert!(offset_of!(CpuUserRegs, ss) == 160);
const _: () = assert!(offset_of!(CpuUserRegs, pad2) == 162);
const _: () = assert!(offset_of!(CpuUserRegs, es) == 168);
const _: () = assert!(offset_of!(CpuUserRegs, ds) == 176);
const _: () = assert!(offset_of!(CpuUserRegs, fs) == 184);
const _: () = assert!(offset_of!(CpuUserRegs, gs) == 192);
const _: () = assert!(offset_of!(CpuUserRegs, pad6) == 194);

/// Bytes of the FXSAVE image at the start of `VcpuGuestContext`.
pub const VGC_FPU_CTXT_SIZE: usize = 512;
/// Entries of the virtual trap table in `VcpuGuestContext`.
pub const VGC_TRAP_CTXT_ENTRIES: usize = 256;
/// Frames of the GDT in `VcpuGuestContext`.
pub const VGC_GDT_FRAMES: usize = 16;

/// A PV vCPU's full state, x86_64 layout (`struct vcpu_guest_context`): what
/// `VCPUOP_initialise` and domctl set/getvcpucontext carry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuGuestContext {
    /// FXSAVE image (valid with `VGCF_I387_VALID`).
    pub fpu_ctxt: [u8; VGC_FPU_CTXT_SIZE],
    /// `VGCF_*`.
    pub flags: u64,
    /// General registers.
    pub user_regs: CpuUserRegs,
    /// Virtual trap table, indexed by vector.
    pub trap_ctxt: [TrapInfo; VGC_TRAP_CTXT_ENTRIES],
    /// LDT linear address.
    pub ldt_base: u64,
    /// LDT entries.
    pub ldt_ents: u64,
    /// Frames of the GDT.
    pub gdt_frames: [u64; VGC_GDT_FRAMES],
    /// GDT entries.
    pub gdt_ents: u64,
    /// Kernel stack segment (the virtual TSS's SS).
    pub kernel_ss: u64,
    /// Kernel stack pointer (the virtual TSS's SP).
    pub kernel_sp: u64,
    /// CR0-CR7; CR3 holds the kernel page table and CR1 the user one (see [`xen_pfn_to_cr3`]).
    pub ctrlreg: [u64; 8],
    /// DR0-DR7.
    pub debugreg: [u64; 8],
    /// Event upcall entry point.
    pub event_callback_eip: u64,
    /// Failsafe callback entry point.
    pub failsafe_callback_eip: u64,
    /// 64-bit syscall entry point.
    pub syscall_callback_eip: u64,
    /// `VMASST_TYPE_*` bitmap.
    pub vm_assist: u64,
    /// FS base.
    pub fs_base: u64,
    /// Kernel GS base.
    pub gs_base_kernel: u64,
    /// User GS base.
    pub gs_base_user: u64,
}
const _: () = assert!(size_of::<VcpuGuestContext>() == 5168);
const _: () = assert!(offset_of!(VcpuGuestContext, fpu_ctxt) == 0);
const _: () = assert!(offset_of!(VcpuGuestContext, flags) == 512);
const _: () = assert!(offset_of!(VcpuGuestContext, user_regs) == 520);
const _: () = assert!(offset_of!(VcpuGuestContext, user_regs.rip) == 648);
const _: () = assert!(offset_of!(VcpuGuestContext, trap_ctxt) == 720);
const _: () = assert!(offset_of!(VcpuGuestContext, ldt_base) == 4816);
const _: () = assert!(offset_of!(VcpuGuestContext, ldt_ents) == 4824);
const _: () = assert!(offset_of!(VcpuGuestContext, gdt_frames) == 4832);
const _: () = assert!(offset_of!(VcpuGuestContext, gdt_ents) == 4960);
const _: () = assert!(offset_of!(VcpuGuestContext, kernel_ss) == 4968);
const _: () = assert!(offset_of!(VcpuGuestContext, kernel_sp) == 4976);
const _: () = assert!(offset_of!(VcpuGuestContext, ctrlreg) == 4984);
const _: () = assert!(offset_of!(VcpuGuestContext, debugreg) == 5048);
const _: () = assert!(offset_of!(VcpuGuestContext, event_callback_eip) == 5112);
const _: () = assert!(offset_of!(VcpuGuestContext, failsafe_callback_eip) == 5120);
const _: () = assert!(offset_of!(VcpuGuestContext, syscall_callback_eip) == 5128);
const _: () = assert!(offset_of!(VcpuGuestContext, vm_assist) == 5136);
const _: () = assert!(offset_of!(VcpuGuestContext, fs_base) == 5144);
const _: () = assert!(offset_of!(VcpuGuestContext, gs_base_kernel) == 5152);
const _: () = assert!(offset_of!(VcpuGuestContext, gs_base_user) == 5160);

impl Default for VcpuGuestContext {
    fn default() -> Self {
        VcpuGuestContext {
            fpu_ctxt: [0; VGC_FPU_CTXT_SIZE],
            flags: 0,
            user_regs: CpuUserRegs::default(),
            trap_ctxt: [TrapInfo::default(); VGC_TRAP_CTXT_ENTRIES],
            ldt_base: 0,
            ldt_ents: 0,
            gdt_frames: [0; VGC_GDT_FRAMES],
            gdt_ents: 0,
            kernel_ss: 0,
            kernel_sp: 0,
            ctrlreg: [0; 8],
            debugreg: [0; 8],
            event_callback_eip: 0,
            failsafe_callback_eip: 0,
            syscall_callback_eip: 0,
            vm_assist: 0,
            fs_base: 0,
            gs_base_kernel: 0,
            gs_base_user: 0,
        }
    }
}

/// The CR3 value (in `VcpuGuestContext::ctrlreg`) naming page-table frame `pfn`.
pub const fn xen_pfn_to_cr3(pfn: u64) -> u64 {
    pfn << 12
}

/// The page-table frame a `VcpuGuestContext::ctrlreg` CR3 value names.
pub const fn xen_cr3_to_pfn(cr3: u64) -> u64 {
    cr3 >> 12
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traps::VGCF_IN_SYSCALL;

    const OPS: [(VcpuOp, u64); 14] = [
        (VcpuOp::Initialise, 0),
        (VcpuOp::Up, 1),
        (VcpuOp::Down, 2),
        (VcpuOp::IsUp, 3),
        (VcpuOp::GetRunstateInfo, 4),
        (VcpuOp::RegisterRunstateMemoryArea, 5),
        (VcpuOp::SetPeriodicTimer, 6),
        (VcpuOp::StopPeriodicTimer, 7),
        (VcpuOp::SetSingleshotTimer, 8),
        (VcpuOp::StopSingleshotTimer, 9),
        (VcpuOp::RegisterVcpuInfo, 10),
        (VcpuOp::SendNmi, 11),
        (VcpuOp::GetPhysid, 12),
        (VcpuOp::RegisterVcpuTimeMemoryArea, 13),
    ];

    #[test]
    fn ops_match_vcpu_h_and_decode() {
        for (op, v) in OPS {
            assert_eq!(op as u64, v);
            assert_eq!(VcpuOp::try_from(v), Ok(op));
        }
        for v in [14, 15, 100, u64::from(u32::MAX)] {
            assert_eq!(VcpuOp::try_from(v), Err(Errno::NoSys), "{v}");
        }
        // cmd is a C int: the high half is dropped.
        assert_eq!(
            VcpuOp::try_from(0x1_0000_0008),
            Ok(VcpuOp::SetSingleshotTimer)
        );
    }

    #[test]
    fn runstate_and_timer_values_match_vcpu_h() {
        assert_eq!(RUNSTATE_RUNNING, 0);
        assert_eq!(RUNSTATE_RUNNABLE, 1);
        assert_eq!(RUNSTATE_BLOCKED, 2);
        assert_eq!(RUNSTATE_OFFLINE, 3);
        assert_eq!(XEN_RUNSTATE_UPDATE, 0x8000_0000_0000_0000);
        assert_eq!(VCPU_SSHOTTMR_FUTURE, 1);
    }

    #[test]
    fn vgcf_values_match_arch_x86_xen_h() {
        assert_eq!(VGCF_I387_VALID, 1);
        assert_eq!(VGCF_IN_KERNEL, 4);
        assert_eq!(VGCF_FAILSAFE_DISABLES_EVENTS, 8);
        assert_eq!(VGCF_SYSCALL_DISABLES_EVENTS, 16);
        assert_eq!(VGCF_ONLINE, 32);
        // The iret frame's flag lives in the same space without clashing.
        let all = [
            VGCF_I387_VALID,
            VGCF_IN_KERNEL,
            VGCF_FAILSAFE_DISABLES_EVENTS,
            VGCF_SYSCALL_DISABLES_EVENTS,
            VGCF_ONLINE,
        ];
        assert!(all.iter().all(|f| f & VGCF_IN_SYSCALL == 0));
    }

    #[test]
    fn small_struct_layouts_match_gcc_on_the_4_17_headers() {
        assert_eq!(size_of::<VcpuRunstateInfo>(), 48);
        assert_eq!(offset_of!(VcpuRunstateInfo, state_entry_time), 8);
        assert_eq!(offset_of!(VcpuRunstateInfo, time), 16);
        assert_eq!(size_of::<VcpuRegisterRunstateMemoryArea>(), 8);
        assert_eq!(size_of::<VcpuSetPeriodicTimer>(), 8);
        assert_eq!(size_of::<VcpuSetSingleshotTimer>(), 16);
        assert_eq!(offset_of!(VcpuSetSingleshotTimer, flags), 8);
        assert_eq!(size_of::<VcpuRegisterVcpuInfo>(), 16);
        assert_eq!(offset_of!(VcpuRegisterVcpuInfo, offset), 8);
        assert_eq!(offset_of!(VcpuRegisterVcpuInfo, rsvd), 12);
        assert_eq!(size_of::<VcpuGetPhysid>(), 8);
        assert_eq!(size_of::<VcpuRegisterTimeMemoryArea>(), 8);
    }

    #[test]
    fn cpu_user_regs_layout_matches_xen_x86_64_h() {
        assert_eq!(size_of::<CpuUserRegs>(), 200);
        assert_eq!(offset_of!(CpuUserRegs, r15), 0);
        assert_eq!(offset_of!(CpuUserRegs, rbp), 32);
        assert_eq!(offset_of!(CpuUserRegs, rax), 80);
        assert_eq!(offset_of!(CpuUserRegs, rdi), 112);
        assert_eq!(offset_of!(CpuUserRegs, error_code), 120);
        assert_eq!(offset_of!(CpuUserRegs, entry_vector), 124);
        assert_eq!(offset_of!(CpuUserRegs, rip), 128);
        assert_eq!(offset_of!(CpuUserRegs, cs), 136);
        assert_eq!(offset_of!(CpuUserRegs, saved_upcall_mask), 140);
        assert_eq!(offset_of!(CpuUserRegs, rflags), 144);
        assert_eq!(offset_of!(CpuUserRegs, rsp), 152);
        assert_eq!(offset_of!(CpuUserRegs, ss), 160);
        assert_eq!(offset_of!(CpuUserRegs, es), 168);
        assert_eq!(offset_of!(CpuUserRegs, ds), 176);
        assert_eq!(offset_of!(CpuUserRegs, fs), 184);
        assert_eq!(offset_of!(CpuUserRegs, gs), 192);
    }

    #[test]
    fn vcpu_guest_context_layout_matches_arch_x86_xen_h() {
        assert_eq!(size_of::<VcpuGuestContext>(), 5168);
        assert_eq!(offset_of!(VcpuGuestContext, flags), 512);
        assert_eq!(offset_of!(VcpuGuestContext, user_regs), 520);
        assert_eq!(offset_of!(VcpuGuestContext, trap_ctxt), 720);
        assert_eq!(720 + 256 * size_of::<TrapInfo>(), 4816);
        assert_eq!(offset_of!(VcpuGuestContext, ldt_base), 4816);
        assert_eq!(offset_of!(VcpuGuestContext, gdt_frames), 4832);
        assert_eq!(offset_of!(VcpuGuestContext, gdt_ents), 4960);
        assert_eq!(offset_of!(VcpuGuestContext, kernel_ss), 4968);
        assert_eq!(offset_of!(VcpuGuestContext, kernel_sp), 4976);
        assert_eq!(offset_of!(VcpuGuestContext, ctrlreg), 4984);
        assert_eq!(offset_of!(VcpuGuestContext, ctrlreg) + 3 * 8, 5008);
        assert_eq!(offset_of!(VcpuGuestContext, debugreg), 5048);
        assert_eq!(offset_of!(VcpuGuestContext, event_callback_eip), 5112);
        assert_eq!(offset_of!(VcpuGuestContext, failsafe_callback_eip), 5120);
        assert_eq!(offset_of!(VcpuGuestContext, syscall_callback_eip), 5128);
        assert_eq!(offset_of!(VcpuGuestContext, vm_assist), 5136);
        assert_eq!(offset_of!(VcpuGuestContext, fs_base), 5144);
        assert_eq!(offset_of!(VcpuGuestContext, gs_base_kernel), 5152);
        assert_eq!(offset_of!(VcpuGuestContext, gs_base_user), 5160);
    }

    #[test]
    fn default_context_is_zeroed() {
        let c = VcpuGuestContext::default();
        assert!(c.fpu_ctxt.iter().all(|&b| b == 0));
        assert!(c.trap_ctxt.iter().all(|t| *t == TrapInfo::default()));
        assert_eq!(c.user_regs, CpuUserRegs::default());
        assert_eq!(c.flags | c.ctrlreg.iter().fold(0, |a, r| a | r), 0);
        assert_eq!(c.gs_base_user, 0);
    }

    #[test]
    fn cr3_and_physid_helpers() {
        assert_eq!(xen_pfn_to_cr3(0x1234), 0x123_4000);
        assert_eq!(xen_cr3_to_pfn(0x123_4000), 0x1234);
        assert_eq!(xen_cr3_to_pfn(xen_pfn_to_cr3(0xF_FFFF_FFFF)), 0xF_FFFF_FFFF);
        let p = VcpuGetPhysid {
            phys_id: (7 << 32) | 3,
        };
        assert_eq!((p.apic_id(), p.acpi_id()), (3, 7));
    }
}
