//! domains=weights: two spinning DomUs with credit weights 512 and 256 share the CPU 2:1 (within 10%).

use super::scenario::{domu_image, ensure, step};
use super::sched_share::{
    MS, WINDOW_MS, build_spinner, credit, dom0_quiet, expect_params, free_pages, free_pages_back,
    measure, milli, start, stop_and_destroy,
};
use super::session::Session;
use crate::console::kprintln;
use crate::selftest::report::Report;

/// The heavier spinner's weight.
const HEAVY: u16 = 512;
/// The lighter spinner's weight (Xen's default).
const LIGHT: u16 = 256;
/// The CPU-time ratio wanted, in thousandths (HEAVY / LIGHT), and the tolerance: 10% of it.
const WANT_MILLI: u64 = 2000;
const TOLERANCE_MILLI: u64 = WANT_MILLI / 10;

/// The scenario's checks, in order; each runs only if the ones before passed.
pub fn checks(report: &mut Report) {
    let Some(mut session) = step(report, "weights.session", Session::start()) else {
        return;
    };
    let Some(image) = step(report, "weights.image", domu_image()) else {
        return;
    };
    let Some(before) = step(report, "weights.free_pages_before", free_pages()) else {
        return;
    };
    let heavy = build_spinner(&mut session, image, 1, credit(HEAVY, 0));
    let Some(heavy) = step(report, "weights.build_heavy", heavy) else {
        return;
    };
    let light = build_spinner(&mut session, image, 2, credit(LIGHT, 0));
    let Some(light) = step(report, "weights.build_light", light) else {
        return;
    };
    let read_back = expect_params(heavy, credit(HEAVY, 0))
        .and_then(|()| expect_params(light, credit(LIGHT, 0)));
    if step(report, "weights.getinfo_reads_back", read_back).is_none() {
        return;
    }
    let spinners = [heavy, light];
    if step(report, "weights.spinning", start(&mut session, &spinners)).is_none() {
        return;
    }
    let window = measure(&mut session, &spinners, &[heavy, light, 0]);
    let Some(window) = step(report, "weights.measured", window) else {
        return;
    };
    let [h, l, d0] = [window.ran_ns[0], window.ran_ns[1], window.ran_ns[2]];
    let ratio = milli(h, l);
    kprintln!(
        "weights: window {} ms (want {}): d{} (weight {}) ran {} ms, d{} (weight {}) ran {} ms, d0 ran {} us; ratio {}.{:03} (want {}.{:03} +-10%)",
        window.len_ns / MS,
        WINDOW_MS,
        heavy,
        HEAVY,
        h / MS,
        light,
        LIGHT,
        l / MS,
        d0 / 1000,
        ratio / 1000,
        ratio % 1000,
        WANT_MILLI / 1000,
        WANT_MILLI % 1000
    );
    step(
        report,
        "weights.ratio_2_to_1",
        ensure(
            ratio.abs_diff(WANT_MILLI) <= TOLERANCE_MILLI,
            format_args!(
                "ratio {}.{:03} ({} ms / {} ms), want 1.8..2.2",
                ratio / 1000,
                ratio % 1000,
                h / MS,
                l / MS
            ),
        ),
    );
    step(report, "weights.dom0_quiet", dom0_quiet(&window, d0));
    if step(
        report,
        "weights.stopped_and_destroyed",
        stop_and_destroy(&mut session, &spinners),
    )
    .is_none()
    {
        return;
    }
    step(
        report,
        "weights.free_pages_back",
        free_pages_back(&mut session, before),
    );
}
