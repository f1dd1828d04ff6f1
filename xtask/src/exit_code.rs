//! What QEMU's exit status means for a boot of xen-core.

// isa-debug-exit turns a value v written to port 0xf4 into exit status 2v+1. xen-core
// writes 1 when Dom0 crashed, 2 when it asked for a reboot and 3 on a fatal error of
// its own; a clean poweroff goes through ACPI and exits 0.

/// Dom0 powered off (ACPI poweroff).
pub const POWEROFF: i32 = 0;
/// Dom0 crashed (xen-core wrote 1).
pub const DOM0_CRASHED: i32 = 3;
/// Dom0 asked for a reboot (xen-core wrote 2).
pub const DOM0_REBOOT: i32 = 5;
/// xen-core stopped on a fatal error (xen-core wrote 3).
pub const FATAL: i32 = 7;

/// A one-line explanation of QEMU's exit status `code`.
pub fn describe(code: i32) -> String {
    match code {
        POWEROFF => "Dom0 powered off".to_string(),
        DOM0_CRASHED => "Dom0 crashed".to_string(),
        DOM0_REBOOT => "Dom0 asked for a reboot".to_string(),
        FATAL => "xen-core stopped on a fatal error".to_string(),
        other => format!("QEMU exited with status {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_status_xen_core_produces() {
        assert_eq!(describe(0), "Dom0 powered off");
        assert_eq!(describe(3), "Dom0 crashed");
        assert_eq!(describe(5), "Dom0 asked for a reboot");
        assert_eq!(describe(7), "xen-core stopped on a fatal error");
        assert_eq!(describe(1), "QEMU exited with status 1");
    }

    #[test]
    fn statuses_follow_isa_debug_exit() {
        for (written, status) in [(1, DOM0_CRASHED), (2, DOM0_REBOOT), (3, FATAL)] {
            assert_eq!(2 * written + 1, status);
        }
    }
}
