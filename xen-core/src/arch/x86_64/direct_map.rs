//! The direct map: xen-core reaches any machine frame at DIRECTMAP_BASE + its address.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use xen_core::layout::{PAGE_SIZE, maddr_to_virt};

/// One past the highest machine address the direct map covers (set once the map is built).
static LIMIT: AtomicU64 = AtomicU64::new(1 << 30);

/// Records how much machine memory the direct map covers.
pub fn set_limit(bytes: u64) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

fn check(maddr: u64, len: u64) {
    let end = maddr.checked_add(len);
    // A frame outside the direct map is a bug in xen-core: guest-supplied frame numbers are
    // checked against the frame table before they get here.
    assert!(
        end.is_some_and(|e| e <= LIMIT.load(Ordering::Relaxed)),
        "maddr {maddr:#x} outside the direct map"
    );
}

/// Reads the u64 at machine address `maddr` (8-byte aligned).
pub fn read_u64(maddr: u64) -> u64 {
    check(maddr, 8);
    // SAFETY: inside the direct map (checked), aligned by the caller's contract; a volatile read
    // because guests may change the memory concurrently in later multi-CPU work.
    unsafe { core::ptr::read_volatile(maddr_to_virt(maddr) as *const u64) }
}

/// Writes the u64 at machine address `maddr` (8-byte aligned).
pub fn write_u64(maddr: u64, value: u64) {
    check(maddr, 8);
    // SAFETY: inside the direct map (checked); callers only write frames they own or validated.
    unsafe { core::ptr::write_volatile(maddr_to_virt(maddr) as *mut u64, value) }
}

/// Writes the u32 at machine address `maddr` (4-byte aligned).
pub fn write_u32(maddr: u64, value: u32) {
    check(maddr, 4);
    // SAFETY: inside the direct map (checked), aligned by the caller's contract; callers only
    // write frames they own or validated; volatile because a guest reads it concurrently.
    unsafe { core::ptr::write_volatile(maddr_to_virt(maddr) as *mut u32, value) }
}

/// Reads the byte at machine address `maddr`.
pub fn read_u8(maddr: u64) -> u8 {
    check(maddr, 1);
    // SAFETY: inside the direct map (checked); volatile because a guest may change it at any
    // moment (shared pages), and the caller uses the value read once.
    unsafe { core::ptr::read_volatile(maddr_to_virt(maddr) as *const u8) }
}

/// Copies `src` to machine address `maddr`.
pub fn write_bytes(maddr: u64, src: &[u8]) {
    check(maddr, src.len() as u64);
    // SAFETY: the destination is inside the direct map (checked) and does not overlap `src`,
    // which is a Rust slice in xen-core's image or stack.
    unsafe {
        core::ptr::copy_nonoverlapping(src.as_ptr(), maddr_to_virt(maddr) as *mut u8, src.len())
    }
}

/// The u32 at machine address `maddr` (4-byte aligned) as an atomic, for words shared with a
/// guest that may change them at any time (grant entries).
fn shared_u32(maddr: u64) -> &'static AtomicU32 {
    check(maddr, 4);
    assert!(
        maddr.is_multiple_of(4),
        "maddr {maddr:#x} not 4-byte aligned"
    );
    // SAFETY: inside the direct map (checked) and aligned (checked); an AtomicU32 has the size
    // and alignment of a u32 and any bits are a valid value. The memory is shared with a guest
    // that writes it behind our back, which is why it is only ever accessed atomically here.
    unsafe { AtomicU32::from_ptr(maddr_to_virt(maddr) as *mut u32) }
}

/// Reads the u32 at machine address `maddr` (4-byte aligned) once, atomically.
pub fn load_u32(maddr: u64) -> u32 {
    shared_u32(maddr).load(Ordering::SeqCst)
}

/// Replaces the u32 at machine address `maddr` (4-byte aligned) by `new` if it still is `old`,
/// atomically; otherwise returns the value found.
pub fn cmpxchg_u32(maddr: u64, old: u32, new: u32) -> Result<(), u32> {
    shared_u32(maddr)
        .compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst)
        .map(|_| ())
}

/// Clears the bits of `mask` in the u32 at machine address `maddr` (4-byte aligned),
/// atomically, leaving the others as they are.
pub fn clear_bits_u32(maddr: u64, mask: u32) {
    shared_u32(maddr).fetch_and(!mask, Ordering::SeqCst);
}

/// Copies `len` bytes from machine address `src` to machine address `dst`; the ranges may
/// overlap (a grant copy within one frame).
pub fn copy_bytes(dst: u64, src: u64, len: usize) {
    check(dst, len as u64);
    check(src, len as u64);
    // SAFETY: both ranges lie inside the direct map (checked); `copy` allows overlap. The
    // caller holds references on both frames, so they are RAM in use that it may read and
    // write.
    unsafe {
        core::ptr::copy(
            maddr_to_virt(src) as *const u8,
            maddr_to_virt(dst) as *mut u8,
            len,
        )
    }
}

