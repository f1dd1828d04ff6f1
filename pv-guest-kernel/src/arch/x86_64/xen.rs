//! Safe, typed wrappers for the hypercalls the kernel makes, each arguing its soundness.
// Pointers come from live Rust objects of the right size, or are NULL (this kernel never maps
// the first page of the address space, so the hypervisor's copy to or from NULL faults and
// returns -EFAULT without touching memory), or name memory that is not ours (the hypervisor
// range), where nothing of ours can be hit.

use hypercall_abi::Errno;
use hypercall_abi::console::ConsoleIoCmd;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::hypercall::Hypercall;
use hypercall_abi::layout::{HYPERVISOR_VIRT_END, HYPERVISOR_VIRT_START};
use hypercall_abi::mmu::{MmuextCmd, MmuextOp};
use hypercall_abi::sched::{SchedOp, SchedShutdown, ShutdownReason};
use hypercall_abi::segment::SegBase;
use hypercall_abi::version::{
    XEN_CAPABILITIES_INFO_LEN, XEN_EXTRAVERSION_LEN, XenFeatureInfo, XenPlatformParameters,
    XenVersionCmd,
};

use super::cpu;
use super::hypercall::call;
use super::memory::{self, SparePage, WORDS_PER_PAGE};

/// Result for a stub that cannot be called (never the case for the numbers used here).
const NO_STUB: i64 = Errno::NoSys.to_ret();

/// Calls a hypercall whose number is known to have a callable stub.
///
/// # Safety
/// As for [`call`].
unsafe fn hc(nr: Hypercall, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    // SAFETY: forwarded to the caller.
    unsafe { call(nr as u8, a1, a2, a3, a4, a5) }.unwrap_or(NO_STUB)
}

/// console_io write of `bytes` to the hypervisor console.
pub fn console_write(bytes: &[u8]) -> i64 {
    // SAFETY: CONSOLEIO_write only reads `len` bytes from the buffer, a live slice.
    unsafe {
        hc(
            Hypercall::ConsoleIo,
            ConsoleIoCmd::Write as u64,
            bytes.len() as u64,
            bytes.as_ptr() as u64,
            0,
            0,
        )
    }
}

/// console_io with a buffer address that need not be ours. Only CONSOLEIO_write (which reads
/// the buffer) or a command the ABI does not know (with a NULL buffer) are allowed; `None`
/// for anything else.
pub fn console_io_foreign(cmd: u64, count: u64, address: u64) -> Option<i64> {
    let allowed = match ConsoleIoCmd::try_from(cmd) {
        Ok(ConsoleIoCmd::Write) => true,
        Ok(_) => false,
        Err(_) => address == 0,
    };
    if !allowed {
        return None;
    }
    // SAFETY: a write only reads guest memory (a bad address is refused or read from memory
    // that is not a Rust object of ours); an unknown command gets a NULL buffer (see above).
    Some(unsafe { hc(Hypercall::ConsoleIo, cmd, count, address, 0, 0) })
}

/// xen_version with a NULL argument: for XENVER_version, XENVER_pagesize and unknown commands.
pub fn xen_version_plain(cmd: u64) -> i64 {
    // SAFETY: NULL argument: at worst the hypervisor's copy to page 0 faults (see the top of
    // documentation); every result of a known command is at most 1024 bytes, within page 0.
    unsafe { hc(Hypercall::XenVersion, cmd, 0, 0, 0, 0) }
}

/// XENVER_extraversion: the result and the 16-byte buffer.
pub fn xen_version_extraversion() -> (i64, [u8; XEN_EXTRAVERSION_LEN]) {
    let mut buf = [0u8; XEN_EXTRAVERSION_LEN];
    // SAFETY: the hypervisor writes XEN_EXTRAVERSION_LEN bytes into the live buffer.
    let ret = unsafe {
        hc(
            Hypercall::XenVersion,
            XenVersionCmd::Extraversion as u64,
            buf.as_mut_ptr() as u64,
            0,
            0,
            0,
        )
    };
    (ret, buf)
}

/// XENVER_capabilities: the result and the 1024-byte buffer.
pub fn xen_version_capabilities() -> (i64, [u8; XEN_CAPABILITIES_INFO_LEN]) {
    let mut buf = [0u8; XEN_CAPABILITIES_INFO_LEN];
    // SAFETY: the hypervisor writes XEN_CAPABILITIES_INFO_LEN bytes into the live buffer.
    let ret = unsafe {
        hc(
            Hypercall::XenVersion,
            XenVersionCmd::Capabilities as u64,
            buf.as_mut_ptr() as u64,
            0,
            0,
            0,
        )
    };
    (ret, buf)
}

/// XENVER_platform_parameters: the result and the parameters.
pub fn xen_version_platform_parameters() -> (i64, XenPlatformParameters) {
    let mut params = XenPlatformParameters::default();
    // SAFETY: the hypervisor writes one XenPlatformParameters into the live struct.
    let ret = unsafe {
        hc(
            Hypercall::XenVersion,
            XenVersionCmd::PlatformParameters as u64,
            &mut params as *mut XenPlatformParameters as u64,
            0,
            0,
            0,
        )
    };
    (ret, params)
}

