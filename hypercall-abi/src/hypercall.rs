//! Hypercall numbers (the value in `rax`) as a typed enum.

/// Number of entries in the hypercall dispatch table.
pub const NR_HYPERCALLS: usize = 64;

/// A hypercall, numbered as in Xen's `xen.h`.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hypercall {
    /// Installs virtual trap-table entries.
    SetTrapTable = 0,
    /// Updates page-table or M2P entries.
    MmuUpdate = 1,
    /// Installs a new GDT from guest frames.
    SetGdt = 2,
    /// Sets the guest kernel stack for user-to-kernel transitions.
    StackSwitch = 3,
    /// Registers the event and failsafe callbacks (old interface).
    SetCallbacks = 4,
    /// Sets or clears CR0.TS for the guest.
    FpuTaskswitch = 5,
    /// Old scheduler operations interface.
    SchedOpCompat = 6,
    /// Platform operations (control domain).
    PlatformOp = 7,
    /// Sets a debug register.
    SetDebugreg = 8,
    /// Reads a debug register.
    GetDebugreg = 9,
    /// Updates one GDT/LDT descriptor.
    UpdateDescriptor = 10,
    /// Memory reservation and physmap operations.
    MemoryOp = 12,
    /// Runs a batch of hypercalls.
    Multicall = 13,
    /// Updates the PTE mapping one virtual address.
    UpdateVaMapping = 14,
    /// Sets the one-shot timer deadline.
    SetTimerOp = 15,
    /// Old event channel interface.
    EventChannelOpCompat = 16,
    /// Version and feature queries.
    XenVersion = 17,
    /// Hypervisor console read and write.
    ConsoleIo = 18,
    /// Old physical device interface.
    PhysdevOpCompat = 19,
    /// Grant table operations.
    GrantTableOp = 20,
    /// Enables or disables a VM assist.
    VmAssist = 21,
    /// update_va_mapping in another domain's page tables.
    UpdateVaMappingOtherdomain = 22,
    /// Returns from an exception or event frame.
    Iret = 23,
    /// Per-vCPU operations.
    VcpuOp = 24,
    /// Sets the FS or GS base.
    SetSegmentBase = 25,
    /// Extended MMU operations (pin, baseptr, flush).
    MmuextOp = 26,
    /// Security module operations.
    XsmOp = 27,
    /// NMI callback operations.
    NmiOp = 28,
    /// Scheduler operations (yield, block, shutdown, poll).
    SchedOp = 29,
    /// Registers or unregisters a guest callback.
    CallbackOp = 30,
    /// Profiling operations.
    XenoprofOp = 31,
    /// Event channel operations.
    EventChannelOp = 32,
    /// Physical device operations.
    PhysdevOp = 33,
    /// HVM operations.
    HvmOp = 34,
    /// System control (control domain only).
    Sysctl = 35,
    /// Domain control (control domain only).
    Domctl = 36,
    /// Kexec operations.
    KexecOp = 37,
    /// Argo inter-domain messaging.
    ArgoOp = 39,
}

impl Hypercall {
    /// Every hypercall, in numeric order.
    pub const ALL: [Hypercall; 38] = [
        Hypercall::SetTrapTable,
        Hypercall::MmuUpdate,
        Hypercall::SetGdt,
        Hypercall::StackSwitch,
        Hypercall::SetCallbacks,
        Hypercall::FpuTaskswitch,
        Hypercall::SchedOpCompat,
        Hypercall::PlatformOp,
        Hypercall::SetDebugreg,
        Hypercall::GetDebugreg,
        Hypercall::UpdateDescriptor,
        Hypercall::MemoryOp,
        Hypercall::Multicall,
        Hypercall::UpdateVaMapping,
        Hypercall::SetTimerOp,
        Hypercall::EventChannelOpCompat,
        Hypercall::XenVersion,
        Hypercall::ConsoleIo,
        Hypercall::PhysdevOpCompat,
        Hypercall::GrantTableOp,
        Hypercall::VmAssist,
        Hypercall::UpdateVaMappingOtherdomain,
        Hypercall::Iret,
        Hypercall::VcpuOp,
        Hypercall::SetSegmentBase,
        Hypercall::MmuextOp,
        Hypercall::XsmOp,
        Hypercall::NmiOp,
        Hypercall::SchedOp,
        Hypercall::CallbackOp,
        Hypercall::XenoprofOp,
        Hypercall::EventChannelOp,
        Hypercall::PhysdevOp,
        Hypercall::HvmOp,
        Hypercall::Sysctl,
        Hypercall::Domctl,
        Hypercall::KexecOp,
        Hypercall::ArgoOp,
    ];

