//! The DomU's answers to the toolstack through xenstore: features announced, `control/shutdown` honoured, `memory/target` ballooned to.

use hypercall_abi::sched::ShutdownReason;

use dom0_tools::guest_balloon::{self, KIB_PER_PAGE, parse_kib};
use dom0_tools::guest_shutdown::{self, ShutdownDecision, decide};
use dom0_tools::xs_connection::{WatchEvent, XsError};

use super::balloon::BalloonDriver;
use crate::arch::x86_64::xen;
use crate::console::{Escaped, kprintln};
use crate::domu::xenbus::Xenbus;

/// The token of our `control/shutdown` watch.
const SHUTDOWN_TOKEN: &str = "shutdown";
/// The token of our `memory/target` watch.
const TARGET_TOKEN: &str = "balloon";

/// The balloon and the last target it followed.
pub struct Control {
    /// The balloon.
    pub balloon: BalloonDriver,
    /// The last `memory/target` value handled (KiB).
    pub last_target_kib: Option<u64>,
}

impl Control {
    /// A full balloon, no target seen yet.
    pub fn new() -> Self {
        Control {
            balloon: BalloonDriver::new(),
            last_target_kib: None,
        }
    }

    /// Announces what we honour (`control/feature-*` = "1"; a refused write is reported
    /// and skipped) and watches `control/shutdown` and `memory/target` (relative paths:
    /// under our domain's home). Fails only if a watch cannot be set.
    pub fn setup(&mut self, xb: &mut Xenbus) -> Result<(), XsError> {
        for key in guest_shutdown::FEATURE_KEYS
            .iter()
            .chain(&[guest_balloon::FEATURE_KEY])
        {
            if let Err(e) = xb.write(key, b"1") {
                kprintln!("domu: writing {}: {}", key, e);
                if e == XsError::Timeout {
                    return Err(e);
                }
            }
        }
        xb.watch(guest_shutdown::SHUTDOWN_NODE, SHUTDOWN_TOKEN)?;
        xb.watch(guest_balloon::TARGET_NODE, TARGET_TOKEN)
    }

    /// Handles one watch event (by its token).
    pub fn handle(&mut self, xb: &mut Xenbus, event: &WatchEvent) {
        match event.token.as_slice() {
            t if t == SHUTDOWN_TOKEN.as_bytes() => on_shutdown(xb),
            t if t == TARGET_TOKEN.as_bytes() => self.on_target(xb),
            other => kprintln!("domu: watch event with unknown token '{}'", Escaped(other)),
        }
    }

    /// Reads `memory/target` and balloons to it.
    fn on_target(&mut self, xb: &mut Xenbus) {
        let value = match xb.read(guest_balloon::TARGET_NODE) {
            Ok(v) => v,
            // Not written (yet): the watch fires once when set up.
            Err(e) if e.is_enoent() => return,
            Err(e) => {
                kprintln!("balloon: reading {}: {}", guest_balloon::TARGET_NODE, e);
                return;
            }
        };
        let Some(target_kib) = parse_kib(&value) else {
            kprintln!(
                "balloon: {} is '{}', not a KiB count; ignored",
                guest_balloon::TARGET_NODE,
                Escaped(&value)
            );
            return;
        };
        self.balloon_to(target_kib, false);
    }

    /// Balloons to `target_kib` (clamped to what the balloon can reach) and says where it
    /// got: always if `announce`, else only if it moved or the target changed.
    pub fn balloon_to(&mut self, target_kib: u64, announce: bool) {
        let previous = self.last_target_kib.replace(target_kib);
        let target_pages = self.balloon.plan().target_pages(target_kib);
        match self.balloon.reach(target_pages) {
            Ok(moved) => {
                let changed = previous.is_some_and(|p| p != target_kib);
                if moved == 0 && !changed && !announce {
                    return;
                }
                let now = self.balloon.current_kib();
                if now == target_kib {
                    kprintln!("balloon: now {} KiB", now);
                } else {
                    kprintln!(
                        "balloon: now {} KiB (target {} KiB; reachable {}..{} KiB)",
                        now,
                        target_kib,
                        self.balloon.plan().target_pages(0) * KIB_PER_PAGE,
                        self.balloon.max_kib()
                    );
                }
            }
            Err(e) => kprintln!(
                "balloon: stuck at {} KiB on the way to {} KiB: {}",
                self.balloon.current_kib(),
                target_kib,
                e
            ),
        }
    }
}

/// Reads `control/shutdown`; for a request we honour, acknowledges it (writes "") and shuts
/// down with its reason.
fn on_shutdown(xb: &mut Xenbus) {
    let value = match xb.read(guest_shutdown::SHUTDOWN_NODE) {
        Ok(v) => v,
        Err(e) if e.is_enoent() => return,
        Err(e) => {
            kprintln!("domu: reading {}: {}", guest_shutdown::SHUTDOWN_NODE, e);
            return;
        }
    };
    match decide(&value) {
        ShutdownDecision::Nothing => {}
        ShutdownDecision::Ignore => {
            kprintln!("domu: ignoring shutdown request '{}'", Escaped(&value));
        }
        ShutdownDecision::Act(reason) => {
            kprintln!("domu: shutdown request '{}'", Escaped(&value));
            if let Err(e) = xb.write(guest_shutdown::SHUTDOWN_NODE, b"") {
                kprintln!("domu: acknowledging the shutdown request: {}", e);
            }
            shut_down(reason);
        }
    }
}

/// SCHEDOP_shutdown with `reason`, saying so first.
pub fn shut_down(reason: ShutdownReason) -> ! {
    let what = match reason {
        ShutdownReason::Reboot => "rebooting",
        _ => "powering off",
    };
    kprintln!("domu: {}", what);
    xen::shutdown_forever(reason)
}
