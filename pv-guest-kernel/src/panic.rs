//! The panic handler: report the panic on the console and crash the domain.

use core::panic::PanicInfo;

use crate::arch::x86_64::xen;
use crate::console::kprintln;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    kprintln!("pv-guest-kernel: panic: {}", info);
    xen::crash()
}
