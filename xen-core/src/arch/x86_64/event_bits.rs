//! A domain's 2-level event bits in its shared_info page, changed with locked atomics on the direct map.

use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU64, Ordering};

use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::shared_info::{SharedInfo, VcpuInfo, XEN_LEGACY_MAX_VCPUS};
use xen_core::event::two_level::{EventBits, PORTS_PER_WORD};
use xen_core::layout::PAGE_SIZE;

use super::direct_map;

const PENDING: u64 = offset_of!(SharedInfo, evtchn_pending) as u64;
const MASK: u64 = offset_of!(SharedInfo, evtchn_mask) as u64;
const VCPU_INFO: u64 = offset_of!(SharedInfo, vcpu_info) as u64;
const VCPU_INFO_SIZE: u64 = size_of::<VcpuInfo>() as u64;
const UPCALL_PENDING: u64 = offset_of!(VcpuInfo, evtchn_upcall_pending) as u64;
const UPCALL_MASK: u64 = offset_of!(VcpuInfo, evtchn_upcall_mask) as u64;
const PENDING_SEL: u64 = offset_of!(VcpuInfo, evtchn_pending_sel) as u64;

// The upcall word (pending, mask) is read as one little-endian u16.
const _: () = assert!(UPCALL_PENDING == 0 && UPCALL_MASK == 1);

/// The event words of the shared_info frame `mfn`. Each method is one locked operation (or one
/// load) on guest-shared memory; the guest may change any bit in between, which the library's
/// callers allow for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedInfoBits {
    base: u64,
}

/// `vcpu_info[vcpu]`'s upcall state, read at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpcallState {
    /// `evtchn_upcall_pending` (non-zero: pending).
    pub pending: u8,
    /// `evtchn_upcall_mask` (non-zero: masked).
    pub mask: u8,
}

impl UpcallState {
    /// Whether Xen delivers the upcall now: pending and not masked.
    pub fn deliverable(self) -> bool {
        self.pending != 0 && self.mask == 0
    }
}

impl SharedInfoBits {
    /// The bits of the shared_info page in machine frame `mfn` (a frame xen-core allocated and
    /// keeps, so it is inside the direct map).
    pub fn new(mfn: u64) -> Self {
        SharedInfoBits {
            base: mfn * PAGE_SIZE,
        }
    }

    /// Machine address of `vcpu_info[vcpu]`, `None` past the legacy array.
    pub fn vcpu_info(&self, vcpu: u32) -> Option<u64> {
        (vcpu < XEN_LEGACY_MAX_VCPUS as u32)
            .then(|| self.base + VCPU_INFO + u64::from(vcpu) * VCPU_INFO_SIZE)
    }

    fn word(&self, array: u64, port: EvtchnPort) -> (&'static AtomicU64, u64) {
        let index = u64::from(port / PORTS_PER_WORD);
        (
            direct_map::atomic_u64(self.base + array + index * 8),
            1 << (port % PORTS_PER_WORD),
        )
    }

    /// `vcpu_info[vcpu]`'s upcall pending and mask bytes, in one load; a vCPU without a
    /// vcpu_info reads as masked.
    pub fn upcall_state(&self, vcpu: u32) -> UpcallState {
        let Some(info) = self.vcpu_info(vcpu) else {
            return UpcallState {
                pending: 0,
                mask: 1,
            };
        };
        let [pending, mask] = direct_map::atomic_u16(info)
            .load(Ordering::SeqCst)
            .to_le_bytes();
        UpcallState { pending, mask }
    }
}

impl EventBits for SharedInfoBits {
    fn test_and_set_pending(&self, port: EvtchnPort) -> bool {
        let (word, bit) = self.word(PENDING, port);
        word.fetch_or(bit, Ordering::SeqCst) & bit != 0
    }

    fn clear_pending(&self, port: EvtchnPort) {
        let (word, bit) = self.word(PENDING, port);
        word.fetch_and(!bit, Ordering::SeqCst);
    }

    fn is_pending(&self, port: EvtchnPort) -> bool {
        let (word, bit) = self.word(PENDING, port);
        word.load(Ordering::SeqCst) & bit != 0
    }

    fn is_masked(&self, port: EvtchnPort) -> bool {
        let (word, bit) = self.word(MASK, port);
        word.load(Ordering::SeqCst) & bit != 0
    }

    fn test_and_clear_mask(&self, port: EvtchnPort) -> bool {
        let (word, bit) = self.word(MASK, port);
        word.fetch_and(!bit, Ordering::SeqCst) & bit != 0
    }

    fn test_and_set_pending_sel(&self, vcpu: u32, word: u32) -> bool {
        let Some(info) = self.vcpu_info(vcpu) else {
            return true;
        };
        let bit = 1u64 << (word % PORTS_PER_WORD);
        direct_map::atomic_u64(info + PENDING_SEL).fetch_or(bit, Ordering::SeqCst) & bit != 0
    }

    fn test_and_set_upcall_pending(&self, vcpu: u32) -> bool {
        let Some(info) = self.vcpu_info(vcpu) else {
            return true;
        };
        direct_map::atomic_u8(info + UPCALL_PENDING).swap(1, Ordering::SeqCst) != 0
    }
}
