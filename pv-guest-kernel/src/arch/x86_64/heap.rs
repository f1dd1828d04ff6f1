//! The kernel's heap: a fixed .bss arena behind the global allocator (the toolstack's buffers).

use core::cell::UnsafeCell;

use linked_list_allocator::LockedHeap;

/// Bytes of the heap: room for the toolstack's per-domain buffers (a DomU's P2M list is
/// 8 bytes per page: 16 KiB for 8 MiB).
pub const HEAP_SIZE: usize = 512 * 1024;

/// The arena, in .bss (so inside the initial mapping).
#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; HEAP_SIZE]>);

// SAFETY: the arena is only ever touched by the allocator, through the pointer `init` hands
// it once; the allocator's own lock serialises its use.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; HEAP_SIZE]));

// linked_list_allocator: a small first-fit allocator without std, as xen-core's heap uses.
#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands the arena to the allocator. Called once by the entry code, before anything allocates.
pub fn init() {
    static DONE: spin::Once<()> = spin::Once::new();
    DONE.call_once(|| {
        // SAFETY: the arena is a static of HEAP_SIZE bytes that nothing else uses (see
        // `Arena`), valid for the kernel's lifetime; `Once` makes this run a single time.
        unsafe { HEAP.lock().init(ARENA.0.get().cast::<u8>(), HEAP_SIZE) };
    });
}