    /// Decodes `rax`; `None` for a number Xen does not define (Xen answers -ENOSYS).
    pub fn from_nr(nr: u64) -> Option<Self> {
        Some(match nr {
            0 => Hypercall::SetTrapTable,
            1 => Hypercall::MmuUpdate,
            2 => Hypercall::SetGdt,
            3 => Hypercall::StackSwitch,
            4 => Hypercall::SetCallbacks,
            5 => Hypercall::FpuTaskswitch,
            6 => Hypercall::SchedOpCompat,
            7 => Hypercall::PlatformOp,
            8 => Hypercall::SetDebugreg,
            9 => Hypercall::GetDebugreg,
            10 => Hypercall::UpdateDescriptor,
            12 => Hypercall::MemoryOp,
            13 => Hypercall::Multicall,
            14 => Hypercall::UpdateVaMapping,
            15 => Hypercall::SetTimerOp,
            16 => Hypercall::EventChannelOpCompat,
            17 => Hypercall::XenVersion,
            18 => Hypercall::ConsoleIo,
            19 => Hypercall::PhysdevOpCompat,
            20 => Hypercall::GrantTableOp,
            21 => Hypercall::VmAssist,
            22 => Hypercall::UpdateVaMappingOtherdomain,
            23 => Hypercall::Iret,
            24 => Hypercall::VcpuOp,
            25 => Hypercall::SetSegmentBase,
            26 => Hypercall::MmuextOp,
            27 => Hypercall::XsmOp,
            28 => Hypercall::NmiOp,
            29 => Hypercall::SchedOp,
            30 => Hypercall::CallbackOp,
            31 => Hypercall::XenoprofOp,
            32 => Hypercall::EventChannelOp,
            33 => Hypercall::PhysdevOp,
            34 => Hypercall::HvmOp,
            35 => Hypercall::Sysctl,
            36 => Hypercall::Domctl,
            37 => Hypercall::KexecOp,
            39 => Hypercall::ArgoOp,
            _ => return None,
        })
    }

