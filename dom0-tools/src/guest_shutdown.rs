//! A DomU's answer to the toolstack's `control/shutdown` request (what Linux's xenbus shutdown handler does).

use hypercall_abi::sched::ShutdownReason;

/// The keys under `control/` a DomU writes "1" to, saying which requests it honours
/// (Linux writes feature-poweroff, feature-reboot and feature-suspend; we cannot suspend).
pub const FEATURE_KEYS: [&str; 2] = ["control/feature-poweroff", "control/feature-reboot"];
/// The node the toolstack writes requests to (relative to the domain's home).
pub const SHUTDOWN_NODE: &str = "control/shutdown";

/// What to do about the value read from `control/shutdown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownDecision {
    /// Acknowledge (write "" back), then SCHEDOP_shutdown with this reason.
    Act(ShutdownReason),
    /// Nothing to do: empty (our own acknowledgement, or no request yet).
    Nothing,
    /// A request we do not handle: leave it unacknowledged (as Linux does) and say so.
    Ignore,
}

/// The decision for the value of `control/shutdown` ("poweroff" and "halt" power off,
/// "reboot" reboots; "suspend" and anything else is ignored).
pub fn decide(value: &[u8]) -> ShutdownDecision {
    match value {
        b"" => ShutdownDecision::Nothing,
        b"poweroff" | b"halt" => ShutdownDecision::Act(ShutdownReason::Poweroff),
        b"reboot" => ShutdownDecision::Act(ShutdownReason::Reboot),
        _ => ShutdownDecision::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_reasons() {
        assert_eq!(
            decide(b"poweroff"),
            ShutdownDecision::Act(ShutdownReason::Poweroff)
        );
        assert_eq!(
            decide(b"halt"),
            ShutdownDecision::Act(ShutdownReason::Poweroff)
        );
        assert_eq!(
            decide(b"reboot"),
            ShutdownDecision::Act(ShutdownReason::Reboot)
        );
        assert_eq!(decide(b""), ShutdownDecision::Nothing);
        for other in [
            &b"suspend"[..],
            b"crash",
            b"poweroff\0",
            b"POWEROFF",
            b"\xff",
        ] {
            assert_eq!(decide(other), ShutdownDecision::Ignore, "{other:?}");
        }
        assert!(
            FEATURE_KEYS
                .iter()
                .all(|k| k.starts_with("control/feature-"))
        );
    }
}
