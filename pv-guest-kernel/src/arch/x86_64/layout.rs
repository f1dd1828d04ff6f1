//! Fixed addresses of this kernel's image, as declared in its ELF notes and linker script.

/// Virtual address of physical address 0 (ELF note VIRT_BASE; the linker script agrees).
pub const VIRT_BASE: u64 = 0xFFFF_FFFF_8000_0000;
/// ELF note PADDR_OFFSET: physical addresses in the image start at 0.
pub const PADDR_OFFSET: u64 = 0;
/// Size of the boot stack the entry code switches to.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;
/// Size of the kernel stack named with stack_switch (used on user-to-kernel entries).
pub const KERNEL_STACK_SIZE: usize = 16 * 1024;
/// Size of the stack guest user mode runs on.
pub const USER_STACK_SIZE: usize = 16 * 1024;
