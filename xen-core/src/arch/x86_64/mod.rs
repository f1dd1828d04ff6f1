//! x86_64: boot, descriptor tables, entry stubs, port and MSR access, guest memory access, clocks.

pub mod apic;
pub mod bench_floor;
pub mod boot;
pub mod cpu;
pub mod cpu_local;
pub mod direct_map;
pub mod entry;
pub mod fpu;
pub mod gdt;
pub mod heap;
pub mod idt;
pub mod msr_safe;
pub mod paging;
pub mod pit;
pub mod platform;
pub mod port_io;
pub mod rtc;
pub mod segments;
pub mod serial;
pub mod syscall;
pub mod time_init;
pub mod timer_irq;
pub mod tsc;
pub mod uaccess;
pub mod wallclock;
