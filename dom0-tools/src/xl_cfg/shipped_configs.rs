//! The default DomU configs the system ships in Dom0's ramdisk at /etc/xen/ parse as intended.

use super::{Action, DomainConfig};

const D1: &[u8] = include_bytes!("../../configs/d1.cfg");
const D2: &[u8] = include_bytes!("../../configs/d2.cfg");

#[test]
fn d1_is_a_16_mib_shell_guest() {
    let c = DomainConfig::parse(D1).unwrap();
    assert_eq!(c.name, "d1");
    assert_eq!(c.kernel, "/boot/pv-guest-kernel");
    assert_eq!(c.cmdline.as_deref(), Some("domu=shell"));
    assert_eq!((c.memory_mib, c.maxmem_mib, c.vcpus), (16, 16, 1));
    assert_eq!(
        (c.on_poweroff, c.on_reboot, c.on_crash),
        (Action::Destroy, Action::Restart, Action::Destroy)
    );
    assert!(c.ignored_keys.is_empty() && c.warnings.is_empty());
}

#[test]
fn d2_restarts_on_crash() {
    let c = DomainConfig::parse(D2).unwrap();
    assert_eq!(c.name, "d2");
    assert_eq!(c.kernel, "/boot/pv-guest-kernel");
    assert_eq!(c.cmdline.as_deref(), Some("domu=shell"));
    assert_eq!((c.memory_mib, c.maxmem_mib), (16, 32));
    assert_eq!((c.cpu_weight, c.cap), (256, 0));
    assert_eq!(c.on_crash, Action::Restart);
    assert!(c.ignored_keys.is_empty() && c.warnings.is_empty());
}