/// XENVER_get_features for submap `index`: the result and the structure.
pub fn xen_version_get_features(index: u32) -> (i64, XenFeatureInfo) {
    let mut info = XenFeatureInfo {
        submap_idx: index,
        submap: 0,
    };
    // SAFETY: the hypervisor reads and writes one XenFeatureInfo in the live struct.
    let ret = unsafe {
        hc(
            Hypercall::XenVersion,
            XenVersionCmd::GetFeatures as u64,
            &mut info as *mut XenFeatureInfo as u64,
            0,
            0,
            0,
        )
    };
    (ret, info)
}

/// Hypercall `nr` with all-zero arguments, for a number the ABI does not define. `None`
/// (no call) for a defined number or one with no stub.
pub fn hypercall_unknown(nr: u8) -> Option<i64> {
    if Hypercall::from_nr(u64::from(nr)).is_some() {
        return None;
    }
    // SAFETY: the hypervisor has no such hypercall; zero arguments carry no pointers.
    unsafe { call(nr, 0, 0, 0, 0, 0) }
}

/// update_va_mapping of the shared_info frame (machine address `maddr`) at the shared_info
/// spare page, with `pte_flags` and `uvmf`. On success, later reads of vcpu_info use it.
pub fn map_shared_info(maddr: u64, pte_flags: u64, uvmf: u64) -> i64 {
    let va = SparePage::SharedInfo.va();
    // SAFETY: the spare page is only accessed through volatile raw-pointer reads (see
    // `memory`), so replacing its frame invalidates no Rust object.
    let ret = unsafe {
        hc(
            Hypercall::UpdateVaMapping,
            va,
            maddr | pte_flags,
            uvmf,
            0,
            0,
        )
    };
    if ret == 0 {
        memory::set_shared_info_mapped();
    }
    ret
}

/// update_va_mapping of the probe spare page with any PTE: used for attempts that must be
/// refused. The probe page is only accessed through volatile raw-pointer accesses, so even
/// an accepted remapping invalidates no Rust object.
pub fn remap_probe_page(pte: u64, uvmf: u64) -> i64 {
    let va = SparePage::Probe.va();
    // SAFETY: see above.
    unsafe { hc(Hypercall::UpdateVaMapping, va, pte, uvmf, 0, 0) }
}

/// update_va_mapping of a virtual address inside the hypervisor's reserved range, which no
/// object of ours occupies. `None` (no call) for an address outside that range.
pub fn update_va_mapping_hypervisor_range(va: u64, pte: u64, uvmf: u64) -> Option<i64> {
    if !(HYPERVISOR_VIRT_START..HYPERVISOR_VIRT_END).contains(&va) {
        return None;
    }
    // SAFETY: see above: nothing of this kernel lives in that range.
    Some(unsafe { hc(Hypercall::UpdateVaMapping, va, pte, uvmf, 0, 0) })
}

/// set_segment_base(`which`, `base`). `which` = SEGBASE_GS_USER_SEL (which loads a selector)
/// is not offered: it gets -EINVAL without a call.
pub fn set_segment_base(which: u64, base: u64) -> i64 {
    if which as u32 == SegBase::GsUserSel as u32 {
        return Errno::Inval.to_ret();
    }
    // SAFETY: this kernel does not use FS or GS for anything but explicit reads in `cpu` and
    // `user`, which set the base they need first; the call passes no pointer the hypervisor
    // dereferences.
    unsafe { hc(Hypercall::SetSegmentBase, which, base, 0, 0, 0) }
}

/// Result of one mmuext_op with a `pdone` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmuextResult {
    /// The hypercall's result.
    pub ret: i64,
    /// What the hypervisor wrote to `pdone` (starts at 0xFFFF_FFFF so "not written" shows).
    pub done: u32,
}

/// One mmuext_op for DOMID_SELF with a pdone counter.
///
/// # Safety
/// The operation must not break the kernel's address space or any Rust object.
unsafe fn mmuext_one(op: MmuextOp) -> MmuextResult {
    let mut done: u32 = u32::MAX;
    // SAFETY: the hypervisor reads one MmuextOp from the live `op` and writes one u32 to the
    // live `done`; the operation's own effect is the caller's contract.
    let ret = unsafe {
        hc(
            Hypercall::MmuextOp,
            &op as *const MmuextOp as u64,
            1,
            &mut done as *mut u32 as u64,
            u64::from(DOMID_SELF),
            0,
        )
    };
    MmuextResult { ret, done }
}

fn base_op(cmd: MmuextCmd, mfn: u64) -> MmuextOp {
    MmuextOp {
        cmd: cmd as u32,
        pad: 0,
        arg1: mfn,
        arg2: 0,
    }
}

/// The frame of the current L4 (from the emulated CR3 read).
fn current_l4_mfn() -> Option<u64> {
    Some(cpu::read_cr3()? >> 12)
}

