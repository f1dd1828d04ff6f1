//! xen-core's own heap (Xen's xenheap): a fixed run of machine frames behind `alloc`.

use linked_list_allocator::LockedHeap;

use xen_core::layout::{PAGE_SIZE, maddr_to_virt};
use xen_core::mm::frame_alloc::FrameAllocator;

/// Frames given to the heap at boot, as a power of two: 2^11 frames = 8 MiB, enough for the
/// per-domain tables of every domain the toolstack may create.
pub const HEAP_ORDER: u32 = 11;

// linked_list_allocator: a small, widely used first-fit allocator that needs no std; it keeps
// xen-core's own structures (event channel buckets, grant maptrack, domain records) off the
// frame allocator, which deals in whole frames.
#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Takes the heap's frames from `alloc` and hands them to the allocator. Called once at boot.
pub fn init(alloc: &mut FrameAllocator<'_>) {
    let first = alloc
        .alloc_aligned(HEAP_ORDER)
        .expect("no memory for xen-core's heap") as u64;
    let bytes = PAGE_SIZE << HEAP_ORDER;
    let start = maddr_to_virt(first * PAGE_SIZE);
    // SAFETY: the frames were just taken from the frame allocator, so nothing else owns them;
    // the direct map covers them (it maps all managed memory writable for xen-core), and this
    // runs once, before anything allocates.
    unsafe { HEAP.lock().init(start as *mut u8, bytes as usize) };
}

/// Bytes of the heap in use now.
pub fn used_bytes() -> usize {
    HEAP.lock().used()
}
