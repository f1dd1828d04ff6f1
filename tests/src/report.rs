//! Failure messages: what QEMU did and the last lines of the serial console.

use xtask::qemu::Run;

/// How many lines of serial output a failure message shows.
pub const TAIL_LINES: usize = 60;

/// The failure context for `run`: exit status, timing, QEMU's stderr and the last 60 lines.
pub fn context(run: &Run) -> String {
    run.report(TAIL_LINES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shows_the_last_sixty_lines() {
        let run = Run {
            output: (1..=61).map(|i| format!("(XEN) line {i}\r\n")).collect(),
            status: None,
            timed_out: true,
            elapsed: Duration::from_secs(1),
            ..Run::default()
        };
        let text = context(&run);
        assert!(text.contains("timed out"), "{text}");
        assert!(
            text.contains("(XEN) line 2\n") && text.contains("(XEN) line 61"),
            "{text}"
        );
        assert!(!text.contains("(XEN) line 1\n"), "{text}");
    }
}
