//! A Rust panic in xen-core is a broken invariant: say where and stop the machine.

use crate::arch::x86_64::platform::{Exit, exit_machine};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::console::line(format_args!("PANIC: fatal error in xen-core: {info}"));
    exit_machine(Exit::Fatal)
}
