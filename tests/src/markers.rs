//! What the hypervisors print at the moments the tests wait for.

/// The guest's verdict line starts with this (then SUCCESS, SKIP, ERROR or FAILURE).
pub const TEST_RESULT: &str = "Test result:";
/// A passed self-test.
pub const TEST_SUCCESS: &str = "Test result: SUCCESS";
/// A short report of a crashed Dom0.
pub const DOM0_CRASHED: &str = "Domain 0 crashed";
/// The last line for a crashed Dom0, Xen 4.17's (`Hardware Dom0 crashed: 'noreboot' set - not
/// rebooting.`) and xen-core's alike; on Xen it comes after the register dump, so stopping there
/// keeps the dump.
pub const HARDWARE_DOM0_CRASHED: &str = "Hardware Dom0 crashed";

/// Whether `output` reports that Dom0 crashed: `Domain 0 crashed`, `Domain 0 (vcpu#0) crashed ...`
/// (as Xen 4.17 and xen-core print when they kill it) or `Hardware Dom0 crashed`.
pub fn dom0_crash_reported(output: &str) -> bool {
    output.contains(DOM0_CRASHED)
        || output.contains(HARDWARE_DOM0_CRASHED)
        || output.lines().any(|line| {
            line.split_once("Domain 0 (vcpu#")
                .is_some_and(|(_, rest)| rest.contains(") crashed"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_both_hypervisors_crash_reports() {
        assert!(dom0_crash_reported(
            "(XEN) Domain 0 crashed: reason crash\r\n"
        ));
        assert!(dom0_crash_reported(
            "(XEN) Domain 0 (vcpu#0) crashed on cpu#0:\r\n"
        ));
        assert!(dom0_crash_reported(
            "(XEN) Hardware Dom0 crashed: 'noreboot' set - not rebooting.\r\n"
        ));
        assert!(!dom0_crash_reported(
            "(XEN) Hardware Dom0 halted: halting machine\r\n"
        ));
        assert!(!dom0_crash_reported(
            "(XEN) Domain 0 (vcpu#0)\r\ncrashed\r\n"
        ));
    }
}
