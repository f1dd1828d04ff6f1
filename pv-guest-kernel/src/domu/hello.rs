//! domu=hello: say hello on the console ring, try console_io (Dom0's), power off.

use crate::arch::x86_64::xen;
use crate::console::kprintln;
use crate::selftest::report::Ret;

/// Prints what console_io answers a DomU (Xen 4.17 release builds refuse it: -EPERM), a last
/// line the toolstack waits for, and powers off.
pub fn run() -> ! {
    let ret = xen::console_write(b"hello: this DomU line went through console_io\r\n");
    kprintln!("hello: console_io write from a DomU returned {}", Ret(ret));
    kprintln!("hello: done");
    xen::power_off()
}