/// Zeroes the frame `mfn`, eight bytes a store (`rep stosq`: 512 iterations where the byte
/// memset the compiler picks takes 4096).
pub fn zero_frame(mfn: u64) {
    let maddr = mfn * PAGE_SIZE;
    check(maddr, PAGE_SIZE);
    // SAFETY: a whole frame inside the direct map (checked) that the caller owns; `rep stosq`
    // writes exactly PAGE_SIZE / 8 quadwords of zero from its start (the direction flag is
    // clear in xen-core, as the ABI requires), and touches only rdi, rcx and memory there.
    unsafe {
        core::arch::asm!(
            "rep stosq",
            inout("rdi") maddr_to_virt(maddr) => _,
            inout("rcx") PAGE_SIZE / 8 => _,
            in("rax") 0u64,
            options(nostack)
        );
    }
}

/// Copies frame `src` over frame `dst` (MMUEXT_COPY_PAGE).
pub fn copy_frame(dst: u64, src: u64) {
    check(dst * PAGE_SIZE, PAGE_SIZE);
    check(src * PAGE_SIZE, PAGE_SIZE);
    if dst == src {
        return;
    }
    // SAFETY: two distinct whole frames inside the direct map (checked), so they do not overlap;
    // the caller holds references that make the copy legitimate.
    unsafe {
        core::ptr::copy_nonoverlapping(
            maddr_to_virt(src * PAGE_SIZE) as *const u8,
            maddr_to_virt(dst * PAGE_SIZE) as *mut u8,
            PAGE_SIZE as usize,
        )
    }
}

/// The bytes `[maddr, maddr + len)` as a slice, for boot modules xen-core reads.
pub fn bytes(maddr: u64, len: u64) -> &'static [u8] {
    check(maddr, len);
    // SAFETY: inside the direct map (checked); boot modules are reserved in the frame allocator
    // and never written while xen-core reads them.
    unsafe { core::slice::from_raw_parts(maddr_to_virt(maddr) as *const u8, len as usize) }
}

/// A frame-backed array of `T`, for tables sized at boot (the frame table, the M2P).
///
/// # Safety
/// `[maddr, maddr + len * size_of::<T>())` must be frames reserved for this use only, zeroed
/// or otherwise valid as `T`, and never handed out again.
pub unsafe fn table<T>(maddr: u64, len: usize) -> &'static mut [T] {
    check(maddr, (len * core::mem::size_of::<T>()) as u64);
    // SAFETY: the caller's contract makes the memory exclusively ours and valid as T.
    unsafe { core::slice::from_raw_parts_mut(maddr_to_virt(maddr) as *mut T, len) }
}

/// The u64 at machine address `maddr` (8-byte aligned) as an atomic, for words a guest shares
/// with xen-core and changes concurrently (the event bitmaps in shared_info).
pub fn atomic_u64(maddr: u64) -> &'static core::sync::atomic::AtomicU64 {
    check(maddr, 8);
    assert!(maddr.is_multiple_of(8), "unaligned atomic at {maddr:#x}");
    // SAFETY: inside the direct map (checked) and aligned (checked), and the direct map stays
    // mapped for xen-core's lifetime; AtomicU64 has u64's size and alignment. Every access
    // xen-core makes to the word goes through an atomic (the guest's own accesses are its
    // business: they cannot make ours tear).
    unsafe { core::sync::atomic::AtomicU64::from_ptr(maddr_to_virt(maddr) as *mut u64) }
}

/// The u16 at machine address `maddr` (2-byte aligned) as an atomic: see [`atomic_u64`].
pub fn atomic_u16(maddr: u64) -> &'static core::sync::atomic::AtomicU16 {
    check(maddr, 2);
    assert!(maddr.is_multiple_of(2), "unaligned atomic at {maddr:#x}");
    // SAFETY: as in `atomic_u64`, for a 2-byte aligned u16.
    unsafe { core::sync::atomic::AtomicU16::from_ptr(maddr_to_virt(maddr) as *mut u16) }
}

/// The byte at machine address `maddr` as an atomic: see [`atomic_u64`].
pub fn atomic_u8(maddr: u64) -> &'static core::sync::atomic::AtomicU8 {
    check(maddr, 1);
    // SAFETY: as in `atomic_u64`, for a byte (always aligned).
    unsafe { core::sync::atomic::AtomicU8::from_ptr(maddr_to_virt(maddr) as *mut u8) }
}