    /// The hypercall's name in Xen's headers, such as `"mmu_update"`.
    pub const fn name(self) -> &'static str {
        match self {
            Hypercall::SetTrapTable => "set_trap_table",
            Hypercall::MmuUpdate => "mmu_update",
            Hypercall::SetGdt => "set_gdt",
            Hypercall::StackSwitch => "stack_switch",
            Hypercall::SetCallbacks => "set_callbacks",
            Hypercall::FpuTaskswitch => "fpu_taskswitch",
            Hypercall::SchedOpCompat => "sched_op_compat",
            Hypercall::PlatformOp => "platform_op",
            Hypercall::SetDebugreg => "set_debugreg",
            Hypercall::GetDebugreg => "get_debugreg",
            Hypercall::UpdateDescriptor => "update_descriptor",
            Hypercall::MemoryOp => "memory_op",
            Hypercall::Multicall => "multicall",
            Hypercall::UpdateVaMapping => "update_va_mapping",
            Hypercall::SetTimerOp => "set_timer_op",
            Hypercall::EventChannelOpCompat => "event_channel_op_compat",
            Hypercall::XenVersion => "xen_version",
            Hypercall::ConsoleIo => "console_io",
            Hypercall::PhysdevOpCompat => "physdev_op_compat",
            Hypercall::GrantTableOp => "grant_table_op",
            Hypercall::VmAssist => "vm_assist",
            Hypercall::UpdateVaMappingOtherdomain => "update_va_mapping_otherdomain",
            Hypercall::Iret => "iret",
            Hypercall::VcpuOp => "vcpu_op",
            Hypercall::SetSegmentBase => "set_segment_base",
            Hypercall::MmuextOp => "mmuext_op",
            Hypercall::XsmOp => "xsm_op",
            Hypercall::NmiOp => "nmi_op",
            Hypercall::SchedOp => "sched_op",
            Hypercall::CallbackOp => "callback_op",
            Hypercall::XenoprofOp => "xenoprof_op",
            Hypercall::EventChannelOp => "event_channel_op",
            Hypercall::PhysdevOp => "physdev_op",
            Hypercall::HvmOp => "hvm_op",
            Hypercall::Sysctl => "sysctl",
            Hypercall::Domctl => "domctl",
            Hypercall::KexecOp => "kexec_op",
            Hypercall::ArgoOp => "argo_op",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `__HYPERVISOR_*` numbers from xen/include/public/xen.h.
    const TABLE: [(Hypercall, u64, &str); 38] = [
        (Hypercall::SetTrapTable, 0, "set_trap_table"),
        (Hypercall::MmuUpdate, 1, "mmu_update"),
        (Hypercall::SetGdt, 2, "set_gdt"),
        (Hypercall::StackSwitch, 3, "stack_switch"),
        (Hypercall::SetCallbacks, 4, "set_callbacks"),
        (Hypercall::FpuTaskswitch, 5, "fpu_taskswitch"),
        (Hypercall::SchedOpCompat, 6, "sched_op_compat"),
        (Hypercall::PlatformOp, 7, "platform_op"),
        (Hypercall::SetDebugreg, 8, "set_debugreg"),
        (Hypercall::GetDebugreg, 9, "get_debugreg"),
        (Hypercall::UpdateDescriptor, 10, "update_descriptor"),
        (Hypercall::MemoryOp, 12, "memory_op"),
        (Hypercall::Multicall, 13, "multicall"),
        (Hypercall::UpdateVaMapping, 14, "update_va_mapping"),
        (Hypercall::SetTimerOp, 15, "set_timer_op"),
        (
            Hypercall::EventChannelOpCompat,
            16,
            "event_channel_op_compat",
        ),
        (Hypercall::XenVersion, 17, "xen_version"),
        (Hypercall::ConsoleIo, 18, "console_io"),
        (Hypercall::PhysdevOpCompat, 19, "physdev_op_compat"),
        (Hypercall::GrantTableOp, 20, "grant_table_op"),
        (Hypercall::VmAssist, 21, "vm_assist"),
        (
            Hypercall::UpdateVaMappingOtherdomain,
            22,
            "update_va_mapping_otherdomain",
        ),
        (Hypercall::Iret, 23, "iret"),
        (Hypercall::VcpuOp, 24, "vcpu_op"),
        (Hypercall::SetSegmentBase, 25, "set_segment_base"),
        (Hypercall::MmuextOp, 26, "mmuext_op"),
        (Hypercall::XsmOp, 27, "xsm_op"),
        (Hypercall::NmiOp, 28, "nmi_op"),
        (Hypercall::SchedOp, 29, "sched_op"),
        (Hypercall::CallbackOp, 30, "callback_op"),
        (Hypercall::XenoprofOp, 31, "xenoprof_op"),
        (Hypercall::EventChannelOp, 32, "event_channel_op"),
        (Hypercall::PhysdevOp, 33, "physdev_op"),
        (Hypercall::HvmOp, 34, "hvm_op"),
        (Hypercall::Sysctl, 35, "sysctl"),
        (Hypercall::Domctl, 36, "domctl"),
        (Hypercall::KexecOp, 37, "kexec_op"),
        (Hypercall::ArgoOp, 39, "argo_op"),
    ];

    #[test]
    fn numbers_and_names_match_xen_h() {
        for (h, nr, name) in TABLE {
            assert_eq!(h as u64, nr, "{name}");
            assert_eq!(Hypercall::from_nr(nr), Some(h), "{name}");
            assert_eq!(h.name(), name);
        }
    }

    #[test]
    fn all_lists_every_variant_in_order() {
        assert_eq!(Hypercall::ALL, TABLE.map(|(h, _, _)| h));
    }

    #[test]
    fn unknown_numbers_do_not_decode() {
        for nr in [
            11,
            38,
            40,
            41,
            47,
            48,
            55,
            63,
            64,
            255,
            256,
            0x1_0000_0000,
            u64::MAX,
        ] {
            assert_eq!(Hypercall::from_nr(nr), None, "{nr}");
        }
    }

    #[test]
    fn every_number_fits_the_table() {
        assert_eq!(NR_HYPERCALLS, 64);
        for (h, _, _) in TABLE {
            assert!((h as usize) < NR_HYPERCALLS);
        }
    }
}