/// MMUEXT_NEW_BASEPTR with `mfn`, only if it is the current L4 (a no-op switch).
pub fn new_baseptr_current(mfn: u64) -> Option<MmuextResult> {
    if current_l4_mfn()? != mfn {
        return None;
    }
    // SAFETY: switching to the L4 already in use leaves the address space unchanged.
    Some(unsafe { mmuext_one(base_op(MmuextCmd::NewBaseptr, mfn)) })
}

/// MMUEXT_NEW_USER_BASEPTR with `mfn`, only if it is the current (kernel) L4: user mode then
/// sees the kernel's address space, which our user code relies on.
pub fn new_user_baseptr_current(mfn: u64) -> Option<MmuextResult> {
    if current_l4_mfn()? != mfn {
        return None;
    }
    // SAFETY: the user base only matters in guest user mode, where our user code expects
    // exactly the kernel's mappings.
    Some(unsafe { mmuext_one(base_op(MmuextCmd::NewUserBaseptr, mfn)) })
}

/// Outcome of offering the decoy data page to MMUEXT_NEW_BASEPTR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecoyBaseptr {
    /// The decoy's frame.
    pub decoy_mfn: u64,
    /// The result of the attempt.
    pub attempt: MmuextResult,
    /// CR3 >> 12 right after the attempt.
    pub l4_after: Option<u64>,
    /// If the attempt was accepted: the result of switching back to the original L4.
    pub restore: Option<MmuextResult>,
}

/// MMUEXT_NEW_BASEPTR with the frame of the decoy spare page, an ordinary writable data page
/// (the hypervisor must refuse: it is mapped writable). The decoy first gets a copy of the
/// current L4, so that if a faulty hypervisor accepts it the address space stays the same;
/// we then switch back to the original L4. `None` if the frames cannot be determined.
pub fn new_baseptr_decoy() -> Option<DecoyBaseptr> {
    let original = current_l4_mfn()?;
    let decoy_mfn = SparePage::Decoy.initial_mfn()?;
    for i in 0..WORDS_PER_PAGE {
        let entry = memory::initial_l4_entry(i)?;
        SparePage::Decoy.write(i, entry);
    }
    // SAFETY: the decoy holds the same entries as the current L4, so even an accepted switch
    // keeps every mapping; the original L4 is restored right after in that case.
    let attempt = unsafe { mmuext_one(base_op(MmuextCmd::NewBaseptr, decoy_mfn)) };
    let l4_after = current_l4_mfn();
    let restore = (l4_after != Some(original)).then(|| {
        // SAFETY: switching back to the kernel's own, validated L4.
        unsafe { mmuext_one(base_op(MmuextCmd::NewBaseptr, original)) }
    });
    Some(DecoyBaseptr {
        decoy_mfn,
        attempt,
        l4_after,
        restore,
    })
}

/// mmuext_op with a command the ABI does not define (arguments 0). `None` (no call) for a
/// defined command.
pub fn mmuext_unknown(cmd: u32) -> Option<MmuextResult> {
    if MmuextCmd::try_from(cmd).is_ok() {
        return None;
    }
    let op = MmuextOp {
        cmd,
        pad: 0,
        arg1: 0,
        arg2: 0,
    };
    // SAFETY: the hypervisor has no such command; the arguments carry no pointers.
    Some(unsafe { mmuext_one(op) })
}

/// sched_op yield.
pub fn sched_yield() -> i64 {
    // SAFETY: yield takes no argument memory and changes nothing of ours.
    unsafe { hc(Hypercall::SchedOp, SchedOp::Yield as u64, 0, 0, 0, 0) }
}

/// sched_op with a command the ABI does not define and a NULL argument. `None` (no call)
/// for a defined command.
pub fn sched_op_unknown(cmd: u64) -> Option<i64> {
    if SchedOp::try_from(cmd).is_ok() {
        return None;
    }
    // SAFETY: no such command; NULL argument (see the top of this file).
    Some(unsafe { hc(Hypercall::SchedOp, cmd, 0, 0, 0, 0) })
}

/// sched_op shutdown with `reason`; returns only if the hypervisor refused.
pub fn shutdown(reason: ShutdownReason) -> i64 {
    let request = SchedShutdown {
        reason: reason as u32,
    };
    // SAFETY: the hypervisor reads the live request.
    unsafe {
        hc(
            Hypercall::SchedOp,
            SchedOp::Shutdown as u64,
            &request as *const SchedShutdown as u64,
            0,
            0,
            0,
        )
    }
}

/// Shuts the domain down with `reason` and never returns (yields forever if refused).
pub fn shutdown_forever(reason: ShutdownReason) -> ! {
    loop {
        let _ = shutdown(reason);
        let _ = sched_yield();
    }
}

/// Powers the domain off.
pub fn power_off() -> ! {
    shutdown_forever(ShutdownReason::Poweroff)
}

/// Crashes the domain (shutdown reason crash).
pub fn crash() -> ! {
    shutdown_forever(ShutdownReason::Crash)
}
