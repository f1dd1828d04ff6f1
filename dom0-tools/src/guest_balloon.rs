//! A DomU's balloon arithmetic: `memory/target` (KiB) to pages, and which frames to give back or take again.
// The balloon hands out frames from the top of pseudo-physical memory downwards and takes
// them back bottom-up, so the frames it holds are always one range [start - given, start):
// the kernel never allocates them (they lie beyond its initial mapping).

use core::ops::Range;

/// The node the toolstack writes the target to (KiB, relative to the domain's home).
pub const TARGET_NODE: &str = "memory/target";
/// The key a DomU writes "1" to, saying it balloons (as Linux's balloon driver does).
pub const FEATURE_KEY: &str = "control/feature-balloon";
/// KiB in a page.
pub const KIB_PER_PAGE: u64 = 4;
/// Longest decimal number accepted as a target.
const MAX_DIGITS: usize = 19;

/// A target value as the toolstack writes it: a decimal KiB count (nothing else, no sign,
/// at most 19 digits). `None` for anything else.
pub fn parse_kib(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > MAX_DIGITS || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// What the balloon does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BalloonStep {
    /// Give these pseudo-physical frames back (decrease_reservation), highest last.
    Give(Range<u64>),
    /// Populate these pseudo-physical frames again (populate_physmap).
    Take(Range<u64>),
    /// The target is reached.
    Done,
}

/// The balloon's state: how many of the frames it may use it has given away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balloon {
    /// Pages the domain booted with (the most it ever holds again: its maxmem).
    start_pages: u64,
    /// Pages it can never give (the kernel's initial mapping and below).
    floor_pages: u64,
    /// Pages given away: frames [start_pages - given, start_pages).
    given: u64,
}

impl Balloon {
    /// A full balloon for a domain of `start_pages` whose first `floor_pages` frames are
    /// never given (clamped to `start_pages`).
    pub fn new(start_pages: u64, floor_pages: u64) -> Self {
        Balloon {
            start_pages,
            floor_pages: floor_pages.min(start_pages),
            given: 0,
        }
    }

    /// Pages the domain holds now.
    pub fn current_pages(&self) -> u64 {
        self.start_pages - self.given
    }

    /// Pages given away.
    pub fn given_pages(&self) -> u64 {
        self.given
    }

    /// The most pages the domain holds (what it booted with).
    pub fn max_pages(&self) -> u64 {
        self.start_pages
    }

    /// Whether pseudo-physical frame `pfn` is given away (its P2M entry invalid).
    pub fn is_given(&self, pfn: u64) -> bool {
        (self.current_pages()..self.start_pages).contains(&pfn)
    }

    /// The pages a target of `target_kib` KiB asks for, clamped to what the balloon can
    /// reach: never below the floor, never above the start.
    pub fn target_pages(&self, target_kib: u64) -> u64 {
        (target_kib / KIB_PER_PAGE).clamp(self.floor_pages, self.start_pages)
    }

    /// The next step towards `target_pages` (as [`Balloon::target_pages`] returns), at
    /// most `batch` frames (at least 1).
    pub fn plan(&self, target_pages: u64, batch: u64) -> BalloonStep {
        let target = target_pages.clamp(self.floor_pages, self.start_pages);
        let current = self.current_pages();
        let batch = batch.max(1);
        if target < current {
            let n = (current - target).min(batch);
            BalloonStep::Give(current - n..current)
        } else if target > current {
            let n = (target - current).min(batch);
            BalloonStep::Take(current..current + n)
        } else {
            BalloonStep::Done
        }
    }

    /// Raises the floor to `floor_pages` (frames the kernel has since taken for its own use,
    /// its device page pools, say); a lower value changes nothing. Frames already given
    /// stay given.
    pub fn raise_floor(&mut self, floor_pages: u64) {
        self.floor_pages = self.floor_pages.max(floor_pages.min(self.start_pages));
    }

    /// Records that the `n` highest frames still held were given away (`n` clamped to the
    /// frames above the floor).
    pub fn gave(&mut self, n: u64) {
        let room = self.current_pages().saturating_sub(self.floor_pages);
        self.given += n.min(room);
    }

    /// Records that the `n` lowest given frames were populated again.
    pub fn took(&mut self, n: u64) {
        self.given -= n.min(self.given);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_decimal_kib() {
        assert_eq!(parse_kib(b"8192"), Some(8192));
        assert_eq!(parse_kib(b"0"), Some(0));
        assert_eq!(
            parse_kib(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        for bad in [
            &b""[..],
            b"-1",
            b"12k",
            b" 12",
            b"12\n",
            b"99999999999999999999",
            b"0x10",
        ] {
            assert_eq!(parse_kib(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_target_is_clamped_between_floor_and_start() {
        let b = Balloon::new(2048, 300);
        assert_eq!(b.target_pages(4096), 1024);
        assert_eq!(b.target_pages(4097), 1024, "partial pages round down");
        assert_eq!(b.target_pages(0), 300);
        assert_eq!(b.target_pages(u64::MAX), 2048);
        assert_eq!(Balloon::new(10, 50).target_pages(0), 10);
    }

    #[test]
    fn the_balloon_gives_from_the_top_and_takes_back_bottom_up() {
        let mut b = Balloon::new(2048, 300);
        assert_eq!(b.plan(2048, 256), BalloonStep::Done);
        assert_eq!(b.plan(1024, 256), BalloonStep::Give(1792..2048));
        b.gave(256);
        assert_eq!(b.current_pages(), 1792);
        assert!(b.is_given(2047) && b.is_given(1792) && !b.is_given(1791));
        assert_eq!(b.plan(1700, 256), BalloonStep::Give(1700..1792));
        b.gave(92);
        assert_eq!(b.plan(1700, 256), BalloonStep::Done);
        assert_eq!(b.plan(2048, 100), BalloonStep::Take(1700..1800));
        b.took(100);
        assert_eq!(b.plan(9999, 1000), BalloonStep::Take(1800..2048));
        b.took(248);
        assert_eq!((b.current_pages(), b.given_pages()), (2048, 0));
        assert_eq!(b.plan(5000, 1), BalloonStep::Done, "never above the start");
        // Never below the floor, whatever is asked or recorded.
        assert_eq!(b.plan(0, 10_000), BalloonStep::Give(300..2048));
        b.gave(u64::MAX);
        assert_eq!(b.current_pages(), 300);
        assert_eq!(b.plan(0, 1), BalloonStep::Done);
        b.took(u64::MAX);
        assert_eq!(b.current_pages(), 2048);
        assert_eq!(
            b.plan(2047, 0),
            BalloonStep::Give(2047..2048),
            "batch at least 1"
        );
    }

    #[test]
    fn a_raised_floor_keeps_frames_the_kernel_took() {
        let mut b = Balloon::new(4096, 1000);
        b.raise_floor(1400);
        assert_eq!(b.target_pages(0), 1400);
        assert_eq!(b.plan(0, 8192), BalloonStep::Give(1400..4096));
        b.raise_floor(900);
        assert_eq!(b.target_pages(0), 1400, "a floor never goes down");
        b.raise_floor(9999);
        assert_eq!(b.target_pages(0), 4096, "clamped to the start");
        // Frames given before the floor rose stay given; nothing more is.
        let mut c = Balloon::new(4096, 1000);
        c.gave(3000);
        c.raise_floor(2000);
        c.gave(10);
        assert_eq!(c.current_pages(), 1096);
        assert_eq!(c.plan(0, 8192), BalloonStep::Take(1096..2000));
    }
}
