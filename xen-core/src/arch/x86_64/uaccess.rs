//! Copies to and from guest virtual memory that survive the guest's bad pointers.
//!
//! The copy is one `rep movsb` at a known address; if it faults, the exception handler sees
//! the faulting RIP in [`fixup_for`] and resumes after it with RCX = bytes not copied.

use core::arch::global_asm;

use hypercall_abi::Errno;
use hypercall_abi::layout::guest_range_ok;

global_asm!(
    r#"
    .section .text.uaccess, "ax"
    .global guest_copy
    .balign 16
guest_copy:
    mov rcx, rdx
    .global guest_copy_insn
guest_copy_insn:
    rep movsb
    .global guest_copy_resume
guest_copy_resume:
    mov rax, rcx
    ret
"#
);

unsafe extern "C" {
    fn guest_copy(dst: *mut u8, src: *const u8, len: usize) -> usize;
    fn guest_copy_insn();
    fn guest_copy_resume();
}

/// Where to resume after a fault at `rip` in xen-core, if the fault is a guest copy's.
pub fn fixup_for(rip: u64) -> Option<u64> {
    (rip == guest_copy_insn as *const () as u64).then_some(guest_copy_resume as *const () as u64)
}

/// Copies `dst.len()` bytes from guest virtual address `src` in the current address space.
/// A pointer into the hypervisor's range, a non-canonical one, or an unmapped page gives
/// `Err(Errno::Fault)`.
pub fn copy_from_guest(dst: &mut [u8], src: u64) -> Result<(), Errno> {
    if !guest_range_ok(src, dst.len() as u64) {
        return Err(Errno::Fault);
    }
    // SAFETY: `dst` is a valid host buffer of that length; the guest range lies outside
    // xen-core's reserved range, so it can only reach memory the guest's validated page tables
    // map, and a fault there is recovered through `fixup_for`.
    let left = unsafe { guest_copy(dst.as_mut_ptr(), src as *const u8, dst.len()) };
    if left == 0 { Ok(()) } else { Err(Errno::Fault) }
}

/// Copies `src` to guest virtual address `dst` in the current address space, with the same
/// checks as [`copy_from_guest`]. Read-only guest pages fault (CR0.WP is set), so a guest can
/// never make xen-core write its page tables.
pub fn copy_to_guest(dst: u64, src: &[u8]) -> Result<(), Errno> {
    if !guest_range_ok(dst, src.len() as u64) {
        return Err(Errno::Fault);
    }
    // SAFETY: as in copy_from_guest, with the roles swapped: the destination is guest memory
    // outside xen-core's range and faults are recovered.
    let left = unsafe { guest_copy(dst as *mut u8, src.as_ptr(), src.len()) };
    if left == 0 { Ok(()) } else { Err(Errno::Fault) }
}

/// Plain-old-data ABI structures that may be filled from any guest bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]` (or primitive integers) with no implicit padding (padding
/// is spelled out as fields), and every bit pattern must be a valid value.
pub unsafe trait Pod: Copy + Default {}

// SAFETY: all of these are #[repr(C)] structs of integers and integer arrays (hypercall-abi).
unsafe impl Pod for hypercall_abi::traps::TrapInfo {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::traps::IretContext {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::callback::CallbackRegister {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::callback::CallbackUnregister {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::sched::SchedShutdown {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::sched::SchedRemoteShutdown {}
// SAFETY: as above (the padding of the register frame is explicit fields).
unsafe impl Pod for hypercall_abi::vcpu::VcpuGuestContext {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::mmu::MmuextOp {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::mmu::MmuUpdate {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::version::XenFeatureInfo {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::version::XenPlatformParameters {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::version::XenCompileInfo {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::start_info::StartInfo {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::memory::XenMemoryReservation {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::memory::XenMemoryMap {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::multicall::MulticallEntry {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::domctl::XenDomctl {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::domctl::XenDomctlGetdomaininfo {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::sysctl::XenSysctl {}
// SAFETY: as above (every event_channel_op argument struct).
unsafe impl Pod for hypercall_abi::event_channel::EvtchnAllocUnbound {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnBindInterdomain {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnBindVirq {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnBindPirq {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnBindIpi {}
// SAFETY: repr(C) integers with explicit padding fields: every bit pattern is valid, no
// hidden padding.
unsafe impl Pod for hypercall_abi::physdev::PhysdevMapPirq {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::physdev::PhysdevUnmapPirq {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::physdev::PhysdevEoi {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::physdev::PhysdevIrqStatusQuery {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnClose {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnSend {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnStatus {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnBindVcpu {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnUnmask {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::event_channel::EvtchnReset {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::sched::SchedPoll {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::vcpu::VcpuSetSingleshotTimer {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::vcpu::VcpuSetPeriodicTimer {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::vcpu::VcpuRunstateInfo {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::vcpu::VcpuRegisterRunstateMemoryArea {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::grant_table::GnttabMapGrantRef {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::grant_table::GnttabUnmapGrantRef {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::grant_table::GnttabSetupTable {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::grant_table::GnttabQuerySize {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::grant_table::GnttabCopy {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::grant_table::GnttabSetVersion {}
// SAFETY: as above.
unsafe impl Pod for hypercall_abi::grant_table::GnttabGetVersion {}
// SAFETY: as above.
unsafe impl Pod for u16 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}

/// The bytes of a plain-old-data value.
pub fn bytes_of<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: T is Pod: reading its bytes is always defined.
    unsafe {
        core::slice::from_raw_parts(value as *const T as *const u8, core::mem::size_of::<T>())
    }
}

fn bytes_of_mut<T: Pod>(value: &mut T) -> &mut [u8] {
    // SAFETY: T is Pod: any bytes written make a valid T.
    unsafe {
        core::slice::from_raw_parts_mut(value as *mut T as *mut u8, core::mem::size_of::<T>())
    }
}

/// Reads one `T` from guest virtual address `src`.
pub fn read_guest<T: Pod>(src: u64) -> Result<T, Errno> {
    let mut value = T::default();
    copy_from_guest(bytes_of_mut(&mut value), src)?;
    Ok(value)
}

/// Writes one `T` to guest virtual address `dst`.
pub fn write_guest<T: Pod>(dst: u64, value: &T) -> Result<(), Errno> {
    copy_to_guest(dst, bytes_of(value))
}
