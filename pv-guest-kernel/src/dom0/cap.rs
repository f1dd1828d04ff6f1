//! domains=cap: a spinning DomU capped at 25% of the CPU gets 25% (within 10%) while the CPU is otherwise idle.
//!
//! "Within 10%" is read as 10% of the wanted figure (22.5%..27.5%), as for the 2:1 ratio of
//! domains=weights; the looser reading, 10 percentage points, would accept a cap off by 40%.

use super::scenario::{domu_image, ensure, step};
use super::sched_share::{
    MS, WINDOW_MS, build_spinner, credit, dom0_quiet, expect_params, free_pages, free_pages_back,
    measure, milli, start, stop_and_destroy,
};
use super::session::Session;
use crate::console::kprintln;
use crate::selftest::report::Report;

/// The cap, in percent of one CPU.
const CAP: u16 = 25;
/// Xen's default weight, which the cap's putinfo (weight 0: unchanged) leaves.
const DEFAULT_WEIGHT: u16 = 256;
/// The share wanted, in thousandths of the window, and the tolerance: 10% of it.
const WANT_MILLI: u64 = CAP as u64 * 10;
const TOLERANCE_MILLI: u64 = WANT_MILLI / 10;

/// The scenario's checks, in order; each runs only if the ones before passed.
pub fn checks(report: &mut Report) {
    let Some(mut session) = step(report, "cap.session", Session::start()) else {
        return;
    };
    let Some(image) = step(report, "cap.image", domu_image()) else {
        return;
    };
    let Some(before) = step(report, "cap.free_pages_before", free_pages()) else {
        return;
    };
    let capped = build_spinner(&mut session, image, 1, credit(0, CAP));
    let Some(capped) = step(report, "cap.build", capped) else {
        return;
    };
    let read_back = expect_params(capped, credit(DEFAULT_WEIGHT, CAP));
    if step(report, "cap.getinfo_reads_back", read_back).is_none() {
        return;
    }
    let spinners = [capped];
    if step(report, "cap.spinning", start(&mut session, &spinners)).is_none() {
        return;
    }
    let window = measure(&mut session, &spinners, &[capped, 0]);
    let Some(window) = step(report, "cap.measured", window) else {
        return;
    };
    let [c, d0] = [window.ran_ns[0], window.ran_ns[1]];
    let share = milli(c, window.len_ns);
    kprintln!(
        "cap: window {} ms (want {}): d{} (cap {}%) ran {} ms, d0 ran {} us; share {}.{}% (want {}% +-10% of it)",
        window.len_ns / MS,
        WINDOW_MS,
        capped,
        CAP,
        c / MS,
        d0 / 1000,
        share / 10,
        share % 10,
        CAP
    );
    step(
        report,
        "cap.share_25_percent",
        ensure(
            share.abs_diff(WANT_MILLI) <= TOLERANCE_MILLI,
            format_args!(
                "share {}.{}% ({} ms of {} ms), want 22.5%..27.5%",
                share / 10,
                share % 10,
                c / MS,
                window.len_ns / MS
            ),
        ),
    );
    step(report, "cap.dom0_quiet", dom0_quiet(&window, d0));
    if step(
        report,
        "cap.stopped_and_destroyed",
        stop_and_destroy(&mut session, &spinners),
    )
    .is_none()
    {
        return;
    }
    step(
        report,
        "cap.free_pages_back",
        free_pages_back(&mut session, before),
    );
}
